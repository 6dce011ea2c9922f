package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const baseURL = "https://school.example"

// fixture is an organization with an enabled course of two lessons, an
// editor and an owner, a learning service with the engine attached, and a
// job queue that only records jobs: the tests work deliveries themselves.
type fixture struct {
	t        *testing.T
	db       *store.DB
	learning *learning.Service
	engine   *delivery.Engine
	editor   *store.User
	owner    *store.User
	org      int64
	course   int64
	lessons  []store.ContentItem
	finished int // runs of the OnFinish hooks
}

func ptr[T any](v T) *T { return &v }

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	return newFixtureWith(t, db, delivery.Config{})
}

// newFixtureWith is newFixture with the engine configured by cfg (its
// logger discards).
func newFixtureWith(t *testing.T, db *store.DB, cfg delivery.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	mailer, err := mail.NewService(db, mail.Config{From: "Acme <learn@school.example>", BaseURL: baseURL,
		Transport: mail.Outbox{}, TransportName: "outbox"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewJobs(&river.Config{}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f.learning = learning.NewService(db, learning.Config{Mail: mailer, BaseURL: baseURL, SecretKey: "a secret key of at least thirty-two characters"})
	f.engine = delivery.New(db, mailer, f.learning, cfg)
	f.learning.OnFinish(func(context.Context, *store.Queries, store.Enrollment) error { f.finished++; return nil })
	org, members := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "editor@example.com", Role: "editor"},
		storetest.Member{Email: "owner@example.com", Role: "owner"})
	f.org, f.editor, f.owner = org, &members[0], &members[1]
	course, err := f.learning.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Go basics")})
	if err != nil {
		t.Fatal(err)
	}
	f.course = course.ID
	for i, body := range []string{"# Hello\n\nFirst *lesson* <script>alert(1)</script>", "Second lesson"} {
		item, err := f.learning.CreateContent(ctx, f.editor, f.org, f.course, learning.ContentFields{Kind: store.KindLesson,
			Title: ptr([]string{"One", "Two"}[i]), Body: ptr(body), WaitingPeriodSeconds: ptr(i * 3600), Published: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		f.lessons = append(f.lessons, item)
	}
	if _, err := f.learning.UpdateCourse(ctx, f.editor, f.org, f.course, learning.CourseFields{Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	return f
}

// enroll enrolls an address directly, which activates the enrollment.
func (f *fixture) enroll(email string) store.Enrollment {
	f.t.Helper()
	e, err := f.learning.EnrollDirectly(context.Background(), f.editor, f.org, f.course, email)
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func (f *fixture) deliveries(e store.Enrollment) []store.Delivery {
	f.t.Helper()
	list, err := f.db.Read().EnrollmentDeliveries(context.Background(), f.org, e.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return list
}

// lessonMails returns the lesson emails recorded for an address.
func (f *fixture) lessonMails(to string) []store.MailMessage {
	f.t.Helper()
	ctx := context.Background()
	list, err := f.db.Read().ListMailMessages(ctx, 0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	var found []store.MailMessage
	for _, m := range list {
		if m.Recipient == to && m.Kind == string(mail.KindLesson) {
			full, err := f.db.Read().MailMessageByID(ctx, m.ID)
			if err != nil {
				f.t.Fatal(err)
			}
			found = append(found, full)
		}
	}
	return found
}

func (f *fixture) deliver(id int64) {
	f.t.Helper()
	if err := f.engine.Deliver(context.Background(), id); err != nil {
		f.t.Fatal(err)
	}
}

// TestListIDIsOurs: a course's emails name their list by the slugs of the
// course and its organization under the sender's domain, and carry the
// title only as an encoded description, whatever the title says.
func TestListIDIsOurs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		title := "Café <announce.paypal.com>"
		if _, err := f.learning.UpdateCourse(context.Background(), f.editor, f.org, f.course, learning.CourseFields{Title: &title}); err != nil {
			t.Fatal(err)
		}
		e := f.enroll("ada@example.com")
		f.deliver(f.deliveries(e)[0].ID)
		mails := f.lessonMails("ada@example.com")
		if len(mails) != 1 {
			t.Fatalf("%d lesson emails, want 1", len(mails))
		}
		p, err := mail.Parse(mails[0].Raw)
		if err != nil {
			t.Fatal(err)
		}
		got := p.Header.Get("List-Id")
		const id = "<go-basics.acme.school.example>"
		if strings.ContainsFunc(got, func(r rune) bool { return r < ' ' || r > '~' }) || strings.Count(got, "<") != 1 || !strings.HasSuffix(got, " "+id) {
			t.Fatalf("List-Id = %q, want ASCII ending in the one list-id %s", got, id)
		}
		if description, err := new(mime.WordDecoder).DecodeHeader(strings.TrimSuffix(got, " "+id)); err != nil || description != title {
			t.Errorf("List-Id description = %q, %v; want %q", description, err, title)
		}
	})
}

func TestLessonsGoOutInOrderOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		before := time.Now()
		e := f.enroll("Ada@Example.com")

		// Activation scheduled the first lesson, due at once.
		list := f.deliveries(e)
		if len(list) != 1 || list[0].ContentID != f.lessons[0].ID || list[0].Status != store.DeliveryScheduled || list[0].DueAt.After(time.Now()) {
			t.Fatalf("deliveries after activation: %+v", list)
		}
		first := list[0].ID
		f.deliver(first)
		f.deliver(first) // a job run twice sends once

		mails := f.lessonMails("ada@example.com")
		if len(mails) != 1 {
			t.Fatalf("%d lesson emails, want 1", len(mails))
		}
		p, err := mail.Parse(mails[0].Raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Header.Get("Subject"); got != "Go basics: One" {
			t.Errorf("subject = %q", got)
		}
		if !strings.Contains(p.HTML, "<em>lesson</em>") || strings.Contains(p.HTML, "<script>") {
			t.Errorf("lesson HTML is not rendered and sanitized:\n%s", p.HTML)
		}
		if got := p.Header.Get("Message-Id"); !strings.HasPrefix(got, "<delivery-") {
			t.Errorf("Message-ID %q is not the delivery's", got)
		}
		unsubscribe := f.learning.UnsubscribeURL(e)
		if got := p.Header.Get("List-Unsubscribe"); got != "<"+unsubscribe+">" || p.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe = %q, want <%s>", got, unsubscribe)
		}
		if !strings.Contains(p.Text, unsubscribe) {
			t.Error("the text part lacks the unsubscribe link")
		}

		// The second lesson is scheduled its waiting period after the first was sent.
		list = f.deliveries(e)
		if len(list) != 2 || list[0].Status != store.DeliverySent || list[0].MailMessageID == nil ||
			list[1].ContentID != f.lessons[1].ID || list[1].Status != store.DeliveryScheduled {
			t.Fatalf("deliveries after the first: %+v", list)
		}
		if due := list[1].DueAt.Sub(before); due < time.Hour || due > time.Hour+time.Minute {
			t.Errorf("the second lesson is due %v after enrolling, want an hour", due)
		}
		f.deliver(list[1].ID)
		if n := len(f.lessonMails("ada@example.com")); n != 2 {
			t.Errorf("%d lesson emails after the second, want 2", n)
		}
		if list = f.deliveries(e); len(list) != 2 {
			t.Errorf("after the last lesson: %+v", list)
		}
		// The last lesson sent completes the enrollment, once.
		if got, _ := db.Read().Enrollment(context.Background(), f.org, e.ID); got.Status != store.EnrollmentCompleted || got.EndedAt == nil {
			t.Errorf("after the last lesson the enrollment is %s, want completed", got.Status)
		}
		if f.finished != 1 {
			t.Errorf("the finish hooks ran %d times, want 1", f.finished)
		}
	})
}

func TestStoppedEnrollmentsGetNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)

		// Unsubscribing cancels what is scheduled, at once.
		e := f.enroll("gone@example.com")
		parts := strings.Split(strings.Trim(f.learning.UnsubscribeURL(e), "/"), "/") // .../unsubscribe/{id}/{signature}/
		if _, err := f.learning.Unsubscribe(ctx, e.ID, parts[len(parts)-1]); err != nil {
			t.Fatal(err)
		}
		list := f.deliveries(e)
		if len(list) != 1 || list[0].Status != store.DeliveryCancelled {
			t.Fatalf("deliveries after unsubscribing: %+v", list)
		}
		f.deliver(list[0].ID)
		if n := len(f.lessonMails("gone@example.com")); n != 0 {
			t.Errorf("an unsubscribed learner got %d emails", n)
		}

		// A cancelled enrollment enrolled again goes on where it stopped.
		again := f.enroll("again@example.com")
		f.deliver(f.deliveries(again)[0].ID)
		if _, err := f.learning.CancelEnrollment(ctx, f.editor, f.org, again.ID); err != nil {
			t.Fatal(err)
		}
		if list := f.deliveries(again); list[1].Status != store.DeliveryCancelled {
			t.Fatalf("after cancelling: %+v", list)
		}
		again = f.enroll("again@example.com")
		list = f.deliveries(again)
		if len(list) != 2 || list[0].Status != store.DeliverySent || list[1].Status != store.DeliveryScheduled {
			t.Fatalf("deliveries after enrolling again: %+v", list)
		}
		f.deliver(list[1].ID)
		if n := len(f.lessonMails("again@example.com")); n != 2 {
			t.Errorf("after enrolling again: %d emails, want 2 (no lesson twice)", n)
		}

		// A block, a disabled course or a cancelled enrollment stop an item already queued.
		blocked := f.enroll("blocked@example.com")
		if _, err := f.learning.BlockEmail(ctx, f.editor, f.org, "BLOCKED@example.com"); err != nil {
			t.Fatal(err)
		}
		f.deliver(f.deliveries(blocked)[0].ID)
		if n := len(f.lessonMails("blocked@example.com")); n != 0 || f.deliveries(blocked)[0].Status != store.DeliveryCancelled {
			t.Errorf("a blocked address: %d emails, delivery %s", n, f.deliveries(blocked)[0].Status)
		}
		if got, _ := db.Read().Enrollment(ctx, f.org, blocked.ID); got.Status != store.EnrollmentCancelled {
			t.Errorf("the blocked address's enrollment is %s, want cancelled", got.Status)
		}

		cancelled := f.enroll("cancelled@example.com")
		id := f.deliveries(cancelled)[0].ID
		if _, err := f.learning.CancelEnrollment(ctx, f.editor, f.org, cancelled.ID); err != nil {
			t.Fatal(err)
		}
		f.deliver(id)
		if n := len(f.lessonMails("cancelled@example.com")); n != 0 {
			t.Errorf("a cancelled enrollment got %d emails", n)
		}

		waiting := f.enroll("waiting@example.com")
		if _, err := f.learning.UpdateCourse(ctx, f.editor, f.org, f.course, learning.CourseFields{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		f.deliver(f.deliveries(waiting)[0].ID)
		if n := len(f.lessonMails("waiting@example.com")); n != 0 || f.deliveries(waiting)[0].Status != store.DeliveryCancelled {
			t.Errorf("a disabled course: %d emails", n)
		}
	})
}

