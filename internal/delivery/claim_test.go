package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
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

// TestEndingAnEnrollmentWhileItsDeliveryIsWorked ends an enrollment (as
// unsubscribing does: the enrollment locked, then its deliveries
// cancelled) while a job works its delivery. The job waits for the
// enrollment and then sends nothing; before, on PostgreSQL, it locked the
// delivery first, and the two deadlocked.
func TestEndingAnEnrollmentWhileItsDeliveryIsWorked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		e := f.enroll("ada@example.com")
		d := f.deliveries(e)[0]

		locked, ended := make(chan struct{}), make(chan error, 1)
		go func() {
			ended <- db.InTx(ctx, func(q *store.Queries) error {
				if _, err := q.LockEnrollment(ctx, f.org, e.ID); err != nil {
					return err
				}
				close(locked)
				time.Sleep(300 * time.Millisecond) // the job starts meanwhile
				if _, err := q.CancelEnrollmentDeliveries(ctx, f.org, e.ID); err != nil {
					return err
				}
				_, err := q.EndEnrollment(ctx, f.org, e.ID, store.EnrollmentUnsubscribed, time.Now())
				return err
			})
		}()
		<-locked
		if err := f.engine.Deliver(ctx, d.ID); err != nil {
			t.Errorf("the job: %v", err)
		}
		if err := <-ended; err != nil {
			t.Errorf("ending the enrollment: %v", err)
		}
		if n := len(f.lessonMails("ada@example.com")); n != 0 {
			t.Errorf("%d lesson emails to an enrollment ended first, want none", n)
		}
		if list := f.deliveries(e); len(list) != 1 || list[0].Status != store.DeliveryCancelled {
			t.Errorf("deliveries %+v, want the first lesson cancelled", list)
		}
	})
}

// TestStaleJobsLeaveADeliveryScheduledAgain: a delivery handed to a job,
// cancelled, and scheduled again for later (its learner enrolled again)
// is not sent by the old job, whether the pass's or its own, but by a job
// for its new time.
func TestStaleJobsLeaveADeliveryScheduledAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		e := f.restoreDue("ada@example.com")
		first := f.deliveries(e)[0]
		if res, err := f.engine.Pass(ctx); err != nil || res.Due != 1 {
			t.Fatalf("pass: %+v, %v; want the lesson handed to a job", res, err)
		}
		encoded, err := db.UnfinishedJobArgs(ctx, delivery.DeliverArgs{}.Kind())
		if err != nil || len(encoded) != 1 {
			t.Fatalf("%d delivery jobs, %v; want the pass's", len(encoded), err)
		}
		var passJob delivery.DeliverArgs
		if err := json.Unmarshal(encoded[0], &passJob); err != nil {
			t.Fatal(err)
		}

		later := time.Now().Add(7 * 24 * time.Hour)
		err = db.InTx(ctx, func(q *store.Queries) error {
			if _, err := q.CancelEnrollmentDeliveries(ctx, f.org, e.ID); err != nil {
				return err
			}
			_, scheduled, err := q.ScheduleDelivery(ctx, f.org, e.ID, f.lessons[0].ID, 1, later)
			if err == nil && !scheduled {
				t.Error("the cancelled delivery was not scheduled again")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, stale := range []delivery.DeliverArgs{passJob, {DeliveryIDs: []int64{first.ID}, DueAt: first.DueAt.UnixMicro()}} {
			if err := f.engine.WorkJob(ctx, stale); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(f.lessonMails("ada@example.com")); n != 0 {
			t.Fatalf("%d lesson emails from stale jobs, want none", n)
		}
		d := f.deliveries(e)[0]
		if d.Status != store.DeliveryScheduled {
			t.Fatalf("delivery %+v, want it still scheduled", d)
		}
		if err := f.engine.WorkJob(ctx, delivery.DeliverArgs{DeliveryIDs: []int64{d.ID}, DueAt: d.DueAt.UnixMicro()}); err != nil {
			t.Fatal(err)
		}
		if n := len(f.lessonMails("ada@example.com")); n != 1 {
			t.Errorf("%d lesson emails from the job for its new time, want 1", n)
		}
	})
}

// TestDeletingAnItemWhileItsDeliveriesAreWorked deletes a lesson while a
// job holds the delivery of it to one learner and is about to schedule it
// for another. The delete waits for the job; before, on PostgreSQL, it
// held the lesson's row while waiting, the job's schedule needed that
// row, and the two deadlocked.
func TestDeletingAnItemWhileItsDeliveriesAreWorked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db) // One now, Two an hour after One
		bob := f.enroll("bob@example.com")
		f.deliver(f.deliveries(bob)[0].ID) // Bob's Two is scheduled
		ada := f.enroll("ada@example.com")
		two := f.lessons[1]

		locked, deleted := make(chan struct{}), make(chan error, 1)
		err := db.InTx(ctx, func(q *store.Queries) error {
			// What a job working Bob's Two and Ada's One holds.
			if _, err := q.LockDeliveriesForSending(ctx, []int64{f.deliveries(bob)[1].ID, f.deliveries(ada)[0].ID}); err != nil {
				return err
			}
			close(locked)
			go func() { deleted <- f.learning.DeleteContent(ctx, f.editor, f.org, f.course, two.ID) }()
			time.Sleep(300 * time.Millisecond) // the delete starts meanwhile
			// Ada's One sent: her Two is scheduled.
			_, _, err := q.ScheduleDelivery(ctx, f.org, ada.ID, two.ID, 1, time.Now().Add(time.Hour))
			return err
		})
		<-locked
		if err != nil {
			t.Errorf("the job: %v", err)
		}
		if err := <-deleted; err != nil {
			t.Errorf("the delete: %v", err)
		}
		for _, e := range []store.Enrollment{ada, bob} {
			for _, d := range f.deliveries(e) {
				if d.ContentID == two.ID {
					t.Errorf("a delivery of the deleted lesson is left: %+v", d)
				}
			}
		}
	})
}

