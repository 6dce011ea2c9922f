package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestSuspensionHoldsDeliveries: while its organization is suspended,
// nothing is emailed for it, whether a delivery was handed to a pass's job
// before, had a job of its own, or was scheduled during the suspension;
// once it is resumed the next pass sends what was held, late.
func TestSuspensionHoldsDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		organizations := orgs.NewService(db, orgs.Config{})
		var root store.User
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			root, err = q.CreateUser(ctx, store.NewUser{Email: "root@example.com", IsPlatformAdmin: true})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		pass := func(want delivery.PassResult) {
			t.Helper()
			if res, err := f.engine.Pass(ctx); err != nil || res != want {
				t.Fatalf("pass: %+v, %v; want %+v", res, err, want)
			}
		}

		ada := f.restoreDue("ada@example.com") // due, handed to a pass's job below
		pass(delivery.PassResult{Due: 1, Jobs: 1})
		bob := f.enroll("bob@example.com")     // due now, with a job of its own
		carol := f.enroll("carol@example.com") // cancelled while held
		bobJob := delivery.DeliverArgs{DeliveryIDs: []int64{f.deliveries(bob)[0].ID}, DueAt: f.deliveries(bob)[0].DueAt.UnixMicro()}

		if _, err := organizations.Suspend(ctx, &root, f.org, ""); err != nil {
			t.Fatal(err)
		}
		for _, e := range []store.Enrollment{ada, bob, carol} {
			if list := f.deliveries(e); len(list) != 1 || list[0].Status != store.DeliveryHeld {
				t.Fatalf("deliveries of %d after the suspension: %+v, want the first lesson held", e.ID, list)
			}
		}
		// The jobs handed the deliveries before the suspension find them
		// held; a pass finds nothing due.
		if err := f.engine.WorkJob(ctx, delivery.DeliverArgs{DeliveryIDs: []int64{f.deliveries(ada)[0].ID}}); err != nil {
			t.Fatal(err)
		}
		if err := f.engine.WorkJob(ctx, bobJob); err != nil {
			t.Fatal(err)
		}
		f.deliver(f.deliveries(ada)[0].ID)
		pass(delivery.PassResult{})
		// A platform admin may still enroll someone: the job holds the
		// delivery, since the organization is suspended when it runs.
		dan, err := f.learning.EnrollDirectly(ctx, &root, f.org, f.course, "dan@example.com")
		if err != nil {
			t.Fatal(err)
		}
		f.deliver(f.deliveries(dan)[0].ID)
		if _, err := f.learning.CancelEnrollment(ctx, &root, f.org, carol.ID); err != nil {
			t.Fatal(err)
		}
		for _, to := range []string{"ada@example.com", "bob@example.com", "carol@example.com", "dan@example.com"} {
			if n := len(f.lessonMails(to)); n != 0 {
				t.Errorf("%d lesson emails to %s while suspended, want none", n, to)
			}
		}
		for _, e := range []store.Enrollment{ada, bob, dan} {
			if list := f.deliveries(e); len(list) != 1 || list[0].Status != store.DeliveryHeld {
				t.Errorf("deliveries of %d while suspended: %+v, want the first lesson held", e.ID, list)
			}
		}
		if list := f.deliveries(carol); len(list) != 1 || list[0].Status != store.DeliveryCancelled {
			t.Errorf("deliveries of a cancelled enrollment: %+v, want cancelled", list)
		}

		if _, err := organizations.Resume(ctx, &root, f.org); err != nil {
			t.Fatal(err)
		}
		pass(delivery.PassResult{Due: 3, Jobs: 1})
		for _, e := range []store.Enrollment{ada, bob, dan} {
			f.deliver(f.deliveries(e)[0].ID)
		}
		for _, to := range []string{"ada@example.com", "bob@example.com", "dan@example.com"} {
			if n := len(f.lessonMails(to)); n != 1 {
				t.Errorf("%d lesson emails to %s after the resumption, want 1", n, to)
			}
		}
		if n := len(f.lessonMails("carol@example.com")); n != 0 {
			t.Errorf("%d lesson emails to a cancelled enrollment, want none", n)
		}
		// What follows is scheduled as usual.
		if list := f.deliveries(ada); len(list) != 2 || list[1].Status != store.DeliveryScheduled {
			t.Errorf("deliveries of %d after its lesson: %+v, want the second scheduled", ada.ID, list)
		}
	})
}

// TestSuspendingWhileADeliveryIsWorked suspends an organization while a
// job holds one of its deliveries and then records what follows (whose
// foreign key shares the organization's row on PostgreSQL). Both finish:
// when the suspension first locked the organization's row, each waited
// for the other and PostgreSQL aborted one.
func TestSuspendingWhileADeliveryIsWorked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		organizations := orgs.NewService(db, orgs.Config{})
		var root store.User
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			root, err = q.CreateUser(ctx, store.NewUser{Email: "root@example.com", IsPlatformAdmin: true})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		e := f.enroll("ada@example.com")
		d := f.deliveries(e)[0]

		locked, worked := make(chan struct{}), make(chan error, 1)
		go func() {
			worked <- db.InTx(ctx, func(q *store.Queries) error {
				if _, err := q.LockDeliveriesForSending(ctx, []int64{d.ID}); err != nil {
					return err
				}
				close(locked)
				time.Sleep(300 * time.Millisecond) // the suspension starts meanwhile
				_, _, err := q.ScheduleDelivery(ctx, f.org, e.ID, f.lessons[1].ID, 1, time.Now().Add(time.Hour))
				return err
			})
		}()
		<-locked
		if _, err := organizations.Suspend(ctx, &root, f.org, ""); err != nil {
			t.Errorf("suspend: %v", err)
		}
		if err := <-worked; err != nil {
			t.Errorf("the job: %v", err)
		}
		// The delivery the job scheduled may have come after the
		// suspension's update (on PostgreSQL it did not see it): its job
		// holds it.
		for _, d := range f.deliveries(e) {
			f.deliver(d.ID)
		}
		for _, d := range f.deliveries(e) {
			if d.Status != store.DeliveryHeld {
				t.Errorf("delivery %d is %s after the suspension, want held", d.ID, d.Status)
			}
		}
		if n := len(f.lessonMails("ada@example.com")); n != 0 {
			t.Errorf("%d lesson emails while suspended, want none", n)
		}
	})
}
