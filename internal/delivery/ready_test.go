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
// waited for that, and so did a new learner's first lesson. A delivery
// due later than the next pass gets no job: the pass finds it.
func TestDueJobsAreReadyAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		e := f.enroll("first@example.com")
		f.restoreDue("restored@example.com")
		if res, err := f.engine.Pass(ctx); err != nil || res.Due != 2 || res.Jobs != 1 {
			t.Fatalf("pass: %+v, %v; want 2 due, handed to 1 job", res, err)
		}
		f.wantDeliveryJobs(2, 2) // the first lesson's own, the pass's

		// The second lesson, an hour after the first, waits for a pass.
		f.deliver(f.deliveries(e)[0].ID)
		f.wantDeliveryJobs(2, 2)
	})
}

// TestDeliveriesDueBeforeThePassGetAJob: with passes two hours apart, the
// second lesson, due an hour after the first, gets a job at its time.
func TestDeliveriesDueBeforeThePassGetAJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixtureWith(t, db, delivery.Config{PassInterval: 2 * time.Hour})
		e := f.enroll("first@example.com")
		f.wantDeliveryJobs(1, 1)
		f.deliver(f.deliveries(e)[0].ID)
		f.wantDeliveryJobs(2, 1)
		if list := f.deliveries(e); len(list) != 2 || list[1].Status != store.DeliveryScheduled {
			t.Fatalf("deliveries %+v, want the second lesson scheduled", list)
		}
	})
}

// restoreDue writes an active enrollment whose first lesson was due an
// hour ago, without a job, as a restored backup leaves one.
func (f *fixture) restoreDue(email string) store.Enrollment {
	f.t.Helper()
	return f.restoreDueItem(email, f.lessons[0])
}

// restoreDueItem is restoreDue with the delivery of another item.
func (f *fixture) restoreDueItem(email string, item store.ContentItem) store.Enrollment {
	f.t.Helper()
	ctx := context.Background()
	var e store.Enrollment
	err := f.db.InTx(ctx, func(q *store.Queries) error {
		l, err := q.SaveLearner(ctx, f.org, email)
		if err != nil {
			return err
		}
		if e, _, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.org, CourseID: f.course, LearnerID: l.ID,
			Status: store.EnrollmentActive, At: time.Now()}); err != nil {
			return err
		}
		_, _, err = q.ScheduleDelivery(ctx, f.org, e.ID, item.ID, 1, time.Now().Add(-time.Hour))
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

// wantDeliveryJobs checks how many delivery jobs wait, and how many of
// them are ready to run.
func (f *fixture) wantDeliveryJobs(waiting, ready int) {
	f.t.Helper()
	ctx := context.Background()
	kind := delivery.DeliverArgs{}.Kind()
	if n, err := f.db.UnfinishedJobs(ctx, kind); err != nil || n != waiting {
		f.t.Errorf("%d delivery jobs waiting, %v; want %d", n, err, waiting)
	}
	if n, err := f.db.RunnableJobs(ctx, kind); err != nil || n != ready {
		f.t.Errorf("%d delivery jobs ready to run, %v; want %d", n, err, ready)
	}
}