// TestPassesAtOnceHandEachDeliveryOverOnce runs two passes at the same
// time (one slower than the interval, and the next): together they hand
// every due delivery to exactly one job.
func TestPassesAtOnceHandEachDeliveryOverOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		const due = 120
		for i := range due {
			f.restoreDue(fmt.Sprintf("learner%d@example.com", i))
		}
		results := make(chan delivery.PassResult, 2)
		for range 2 {
			go func() {
				res, err := f.engine.Pass(ctx)
				if err != nil {
					t.Error(err)
				}
				results <- res
			}()
		}
		if total := (<-results).Due + (<-results).Due; total != due {
			t.Errorf("the passes handed over %d deliveries, want %d", total, due)
		}
		encoded, err := db.UnfinishedJobArgs(ctx, delivery.DeliverArgs{}.Kind())
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, raw := range encoded {
			var args delivery.DeliverArgs
			if err := json.Unmarshal(raw, &args); err != nil {
				t.Fatal(err)
			}
			for _, id := range args.DeliveryIDs {
				if seen[id] {
					t.Errorf("delivery %d handed to two jobs", id)
				}
				seen[id] = true
			}
		}
		if len(seen) != due {
			t.Errorf("%d deliveries in jobs, want %d", len(seen), due)
		}
	})
}

// TestAQuizSendingIsNotSentYet: a quiz delivery handed to a job but not
// worked yet counts as never sent: scheduling the quiz again (the
// learner enrolled again) takes the same attempt, rather than make a
// second delivery and a second email.
func TestAQuizSendingIsNotSentYet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		quiz := f.addQuiz("Check")
		e := f.restoreDue("ada@example.com")
		err := db.InTx(ctx, func(q *store.Queries) error {
			id, _, err := q.ScheduleDelivery(ctx, f.org, e.ID, quiz.ID, 1, time.Now().Add(-time.Minute))
			if err != nil {
				return err
			}
			if claimed, err := q.ClaimDeliveries(ctx, []int64{id}); err != nil || len(claimed) != 1 {
				return fmt.Errorf("claim the quiz's delivery: %v, %w", claimed, err)
			}
			attempt, err := learning.NextAttempt(ctx, q, f.org, e.ID, quiz)
			if err == nil && attempt != 1 {
				t.Errorf("next attempt %d, want 1: the quiz was never sent", attempt)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestOneBadDeliveryHoldsUpNoneOfItsBatch: when one delivery of a batch
// cannot be worked, the batch's transaction fails and each delivery is
// worked alone: the others go out, the bad one stays to be worked again.
func TestOneBadDeliveryHoldsUpNoneOfItsBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		good := f.restoreDue("good@example.com")
		// The bad delivery is of the last lesson, and completing the
		// course fails for its learner.
		bad := f.restoreDueItem("bad@example.com", f.lessons[len(f.lessons)-1])
		f.learning.OnFinish(func(_ context.Context, _ *store.Queries, e store.Enrollment) error {
			if e.ID == bad.ID {
				return errors.New("completion refused")
			}
			return nil
		})
		goodID, badID := f.deliveries(good)[0].ID, f.deliveries(bad)[0].ID
		if err := f.engine.DeliverBatch(ctx, []int64{goodID, badID}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("deliver %d", badID)) {
			t.Errorf("DeliverBatch: %v; want the bad delivery's error", err)
		}
		if n := len(f.lessonMails("good@example.com")); n != 1 {
			t.Errorf("%d lesson emails to the good address, want 1", n)
		}
		if d := f.deliveries(bad)[0]; d.Status != store.DeliveryScheduled {
			t.Errorf("the bad delivery: %+v, want still scheduled", d)
		}
	})
}

// TestOldEmailsTakeNoMessageIDOfNewOnes: emails outlive the rows they were
// about (a deleted course keeps its sent emails), so a new delivery or
// certificate may have the id of an old one; its email must still be
// recorded, and the learner go on to complete the course.
func TestOldEmailsTakeNoMessageIDOfNewOnes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		e := f.restoreDueItem("ada@example.com", f.lessons[len(f.lessons)-1])
		id := f.deliveries(e)[0].ID
		// What a deleted course's emails, kept, would hold.
		err := db.InTx(ctx, func(q *store.Queries) error {
			for _, key := range []string{fmt.Sprintf("delivery-%d", id), "certificate-1", "certificate-2"} {
				_, err := q.CreateMailMessage(ctx, store.NewMailMessage{Kind: "lesson", Sender: "learn@school.example",
					Recipient: "someone@example.com", Subject: "old", MessageID: key + "@school.example", Raw: []byte("x")})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.engine.Deliver(ctx, id); err != nil {
			t.Fatalf("deliver: %v", err)
		}
		if n := len(f.lessonMails("ada@example.com")); n != 1 {
			t.Errorf("%d lesson emails, want 1", n)
		}
		got, err := db.Read().Enrollment(ctx, f.org, e.ID)
		if err != nil || got.Status != store.EnrollmentCompleted {
			t.Errorf("enrollment after its last lesson: %+v, %v; want completed", got, err)
		}
		if _, err := db.Read().CertificateOfEnrollment(ctx, f.org, e.ID); err != nil {
			t.Errorf("certificate: %v", err)
		}
	})
}
