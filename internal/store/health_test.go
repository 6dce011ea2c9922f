package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestAppliedMigrationIsTheLatest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		applied, err := db.AppliedMigration(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if latest := db.LatestMigration(); applied != latest || latest < 20 {
			t.Errorf("applied migration %d, latest %d", applied, latest)
		}
		// A database behind the build shows it. The numbers may have gaps,
		// so undoing the latest may go back further than one.
		if err := db.MigrateDownTo(context.Background(), db.LatestMigration()-1); err != nil {
			t.Fatal(err)
		}
		if applied, err := db.AppliedMigration(context.Background()); err != nil || applied >= db.LatestMigration() || applied < 1 {
			t.Errorf("after undoing the latest migration: applied %d, %v", applied, err)
		}
	})
}

// JobBacklog counts the jobs ready to run per queue and the age of the
// oldest, leaving out those scheduled for later.
func TestJobBacklog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		workers := river.NewWorkers()
		river.AddWorker(workers, &noteWorker{})
		// Clients that only insert: nothing works the jobs. The first
		// inserts as if 90 seconds ago, so its job has been ready since.
		now := time.Now()
		if _, err := db.NewJobs(&river.Config{Workers: workers, TestOnly: true,
			Test: river.TestConfig{Time: pastClock{now.Add(-90 * time.Second)}}}); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(q *store.Queries) error {
			_, err := q.Enqueue(ctx, noteArgs{"waiting long"}, &river.InsertOpts{Queue: "mail"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewJobs(&river.Config{Workers: workers, TestOnly: true}); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(ctx, func(q *store.Queries) error {
			for _, opts := range []*river.InsertOpts{
				{Queue: "mail"},
				{Queue: "delivery"},
				{Queue: "delivery", ScheduledAt: now.Add(time.Hour)},
			} {
				if _, err := q.Enqueue(ctx, noteArgs{"waiting"}, opts); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		backlog, err := db.JobBacklog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byQueue := map[string]store.QueueBacklog{}
		for _, b := range backlog {
			byQueue[b.Queue] = b
		}
		if m := byQueue["mail"]; len(backlog) != 2 || m.Available != 2 || m.OldestAge < 85*time.Second || m.OldestAge > 2*time.Minute {
			t.Errorf("backlog = %+v, want 2 mail jobs, the oldest ready for 90 s", backlog)
		}
		if d := byQueue["delivery"]; d.Available != 1 || d.OldestAge > 30*time.Second {
			t.Errorf("delivery backlog = %+v, want the one job ready now", d)
		}
	})
}

// pastClock is River's clock stopped at a time.
type pastClock struct{ t time.Time }

func (c pastClock) Now() time.Time       { return c.t }
func (c pastClock) NowOrNil() *time.Time { return &c.t }