// TestPassFindsDueDeliveriesWithoutJobs starts from enrollments and
// deliveries written behind the engine's back, without jobs (as a restored
// backup leaves them): the pass gives each due one a job, once, and
// DeliverDue works them without the queue.
func TestPassFindsDueDeliveriesWithoutJobs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		emails := []string{"a@example.com", "b@example.com", "later@example.com"}
		err := db.InTx(ctx, func(q *store.Queries) error {
			for i, email := range emails {
				l, err := q.SaveLearner(ctx, f.org, email)
				if err != nil {
					return err
				}
				e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.org, CourseID: f.course, LearnerID: l.ID,
					Status: store.EnrollmentActive, At: time.Now()})
				if err != nil {
					return err
				}
				due := time.Now().Add(-time.Hour)
				if i == 2 {
					due = time.Now().Add(24 * time.Hour)
				}
				if _, _, err := q.ScheduleDelivery(ctx, f.org, e.ID, f.lessons[0].ID, 1, due); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.engine.Pass(ctx)
		if err != nil || res.Due != 2 || res.Jobs != 1 {
			t.Errorf("first pass: %+v, %v; want 2 due, handed to 1 job", res, err)
		}
		if res, err := f.engine.Pass(ctx); err != nil || res != (delivery.PassResult{}) {
			t.Errorf("second pass: %+v, %v; want nothing left to hand over", res, err)
		}
		n, err := f.engine.DeliverDue(ctx, nil)
		if err != nil || n != 2 {
			t.Fatalf("DeliverDue: %d, %v; want 2", n, err)
		}
		for i, email := range emails {
			if got, want := len(f.lessonMails(email)), 1-i/2; got != want {
				t.Errorf("%s got %d lessons, want %d", email, got, want)
			}
		}
		// The second lessons are due in an hour: nothing is left now.
		if n, err := f.engine.DeliverDue(ctx, nil); err != nil || n != 0 {
			t.Errorf("DeliverDue again: %d, %v; want nothing left", n, err)
		}
	})
}

