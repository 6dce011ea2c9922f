package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestPeriodicPassEnqueuesDueDeliveries runs River as serve configures
// it, with the periodic pass every 100 ms, and then writes a due delivery
// without a job (as a restored backup leaves one): a later pass finds it
// and its lesson goes out.
func TestPeriodicPassEnqueuesDueDeliveries(t *testing.T) {
	t.Parallel() // mostly waits for River's scheduler
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixtureWith(t, db, delivery.Config{PassInterval: 100 * time.Millisecond})
		mailer, err := mail.NewService(db, mail.Config{From: schoolFrom, BaseURL: baseURL, Transport: mail.Outbox{}, TransportName: "outbox", Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		workers := river.NewWorkers()
		mailer.AddWorkers(workers)
		f.engine.AddWorkers(workers)
		jobs, err := db.NewJobs(&river.Config{
			Workers:           workers,
			Queues:            map[string]river.QueueConfig{delivery.Queue: delivery.QueueConfig, mail.Queue: mail.QueueConfig},
			PeriodicJobs:      f.engine.PeriodicJobs(),
			FetchCooldown:     10 * time.Millisecond,
			FetchPollInterval: 50 * time.Millisecond,
			Logger:            quiet,
			TestOnly:          true,
		})
		if err != nil {
			t.Fatal(err)
		}
		events, stopEvents := jobs.Subscribe(river.EventKindJobCompleted)
		defer stopEvents()
		if err := jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			jobs.Stop(stopCtx)
		}()
		// The pass run at start finds nothing.
		for timeout := time.After(10 * time.Second); ; {
			select {
			case ev := <-events:
				if ev.Job.Kind != (delivery.PassArgs{}).Kind() {
					continue
				}
			case <-timeout:
				t.Fatal("no delivery pass ran within 10s")
			}
			break
		}

		var id int64
		err = db.InTx(ctx, func(q *store.Queries) error {
			l, err := q.SaveLearner(ctx, f.org, "restored@example.com")
			if err != nil {
				return err
			}
			e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.org, CourseID: f.course, LearnerID: l.ID,
				Status: store.EnrollmentActive, At: time.Now()})
			if err != nil {
				return err
			}
			id, _, err = q.ScheduleDelivery(ctx, f.org, e.ID, f.lessons[0].ID, 1, time.Now().Add(-time.Hour))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Only a pass inserts delivery jobs here: the enrollment was
		// written behind the engine's back.
		storetest.Eventually(t, 5*time.Second, "a periodic pass to enqueue the restored delivery", func() bool {
			n, err := db.UnfinishedJobs(ctx, (delivery.DeliverArgs{}).Kind())
			return err == nil && n == 1
		})
		// The job is due already; River's scheduler makes it available
		// within its 5-second round, and it sends the lesson.
		storetest.Eventually(t, 15*time.Second, "the restored delivery sent", func() bool {
			d, err := db.Read().DeliveryForSending(ctx, id)
			return err == nil && d.Status == store.DeliverySent
		})
		if n := len(f.lessonMails("restored@example.com")); n != 1 {
			t.Errorf("%d lesson emails, want 1", n)
		}
	})
}
