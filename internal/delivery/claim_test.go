package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestPassHandsEachDeliveryOverOnce: a pass marks what it hands to a job
// as sending, and later passes leave it to that job, until it has been
// sending for delivery.StuckAfter: then its job counts as lost, and the
// delivery gets one job more, only one however often passes run.
func TestPassHandsEachDeliveryOverOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		e := f.restoreDue("ada@example.com") // no job of its own
		pass := func(want delivery.PassResult) {
			t.Helper()
			if res, err := f.engine.Pass(ctx); err != nil || res != want {
				t.Fatalf("pass: %+v, %v; want %+v", res, err, want)
			}
		}
		pass(delivery.PassResult{Due: 1, Jobs: 1})
		if list := f.deliveries(e); len(list) != 1 || list[0].Status != store.DeliverySending {
			t.Fatalf("deliveries %+v, want the first lesson sending", list)
		}
		pass(delivery.PassResult{})
		f.wantDeliveryJobs(1, 1)

		f.engine.SetClock(func() time.Time { return time.Now().Add(delivery.StuckAfter + time.Minute) })
		pass(delivery.PassResult{Stuck: 1, Jobs: 1})
		pass(delivery.PassResult{})
		f.wantDeliveryJobs(2, 2)

		// Whichever job comes first sends the lesson; the other finds it sent.
		for range 2 {
			f.deliver(f.deliveries(e)[0].ID)
		}
		if n := len(f.lessonMails("ada@example.com")); n != 1 {
			t.Errorf("%d lesson emails, want 1", n)
		}
	})
}

// TestCancellingStopsDeliveriesHandedToAJob: cancelling an enrollment
// cancels its delivery already handed to a job, and the job sends nothing.
func TestCancellingStopsDeliveriesHandedToAJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		e := f.enroll("ada@example.com")
		if res, err := f.engine.Pass(ctx); err != nil || res.Due != 1 {
			t.Fatalf("pass: %+v, %v; want the first lesson handed to a job", res, err)
		}
		if _, err := f.learning.CancelEnrollment(ctx, f.editor, f.org, e.ID); err != nil {
			t.Fatal(err)
		}
		list := f.deliveries(e)
		if len(list) != 1 || list[0].Status != store.DeliveryCancelled {
			t.Fatalf("deliveries %+v, want the first lesson cancelled", list)
		}
		f.deliver(list[0].ID)
		if n := len(f.lessonMails("ada@example.com")); n != 0 {
			t.Errorf("%d lesson emails after cancelling, want none", n)
		}
	})
}