// TestItemsDueAtOnceGoTogether: items without a waiting period go out
// with the lesson before them, in one batch of emails in course order,
// up to the first item that waits.
func TestItemsDueAtOnceGoTogether(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db) // One now, Two an hour after One
		three := f.addLesson("Three", 0)
		quiz := f.addQuiz("Check")
		f.addLesson("Five", 0) // after the quiz's answer
		e := f.enroll("ada@example.com")
		f.deliver(f.deliveries(e)[0].ID)
		list := f.deliveries(e)
		if len(list) != 2 || list[1].Status != store.DeliveryScheduled {
			t.Fatalf("deliveries %+v, want lesson two waiting its hour", list)
		}

		f.deliver(list[1].ID)
		list = f.deliveries(e)
		if len(list) != 4 || list[2].ContentID != three.ID || list[3].ContentID != quiz.ID {
			t.Fatalf("deliveries %+v, want two, three and the quiz sent together", list)
		}
		var ids []int64
		for _, d := range list[1:] {
			if d.Status != store.DeliverySent || d.MailMessageID == nil {
				t.Fatalf("delivery %+v not sent", d)
			}
			ids = append(ids, *d.MailMessageID)
		}
		if !slices.IsSorted(ids) {
			t.Errorf("emails recorded as %v, want course order", ids)
		}
		// One job sends the three emails, in that order.
		jobs, err := db.UnfinishedJobArgs(ctx, mail.SendBatchArgs{}.Kind())
		if err != nil || len(jobs) != 2 {
			t.Fatalf("%d send jobs, %v; want the first lesson's and one more", len(jobs), err)
		}
		var last mail.SendBatchArgs
		if err := json.Unmarshal(jobs[1], &last); err != nil || !slices.Equal(last.MessageIDs, ids) {
			t.Errorf("the last send job sends %v (%v), want %v", last.MessageIDs, err, ids)
		}
	})
}

