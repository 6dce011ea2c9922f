package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

type waitingArgs struct{}

func (waitingArgs) Kind() string { return "bench_waiting" }

type waitingWorker struct {
	river.WorkerDefaults[waitingArgs]
}

func (waitingWorker) Work(context.Context, *river.Job[waitingArgs]) error { return nil }

// BenchmarkScrape serves /metrics from a database whose mail queue holds
// 10,000 jobs ready to run: "backlog read" reads the backlog and the
// deliveries due for every scrape (as once a second at most), "cached"
// serves them from the last second's reading (as a flood of scrapes is).
func BenchmarkScrape(b *testing.B) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.New(b, dialect)
			workers := river.NewWorkers()
			river.AddWorker(workers, waitingWorker{})
			if _, err := db.NewJobs(&river.Config{Workers: workers, TestOnly: true}); err != nil {
				b.Fatal(err)
			}
			jobs := make([]river.InsertManyParams, 10_000)
			for i := range jobs {
				jobs[i] = river.InsertManyParams{Args: waitingArgs{}, InsertOpts: &river.InsertOpts{Queue: "mail"}}
			}
			if err := db.InTx(ctx, func(q *store.Queries) error {
				_, err := q.EnqueueMany(ctx, jobs)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			m, err := New(Options{DB: db, Queues: []string{"mail", "delivery"}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			backlog := m.backlog
			handler := m.Handler()
			scrape := func(b *testing.B) {
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("scrape: %d", rec.Code)
				}
				io.Copy(io.Discard, rec.Body)
			}
			b.Run("backlog read", func(b *testing.B) {
				for b.Loop() {
					backlog.mu.Lock()
					backlog.readAt = time.Time{}
					backlog.mu.Unlock()
					scrape(b)
				}
			})
			b.Run("cached", func(b *testing.B) {
				for b.Loop() {
					scrape(b)
				}
			})
		})
	}
}
