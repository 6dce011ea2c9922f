package store_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// lockedBuffer is a bytes.Buffer that River's goroutines and the test may
// use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The job queue's producers report their job counts every few seconds
// while jobs run; those lines are Debug, so an Info log stays readable.
func TestProducerJobCountsAreDebug(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's 5-second report")
	}
	ctx := context.Background()
	db := storetest.NewSQLite(t)
	var logs lockedBuffer
	workers := river.NewWorkers()
	river.AddWorker(workers, &noteWorker{})
	jobs, err := db.NewJobs(&river.Config{
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(q *store.Queries) error {
		_, err := q.Enqueue(ctx, noteArgs{"counted"}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer jobs.Stop(ctx)
	storetest.Eventually(t, 15*time.Second, "the producer's job counts", func() bool {
		return strings.Contains(logs.String(), "Producer job counts")
	})
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "Producer job counts") && !strings.Contains(line, "level=DEBUG") {
			t.Errorf("not at Debug level: %s", line)
		}
	}
}
