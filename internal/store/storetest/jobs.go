package storetest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
)

// StartJobs creates db's job queue with workers, working the given queues
// with short poll intervals, and stops it when the test ends.
func StartJobs(t testing.TB, db *store.DB, workers *river.Workers, queues ...string) *store.Jobs {
	t.Helper()
	config := &river.Config{
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{},
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		TestOnly:          true,
	}
	for _, q := range queues {
		config.Queues[q] = river.QueueConfig{MaxWorkers: 4}
	}
	jobs, err := db.NewJobs(config)
	if err != nil {
		t.Fatalf("job queue: %v", err)
	}
	if err := jobs.Start(context.Background()); err != nil {
		t.Fatalf("start job queue: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		jobs.Stop(ctx)
	})
	return jobs
}

// Eventually polls cond until it holds, failing the test after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}