// TestCompletionEmailFollowsTheLastLesson: the email that a course is
// completed goes out with the last lesson, after it, in its batch; with a
// job of its own it could arrive first.
func TestCompletionEmailFollowsTheLastLesson(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		e := f.enroll("ada@example.com")
		f.deliver(f.deliveries(e)[0].ID)
		last := f.deliveries(e)[1]
		f.deliver(last.ID)
		if f.finished != 1 {
			t.Fatalf("the enrollment finished %d times, want once", f.finished)
		}
		jobs, err := db.UnfinishedJobArgs(ctx, mail.SendBatchArgs{}.Kind())
		if err != nil || len(jobs) != 2 {
			t.Fatalf("%d send batch jobs, %v; want one per lesson", len(jobs), err)
		}
		var batch mail.SendBatchArgs
		if err := json.Unmarshal(jobs[1], &batch); err != nil {
			t.Fatal(err)
		}
		lesson := *f.deliveries(e)[1].MailMessageID
		if len(batch.MessageIDs) != 2 || batch.MessageIDs[0] != lesson {
			t.Fatalf("the last batch sends %v, want the last lesson (%d) and then the completion email", batch.MessageIDs, lesson)
		}
		if m, err := db.Read().MailMessageByID(ctx, batch.MessageIDs[1]); err != nil || m.Kind != string(mail.KindCourseCompleted) {
			t.Errorf("the email after the last lesson: %+v, %v; want the completion email", m, err)
		}
		if n, err := db.UnfinishedJobs(ctx, mail.SendArgs{}.Kind()); err != nil || n != 0 {
			t.Errorf("%d emails with a job of their own, %v; want none", n, err)
		}
	})
}
