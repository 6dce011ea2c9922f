package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestDueJobsAreReadyAtOnce: a job for a delivery that is due goes in
// ready to run, whether the pass or scheduling inserts it. River inserts a
// job given a time to run at as scheduled, whatever the time, and makes
// such jobs available only every few seconds: the deliveries of a pass
// waited for that, and so did a new learner's first lesson.
func TestDueJobsAreReadyAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		e := f.enroll("first@example.com")
		err := db.InTx(ctx, func(q *store.Queries) error {
			l, err := q.SaveLearner(ctx, f.org, "restored@example.com")
			if err != nil {
				return err
			}
			e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.org, CourseID: f.course, LearnerID: l.ID,
				Status: store.EnrollmentActive, At: time.Now()})
			if err != nil {
				return err
			}
			_, _, err = q.ScheduleDelivery(ctx, f.org, e.ID, f.lessons[0].ID, 1, time.Now().Add(-time.Hour))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := f.engine.Pass(ctx); err != nil || res.Due != 2 || res.Enqueued != 1 {
			t.Fatalf("pass: %+v, %v; want 2 due, 1 new job", res, err)
		}
		if n, err := db.RunnableJobs(ctx, delivery.DeliverArgs{}.Kind()); err != nil || n != 2 {
			t.Errorf("%d delivery jobs ready to run, %v; want 2", n, err)
		}

		// The second lesson, an hour after the first, waits as scheduled.
		f.deliver(f.deliveries(e)[0].ID)
		if n, err := db.UnfinishedJobs(ctx, delivery.DeliverArgs{}.Kind()); err != nil || n != 3 {
			t.Errorf("%d delivery jobs in all, %v; want 3", n, err)
		}
		if n, err := db.RunnableJobs(ctx, delivery.DeliverArgs{}.Kind()); err != nil || n != 2 {
			t.Errorf("%d delivery jobs ready to run after the first lesson, %v; want still 2", n, err)
		}
	})
}
