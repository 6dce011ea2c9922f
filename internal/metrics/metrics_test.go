package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// The backlog is read at most once a second: scrapes within the second
// get the same figures, without a query; the next second reads again.
func TestBacklogReadOnceASecond(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewSQLite(t)
	workers := river.NewWorkers()
	river.AddWorker(workers, waitingWorker{})
	if _, err := db.NewJobs(&river.Config{Workers: workers, TestOnly: true}); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{DB: db, Queues: []string{"mail"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	waiting := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		for line := range strings.SplitSeq(rec.Body.String(), "\n") {
			if strings.HasPrefix(line, `mailschool_jobs_available{queue="mail"}`) {
				return line
			}
		}
		t.Fatalf("no mail queue backlog in:\n%s", rec.Body)
		return ""
	}
	if got := waiting(); !strings.HasSuffix(got, " 0") {
		t.Fatalf("empty queue: %s", got)
	}
	if err := db.InTx(ctx, func(q *store.Queries) error {
		_, err := q.Enqueue(ctx, waitingArgs{}, &river.InsertOpts{Queue: "mail"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := waiting(); !strings.HasSuffix(got, " 0") {
		t.Errorf("within the second, the backlog was read again: %s", got)
	}
	time.Sleep(backlogCacheTime)
	if got := waiting(); !strings.HasSuffix(got, " 1") {
		t.Errorf("a second later: %s", got)
	}
}
