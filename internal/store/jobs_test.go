package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

type noteArgs struct {
	Text string `json:"text"`
}

func (noteArgs) Kind() string { return "test_note" }

type noteWorker struct {
	river.WorkerDefaults[noteArgs]
	mu   sync.Mutex
	seen []string
}

func (w *noteWorker) Work(ctx context.Context, job *river.Job[noteArgs]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, job.Args.Text)
	return nil
}

func TestJobsJoinTheTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		worker := &noteWorker{}
		workers := river.NewWorkers()
		river.AddWorker(workers, worker)
		jobs, err := db.NewJobs(&river.Config{
			Workers:           workers,
			Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
			FetchCooldown:     20 * time.Millisecond,
			FetchPollInterval: 50 * time.Millisecond,
			TestOnly:          true,
		})
		if err != nil {
			t.Fatal(err)
		}
		done, stop := jobs.Subscribe(river.EventKindJobCompleted)
		defer stop()

		// A rolled-back transaction leaves no job behind.
		boom := errors.New("boom")
		err = db.InTx(ctx, func(q *store.Queries) error {
			if _, err := q.Enqueue(ctx, noteArgs{"rolled back"}, nil); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if err := db.InTx(ctx, func(q *store.Queries) error {
			_, err := q.Enqueue(ctx, noteArgs{"committed"}, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Read().Enqueue(ctx, noteArgs{"outside"}, nil); err == nil {
			t.Error("enqueue outside a transaction succeeded")
		}

		if err := jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer jobs.Stop(ctx)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the committed job never ran")
		}
		// Give a wrongly enqueued job time to show up.
		time.Sleep(200 * time.Millisecond)
		worker.mu.Lock()
		defer worker.mu.Unlock()
		if len(worker.seen) != 1 || worker.seen[0] != "committed" {
			t.Errorf("jobs run = %q, want only the committed one", worker.seen)
		}
	})
}
