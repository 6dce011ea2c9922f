package learning_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/mailtest"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

const baseURL = "https://school.example"

// enrollFixture is an organization with a public course, a disabled one, an
// editor and a viewer, another organization with its admin, and a service
// that records its email without sending it.
type enrollFixture struct {
	t                *testing.T
	db               *store.DB
	s                *learning.Service
	clock            *clock
	root             *store.User // platform admin
	editor, viewer   *store.User
	otherAdmin       *store.User
	org, other       int64
	course, draft    int64 // public and enabled; disabled
	otherCourse      int64 // of the other organization
	courseSlug       string
	otherCourseSlug  string
	organizationName string
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newEnrollFixture(t *testing.T, db *store.DB) *enrollFixture {
	t.Helper()
	ctx := context.Background()
	mailer, err := mail.NewService(db, mail.Config{From: "mailschool <noreply@school.example>", BaseURL: baseURL,
		Transport: mail.Outbox{}, TransportName: "outbox"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewJobs(&river.Config{}); err != nil { // insert-only: the emails stay queued
		t.Fatal(err)
	}
	f := &enrollFixture{t: t, db: db, clock: &clock{t: time.Now()}, courseSlug: "go-basics", otherCourseSlug: "go-basics",
		organizationName: "Acme Academy",
		s:                learning.NewService(db, learning.Config{Mail: mailer, BaseURL: baseURL, SecretKey: "a secret key for the tests"})}
	f.s.SetClock(f.clock.now)
	err = db.InTx(ctx, func(q *store.Queries) error {
		users := map[string]**store.User{"root@example.com": &f.root, "editor@example.com": &f.editor,
			"viewer@example.com": &f.viewer, "other@example.com": &f.otherAdmin}
		for email, dst := range users {
			u, err := q.CreateUser(ctx, store.NewUser{Email: email, IsPlatformAdmin: email == "root@example.com"})
			if err != nil {
				return err
			}
			*dst = &u
		}
		org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: f.organizationName, NameKey: "acme academy", NameSkeleton: names.Key(f.organizationName), Slug: "acme"})
		if err != nil {
			return err
		}
		other, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "Other", NameKey: "other", NameSkeleton: names.Key("Other"), Slug: "other"})
		if err != nil {
			return err
		}
		f.org, f.other = org.ID, other.ID
		for _, m := range []struct {
			org  int64
			user *store.User
			role access.Role
		}{{f.org, f.editor, access.Editor}, {f.org, f.viewer, access.Viewer}, {f.other, f.otherAdmin, access.Admin}} {
			if err := q.AddMembership(ctx, m.org, m.user.ID, string(m.role)); err != nil {
				return err
			}
		}
		if f.course, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.org, Title: "Go basics", TitleKey: "go basics", TitleSkeleton: names.Key("Go basics"),
			Slug: f.courseSlug, Enabled: true, Public: true}); err != nil {
			return err
		}
		if f.draft, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.org, Title: "Draft", TitleKey: "draft", TitleSkeleton: names.Key("Draft"),
			Slug: "draft", Public: true}); err != nil {
			return err
		}
		f.otherCourse, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.other, Title: "Go basics", TitleKey: "go basics", TitleSkeleton: names.Key("Go basics"),
			Slug: f.otherCourseSlug, Enabled: true, Public: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// mails returns the email messages of a kind sent to an address, newest
// first.
func (f *enrollFixture) mails(to string, kind mail.Kind) []mail.Parsed {
	f.t.Helper()
	return mailtest.Sent(f.t, f.db, to, kind)
}

// mailCount is how many emails exist at all.
func (f *enrollFixture) mailCount() int {
	f.t.Helper()
	list, err := f.db.Read().ListMailMessages(context.Background(), 0, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(list)
}

var confirmLink = regexp.MustCompile(regexp.QuoteMeta(baseURL) + `/email-learning/public/enrollments/confirm/([A-Za-z0-9_-]{43})/`)

// token returns the token of the newest confirmation email to an address.
func (f *enrollFixture) token(to string) string {
	f.t.Helper()
	list := f.mails(to, mail.KindEnrollmentConfirm)
	if len(list) == 0 {
		f.t.Fatalf("no confirmation email to %s", to)
	}
	m := confirmLink.FindStringSubmatch(list[0].Text)
	if m == nil {
		f.t.Fatalf("no confirmation link in:\n%s", list[0].Text)
	}
	return m[1]
}

func (f *enrollFixture) enroll(email string) {
	f.t.Helper()
	if err := f.s.Enroll(context.Background(), f.org, f.courseSlug, email, "192.0.2.1"); err != nil {
		f.t.Fatalf("enroll %s: %v", email, err)
	}
}

// enrollment returns the enrollment of an address in the public course.
func (f *enrollFixture) enrollment(email string) store.Enrollment {
	f.t.Helper()
	list, _, err := f.db.Read().ListEnrollments(context.Background(), store.EnrollmentFilter{OrganizationID: f.org, Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range list {
		if e.LearnerEmail == email && e.CourseID == f.course {
			return e
		}
	}
	f.t.Fatalf("no enrollment of %s", email)
	return store.Enrollment{}
}

// status returns the status of an address's enrollment in the public
// course, or "none".
func (f *enrollFixture) status(email string) string {
	f.t.Helper()
	list, _, err := f.db.Read().ListEnrollments(context.Background(), store.EnrollmentFilter{OrganizationID: f.org, Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range list {
		if e.LearnerEmail == email && e.CourseID == f.course {
			return string(e.Status)
		}
	}
	return "none"
}

// sig is the signature part of an enrollment's unsubscribe link.
func (f *enrollFixture) sig(e store.Enrollment) string {
	return strings.Split(f.s.UnsubscribeURL(e), "/")[7]
}

func TestDoubleOptIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		f.enroll(" Ada@Example.com ")
		if got := f.status("ada@example.com"); got != "unverified" {
			t.Fatalf("status after asking: %s", got)
		}
		emails := f.mails("ada@example.com", mail.KindEnrollmentConfirm)
		if len(emails) != 1 || emails[0].Header.Get("Subject") != "Confirm your enrollment in Go basics" ||
			!strings.Contains(emails[0].Text, "Acme Academy") || !strings.Contains(emails[0].HTML, "Acme Academy") {
			t.Fatalf("confirmation emails: %+v", emails)
		}
		token := f.token("ada@example.com")

		// Opening the link changes nothing.
		c, err := f.s.CheckConfirmation(ctx, token)
		if err != nil || c.Enrollment.CourseTitle != "Go basics" || c.OrganizationName != "Acme Academy" || c.Enrollment.LearnerEmail != "ada@example.com" {
			t.Fatalf("check: %+v, %v", c, err)
		}
		if got := f.status("ada@example.com"); got != "unverified" {
			t.Errorf("checking the link changed the status to %s", got)
		}
		other := "x" // the first character replaced by another
		if token[0] == 'x' {
			other = "y"
		}
		for _, bad := range []string{"", other + token[1:], token + "x", strings.ToUpper(token)} {
			if _, err := f.s.Confirm(ctx, bad, "192.0.2.9"); !errors.Is(err, learning.ErrConfirmLinkInvalid) {
				t.Errorf("tampered link %q: %v", bad, err)
			}
		}

		c, err = f.s.Confirm(ctx, token, "192.0.2.2")
		if err != nil || c.Enrollment.Status != store.EnrollmentActive || c.Enrollment.ActivatedAt == nil ||
			c.Enrollment.ConfirmedIP != "192.0.2.2" || c.Enrollment.RequestedIP != "192.0.2.1" {
			t.Fatalf("confirm: %+v, %v", c.Enrollment, err)
		}
		// Used once: the second use and a later look are told so, with
		// the enrollment, for the page that says where the learner stands.
		if c, err := f.s.Confirm(ctx, token, "192.0.2.2"); !errors.Is(err, learning.ErrConfirmLinkUsed) || c.Enrollment.Status != store.EnrollmentActive {
			t.Errorf("confirming twice: %s, %v", c.Enrollment.Status, err)
		}
		if c, err := f.s.CheckConfirmation(ctx, token); !errors.Is(err, learning.ErrConfirmLinkUsed) || c.OrganizationName != "Acme Academy" {
			t.Errorf("checking a used link: %q, %v", c.OrganizationName, err)
		}
		if p, _ := problem.As(learning.ErrConfirmLinkUsed); p.Kind != problem.Gone {
			t.Error("a used link is not gone (410)")
		}
	})
}

func TestExpiredConfirmationLink(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		f.enroll("late@example.com")
		token := f.token("late@example.com")
		f.clock.advance(learning.ConfirmValidity)
		if c, err := f.s.CheckConfirmation(ctx, token); !errors.Is(err, learning.ErrConfirmLinkExpired) || c.Enrollment.OrganizationID == 0 {
			t.Errorf("check an expired link: %+v, %v", c, err)
		}
		if _, err := f.s.Confirm(ctx, token, ""); !errors.Is(err, learning.ErrConfirmLinkExpired) {
			t.Errorf("confirm an expired link: %v", err)
		}
		if got := f.status("late@example.com"); got != "unverified" {
			t.Errorf("an expired link changed the status to %s", got)
		}
		// Asking again sends a new link that works.
		f.enroll("late@example.com")
		if _, err := f.s.Confirm(ctx, f.token("late@example.com"), ""); err != nil {
			t.Errorf("the new link: %v", err)
		}
	})
}

// TestEnrollAgain runs a second request through every state: within the
// throttle nothing is sent, after it a new link or a reminder, and ended
// enrollments start over.
func TestEnrollAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		const ada = "ada@example.com"
		count := func(kind mail.Kind) int { return len(f.mails(ada, kind)) }

		f.enroll(ada)
		first := f.token(ada)
		f.enroll("ADA@example.com")
		if n := count(mail.KindEnrollmentConfirm); n != 1 {
			t.Errorf("asking again within the window sent %d confirmations, want 1", n)
		}
		f.clock.advance(learning.ResendWindow)
		f.enroll(ada)
		if n := count(mail.KindEnrollmentConfirm); n != 2 {
			t.Fatalf("asking again after the window: %d confirmations, want 2", n)
		}
		second := f.token(ada)
		if _, err := f.s.CheckConfirmation(ctx, first); !errors.Is(err, learning.ErrConfirmLinkInvalid) {
			t.Errorf("the replaced link: %v", err)
		}
		if _, err := f.s.Confirm(ctx, second, ""); err != nil {
			t.Fatal(err)
		}

		// Active: a reminder, once per window, and no second enrollment.
		f.clock.advance(learning.ResendWindow)
		f.enroll(ada)
		f.enroll(ada)
		reminders := f.mails(ada, mail.KindEnrollmentReminder)
		if len(reminders) != 1 || reminders[0].Header.Get("Subject") != "You are already enrolled in Go basics" {
			t.Fatalf("reminders: %+v", reminders)
		}
		e := f.enrollment(ada)
		if got := reminders[0].Header.Get("List-Unsubscribe"); got != "<"+f.s.UnsubscribeURL(e)+">" {
			t.Errorf("the reminder's List-Unsubscribe = %q", got)
		}
		if e.Status != store.EnrollmentActive || count(mail.KindEnrollmentConfirm) != 2 {
			t.Errorf("a request for an active enrollment changed it: %+v", e)
		}
		f.clock.advance(learning.ResendWindow)
		f.enroll(ada)
		if n := count(mail.KindEnrollmentReminder); n != 2 {
			t.Errorf("reminders after the window: %d, want 2", n)
		}

		// Ended by unsubscribing: a new opt-in at once, however recent the
		// last email.
		if _, err := f.s.Unsubscribe(ctx, e.ID, f.sig(e)); err != nil {
			t.Fatal(err)
		}
		f.enroll(ada)
		if got := f.status(ada); got != "unverified" || count(mail.KindEnrollmentConfirm) != 3 {
			t.Fatalf("after unsubscribing and asking again: %s, %d confirmations", got, count(mail.KindEnrollmentConfirm))
		}
		if again := f.enrollment(ada); again.ID != e.ID || again.ActivatedAt != nil || again.EndedAt != nil {
			t.Errorf("the enrollment started over as %+v", again)
		}
		if _, err := f.s.Confirm(ctx, f.token(ada), ""); err != nil {
			t.Fatal(err)
		}
		// Cancelled by staff: likewise.
		if _, err := f.s.CancelEnrollment(ctx, f.editor, f.org, e.ID); err != nil {
			t.Fatal(err)
		}
		f.enroll(ada)
		if got := f.status(ada); got != "unverified" || count(mail.KindEnrollmentConfirm) != 4 {
			t.Errorf("after a cancellation and asking again: %s, %d confirmations", got, count(mail.KindEnrollmentConfirm))
		}
	})
}

func TestCompletedGetsAReminder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		f.enroll("done@example.com")
		f.s.Confirm(ctx, f.token("done@example.com"), "")
		e := f.enrollment("done@example.com")
		err := db.InTx(ctx, func(q *store.Queries) error {
			_, err := q.EndEnrollment(ctx, f.org, e.ID, store.EnrollmentCompleted, f.clock.now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		f.clock.advance(learning.ResendWindow)
		f.enroll("done@example.com")
		r := f.mails("done@example.com", mail.KindEnrollmentReminder)
		if len(r) != 1 || r[0].Header.Get("Subject") != "You completed Go basics already" || r[0].Header.Get("List-Unsubscribe") != "" {
			t.Errorf("reminder of a completed course: %+v", r)
		}
		if got := f.status("done@example.com"); got != "completed" {
			t.Errorf("status %s", got)
		}
	})
}

// TestBlockedAddressesGetNothing blocks addresses in the organization and
// platform-wide, in any case: requests from them answer the same, send
// nothing and record nothing.
func TestBlockedAddressesGetNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		if _, err := f.s.BlockEmail(ctx, f.editor, f.org, "Spam@Example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.BlockEmailEverywhere(ctx, f.root, "everywhere@example.com"); err != nil {
			t.Fatal(err)
		}
		before := f.mailCount()
		for _, email := range []string{"spam@example.com", "SPAM@example.COM", " everywhere@EXAMPLE.com"} {
			if err := f.s.Enroll(ctx, f.org, f.courseSlug, email, ""); err != nil {
				t.Errorf("enroll blocked %q: %v", email, err)
			}
		}
		if err := f.s.Enroll(ctx, f.other, f.otherCourseSlug, "everywhere@example.com", ""); err != nil {
			t.Error(err)
		}
		if n := f.mailCount(); n != before {
			t.Errorf("blocked addresses got %d emails", n-before)
		}
		learners, total, _ := db.Read().ListLearners(ctx, store.LearnerFilter{OrganizationID: f.org, Limit: 10})
		if total != 0 {
			t.Errorf("blocked addresses were recorded as learners: %+v", learners)
		}
		// The organization's block is its own: another organization mails
		// the address.
		if err := f.s.Enroll(ctx, f.other, f.otherCourseSlug, "spam@example.com", ""); err != nil || len(f.mails("spam@example.com", mail.KindEnrollmentConfirm)) != 1 {
			t.Errorf("another organization's learner was blocked: %v", err)
		}
		// Lifting the block lets the address enroll.
		if err := f.s.UnblockEmail(ctx, f.editor, f.org, "SPAM@example.com"); err != nil {
			t.Fatal(err)
		}
		f.enroll("spam@example.com")
		if got := f.status("spam@example.com"); got != "unverified" {
			t.Errorf("after unblocking: %s", got)
		}
	})
}

func TestEnrollRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		for _, tc := range []struct {
			name       string
			org        int64
			slug, mail string
			code       string
		}{
			{"invalid address", f.org, f.courseSlug, "not an address", "invalid_email"},
			{"display name", f.org, f.courseSlug, "Ada <ada@example.com>", "invalid_email"},
			{"disabled course", f.org, "draft", "ada@example.com", "course_not_found"},
			{"unknown course", f.org, "nope", "ada@example.com", "course_not_found"},
			{"unknown organization", 999999, f.courseSlug, "ada@example.com", "course_not_found"},
		} {
			if err := f.s.Enroll(ctx, tc.org, tc.slug, tc.mail, ""); code(err) != tc.code {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
			}
		}
		if f.mailCount() != 0 {
			t.Error("a refused request sent email")
		}
	})
}

// TestRequestEnrollmentOnlyEnqueues: a public request checks the course
// and the address's shape and enqueues its job, and does nothing else,
// whatever the address: new, enrolled, blocked or over its limit. So the
// request costs the same for all of them; the job tells them apart.
func TestRequestEnrollmentOnlyEnqueues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		f.enroll("ada@example.com")
		if _, err := f.s.BlockEmail(ctx, f.editor, f.org, "spam@example.com"); err != nil {
			t.Fatal(err)
		}
		mails := f.mailCount()
		requests := []learning.EnrollmentRequest{
			{OrganizationID: f.org, CourseSlug: f.courseSlug, Email: " New@Example.com", ClientIP: "192.0.2.7"},
			{OrganizationID: f.org, CourseSlug: f.courseSlug, Email: "ada@example.com"},
			{OrganizationID: f.org, CourseSlug: f.courseSlug, Email: "spam@example.com"},
			{OrganizationID: f.org, CourseSlug: f.courseSlug, Email: "busy@example.com", OverLimit: true},
		}
		for _, r := range requests {
			if err := f.s.RequestEnrollment(ctx, r); err != nil {
				t.Fatalf("request for %s: %v", r.Email, err)
			}
		}
		for _, r := range []learning.EnrollmentRequest{
			{OrganizationID: f.org, CourseSlug: "draft", Email: "new@example.com"},
			{OrganizationID: f.org, CourseSlug: f.courseSlug, Email: "not an address"},
		} {
			if err := f.s.RequestEnrollment(ctx, r); code(err) == "" {
				t.Errorf("request for %q in %q: %v, want refused", r.Email, r.CourseSlug, err)
			}
		}

		encoded, err := db.UnfinishedJobArgs(ctx, learning.EnrollRequestArgs{}.Kind())
		if err != nil {
			t.Fatal(err)
		}
		var jobs []learning.EnrollRequestArgs
		for _, e := range encoded {
			var a learning.EnrollRequestArgs
			if err := json.Unmarshal(e, &a); err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, a)
		}
		want := []learning.EnrollRequestArgs{
			{OrganizationID: f.org, CourseSlug: f.courseSlug, Email: "new@example.com", ClientIP: "192.0.2.7"},
			{OrganizationID: f.org, CourseSlug: f.courseSlug, Email: "ada@example.com"},
			{OrganizationID: f.org, CourseSlug: f.courseSlug, Email: "spam@example.com"},
			{OrganizationID: f.org, CourseSlug: f.courseSlug, Email: "busy@example.com", OverLimit: true},
		}
		if !slices.Equal(jobs, want) {
			t.Errorf("jobs enqueued: %+v, want %+v", jobs, want)
		}
		if f.status("new@example.com") != "none" || f.mailCount() != mails {
			t.Error("a request did the job's work itself")
		}
	})
}

// TestConcurrentRequestsSendOneEmail sends the same request many times at
// once: one enrollment, one email.
func TestConcurrentRequestsSendOneEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		for round, email := range []string{"new@example.com", "new@example.com"} {
			if round == 1 {
				f.clock.advance(learning.ResendWindow) // the second round re-sends: once
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				wg.Go(func() { errs <- f.s.Enroll(ctx, f.org, f.courseSlug, email, "") })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if n := len(f.mails(email, mail.KindEnrollmentConfirm)); n != round+1 {
				t.Errorf("round %d: %d confirmation emails, want %d", round, n, round+1)
			}
		}
	})
}

// TestHooksRunInTheTransaction registers hooks that write through the
// transaction: they see the change, and their failure undoes it with
// their own writes.
func TestHooksRunInTheTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		var seen []string
		fail := true
		hook := func(name string) learning.EnrollmentHook {
			return func(ctx context.Context, q *store.Queries, e store.Enrollment) error {
				now, err := q.Enrollment(ctx, e.OrganizationID, e.ID)
				if err != nil {
					return err
				}
				seen = append(seen, fmt.Sprintf("%s %s %s", name, e.Status, now.Status))
				// A write of the hook's own, undone with the change.
				if _, err := q.SaveLearner(ctx, e.OrganizationID, name+"@hooks.example"); err != nil {
					return err
				}
				if fail {
					return errors.New(name + " hook failed")
				}
				return nil
			}
		}
		f.s.OnActivate(hook("activate"))
		f.s.OnEnd(hook("end"))
		hookLearners := func() int {
			_, n, err := db.Read().ListLearners(ctx, store.LearnerFilter{OrganizationID: f.org, Search: "@hooks.example", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		f.enroll("ada@example.com")
		token := f.token("ada@example.com")
		if _, err := f.s.Confirm(ctx, token, ""); err == nil || !strings.Contains(err.Error(), "activate hook failed") {
			t.Fatalf("confirm with a failing hook: %v", err)
		}
		if got := f.status("ada@example.com"); got != "unverified" || hookLearners() != 0 {
			t.Errorf("a failing hook did not undo the activation: %s, hook rows %d", got, hookLearners())
		}
		if _, err := f.s.EnrollDirectly(ctx, f.editor, f.org, f.course, "bob@example.com"); err == nil {
			t.Error("direct enrollment with a failing hook succeeded")
		}
		if got := f.status("bob@example.com"); got != "none" {
			t.Errorf("a failing hook left a direct enrollment: %s", got)
		}

		fail = false
		if _, err := f.s.Confirm(ctx, token, ""); err != nil {
			t.Fatalf("the link after a failed attempt: %v", err)
		}
		e := f.enrollment("ada@example.com")
		fail = true
		if _, err := f.s.CancelEnrollment(ctx, f.editor, f.org, e.ID); err == nil {
			t.Error("cancelling with a failing hook succeeded")
		}
		sig := f.sig(e)
		if _, err := f.s.Unsubscribe(ctx, e.ID, sig); err == nil {
			t.Error("unsubscribing with a failing hook succeeded")
		}
		if got := f.status("ada@example.com"); got != "active" || hookLearners() != 1 {
			t.Errorf("a failing end hook did not undo: %s, hook rows %d", got, hookLearners())
		}
		fail = false
		if _, err := f.s.Unsubscribe(ctx, e.ID, sig); err != nil {
			t.Fatal(err)
		}
		// Unsubscribing again changes nothing and runs no hook.
		if _, err := f.s.Unsubscribe(ctx, e.ID, sig); err != nil {
			t.Fatal(err)
		}
		want := []string{"activate active active", "activate active active", "activate active active",
			"end cancelled cancelled", "end unsubscribed unsubscribed", "end unsubscribed unsubscribed"}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("hooks saw %q, want %q", seen, want)
		}
	})
}

func TestUnsubscribe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		f.enroll("ada@example.com")
		f.enroll("bob@example.com")
		f.s.Confirm(ctx, f.token("ada@example.com"), "")
		ada, bob := f.enrollment("ada@example.com"), f.enrollment("bob@example.com")

		url := f.s.UnsubscribeURL(ada)
		prefix := fmt.Sprintf("%s/email-learning/public/unsubscribe/%d/", baseURL, ada.ID)
		if !strings.HasPrefix(url, prefix) || !strings.HasSuffix(url, "/") {
			t.Fatalf("unsubscribe URL %s", url)
		}
		sig := strings.TrimSuffix(strings.TrimPrefix(url, prefix), "/")
		// The signature is per enrollment and per secret key.
		other := learning.NewService(db, learning.Config{BaseURL: baseURL, SecretKey: "another key"})
		for _, bad := range []struct {
			id  int64
			sig string
		}{
			{bob.ID, sig},
			{ada.ID, ""},
			{ada.ID, sig[:len(sig)-1]},
			{ada.ID, strings.TrimSuffix(strings.TrimPrefix(other.UnsubscribeURL(ada), prefix), "/")},
			{999999, sig},
			// Ada's id signed as it would be for a row with another key (a
			// row that held the id before), or with none (links signed
			// before rows had keys).
			{ada.ID, strings.TrimSuffix(strings.TrimPrefix(f.s.UnsubscribeURL(store.Enrollment{ID: ada.ID, LinkKey: bob.LinkKey}), prefix), "/")},
			{ada.ID, strings.TrimSuffix(strings.TrimPrefix(f.s.UnsubscribeURL(store.Enrollment{ID: ada.ID}), prefix), "/")},
		} {
			if _, err := f.s.CheckUnsubscribe(ctx, bad.id, bad.sig); !errors.Is(err, learning.ErrUnsubscribeLinkInvalid) {
				t.Errorf("check %d/%s: %v", bad.id, bad.sig, err)
			}
			if _, err := f.s.Unsubscribe(ctx, bad.id, bad.sig); !errors.Is(err, learning.ErrUnsubscribeLinkInvalid) {
				t.Errorf("unsubscribe %d/%s: %v", bad.id, bad.sig, err)
			}
		}
		if f.status("ada@example.com") != "active" || f.status("bob@example.com") != "unverified" {
			t.Fatal("a bad signature changed an enrollment")
		}

		u, err := f.s.CheckUnsubscribe(ctx, ada.ID, sig)
		if err != nil || u.Unsubscribed() || u.OrganizationName != "Acme Academy" || u.Before != store.EnrollmentActive || f.status("ada@example.com") != "active" {
			t.Fatalf("check: %+v %v", u, err)
		}
		u, err = f.s.Unsubscribe(ctx, ada.ID, sig)
		if err != nil || !u.Unsubscribed() || u.Enrollment.Status != store.EnrollmentUnsubscribed || u.Enrollment.EndedAt == nil ||
			u.Before != store.EnrollmentActive {
			t.Fatalf("unsubscribe: %+v before %s, %v", u.Enrollment, u.Before, err)
		}
		// Twice: nothing changes, and the answer says it was done before.
		if u, err := f.s.Unsubscribe(ctx, ada.ID, sig); err != nil || u.Enrollment.Status != store.EnrollmentUnsubscribed || u.Before != store.EnrollmentUnsubscribed {
			t.Errorf("twice: %+v before %s, %v", u.Enrollment, u.Before, err)
		}
		// An unverified enrollment ends too, and its pending link with it.
		token := f.token("bob@example.com")
		if _, err := f.s.Unsubscribe(ctx, bob.ID, f.sig(bob)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Confirm(ctx, token, ""); !errors.Is(err, learning.ErrConfirmLinkInvalid) {
			t.Errorf("the link of an unsubscribed enrollment: %v", err)
		}
	})
}

func TestCancelEnrollment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		f.enroll("ada@example.com")
		e := f.enrollment("ada@example.com")
		if err := f.s.Enroll(ctx, f.other, f.otherCourseSlug, "ada@example.com", ""); err != nil {
			t.Fatal(err)
		}
		list, _, _ := db.Read().ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: f.other, Limit: 1})
		inOther := list[0]

		for _, tc := range []struct {
			name   string
			actor  *store.User
			org    int64
			id     int64
			kind   problem.Kind
			status string
		}{
			{"viewer", f.viewer, f.org, e.ID, problem.Forbidden, "unverified"},
			{"admin of another organization", f.otherAdmin, f.org, e.ID, problem.NotFound, "unverified"},
			{"another organization's enrollment", f.editor, f.org, inOther.ID, problem.NotFound, "unverified"},
			{"through the other organization", f.otherAdmin, f.other, e.ID, problem.NotFound, "unverified"},
		} {
			_, err := f.s.CancelEnrollment(ctx, tc.actor, tc.org, tc.id)
			if p, ok := problem.As(err); !ok || p.Kind != tc.kind {
				t.Errorf("%s: %v", tc.name, err)
			}
			if got := f.status("ada@example.com"); got != tc.status {
				t.Errorf("%s changed the status to %s", tc.name, got)
			}
		}
		if again, _ := db.Read().Enrollment(ctx, f.other, inOther.ID); again.Status != store.EnrollmentUnverified {
			t.Errorf("the other organization's enrollment changed: %s", again.Status)
		}

		got, err := f.s.CancelEnrollment(ctx, f.editor, f.org, e.ID)
		if err != nil || got.Status != store.EnrollmentCancelled || got.EndedAt == nil {
			t.Fatalf("cancel: %+v %v", got, err)
		}
		if _, err := f.s.CancelEnrollment(ctx, f.root, f.org, e.ID); code(err) != "enrollment_ended" {
			t.Errorf("cancel twice: %v", err)
		}
		// The viewer reads it, without the right to cancel.
		page, err := f.s.Enrollment(ctx, f.viewer, f.org, e.ID)
		if err != nil || page.CanManage || page.Enrollment.Status != store.EnrollmentCancelled || page.Deliveries != nil {
			t.Errorf("the viewer's page: %+v %v", page, err)
		}
		if _, err := f.s.PrepareCancel(ctx, f.viewer, f.org, e.ID); code(err) != "forbidden" {
			t.Errorf("the viewer's cancel page: %v", err)
		}
		f.s.SetDeliveryLister(func(ctx context.Context, q *store.Queries, e store.Enrollment) ([]learning.Delivery, error) {
			return []learning.Delivery{{Title: "Lesson 1 of " + e.CourseTitle, Kind: "lesson", Status: "sent"}}, nil
		})
		if page, _ := f.s.Enrollment(ctx, f.editor, f.org, e.ID); !page.CanManage || len(page.Deliveries) != 1 || page.Deliveries[0].Title != "Lesson 1 of Go basics" {
			t.Errorf("the editor's page with deliveries: %+v", page)
		}
	})
}

func TestEnrollDirectly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		var activated []string
		f.s.OnActivate(func(ctx context.Context, q *store.Queries, e store.Enrollment) error {
			activated = append(activated, e.LearnerEmail)
			return nil
		})
		e, err := f.s.EnrollDirectly(ctx, f.editor, f.org, f.course, "Ada@Example.com")
		if err != nil || e.Status != store.EnrollmentActive || e.ActivatedAt == nil || e.LearnerEmail != "ada@example.com" {
			t.Fatalf("direct: %+v %v", e, err)
		}
		if f.mailCount() != 0 {
			t.Error("a direct enrollment sent a confirmation")
		}
		if _, err := f.s.BlockEmailEverywhere(ctx, f.root, "blocked@example.com"); err != nil {
			t.Fatal(err)
		}
		f.enroll("pending@example.com")
		f.enroll("gone@example.com")
		gone := f.enrollment("gone@example.com")
		f.s.Unsubscribe(ctx, gone.ID, f.sig(gone))

		for _, tc := range []struct {
			name   string
			actor  *store.User
			org    int64
			course int64
			email  string
			code   string
		}{
			{"viewer", f.viewer, f.org, f.course, "new@example.com", "forbidden"},
			{"other organization's admin", f.otherAdmin, f.org, f.course, "new@example.com", "organization_not_found"},
			{"other organization's course", f.editor, f.org, f.otherCourse, "new@example.com", "course_not_found"},
			{"disabled course", f.editor, f.org, f.draft, "new@example.com", "course_disabled"},
			{"invalid address", f.editor, f.org, f.course, "nope", "invalid_email"},
			{"blocked address", f.editor, f.org, f.course, "BLOCKED@example.com", "email_blocked"},
			{"enrolled already", f.editor, f.org, f.course, "ada@example.com", "already_enrolled"},
			{"unsubscribed", f.editor, f.org, f.course, "gone@example.com", "learner_unsubscribed"},
		} {
			if _, err := f.s.EnrollDirectly(ctx, tc.actor, tc.org, tc.course, tc.email); code(err) != tc.code {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
			}
		}
		if got := f.status("new@example.com") + f.status("blocked@example.com") + f.status("gone@example.com"); got != "nonenoneunsubscribed" {
			t.Errorf("refusals changed enrollments: %s", got)
		}
		// A pending enrollment is activated; its link then says used up.
		token := f.token("pending@example.com")
		if e, err := f.s.EnrollDirectly(ctx, f.root, f.org, f.course, "pending@example.com"); err != nil || e.Status != store.EnrollmentActive {
			t.Errorf("activating a pending enrollment: %+v %v", e, err)
		}
		if _, err := f.s.Confirm(ctx, token, ""); !errors.Is(err, learning.ErrConfirmLinkInvalid) {
			t.Errorf("the link of a directly activated enrollment: %v", err)
		}
		if fmt.Sprint(activated) != "[ada@example.com pending@example.com]" {
			t.Errorf("activation hooks ran for %v", activated)
		}
	})
}

func TestBlockedEmailRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		if _, err := f.s.BlockEmail(ctx, f.viewer, f.org, "x@example.com"); code(err) != "forbidden" {
			t.Errorf("a viewer blocks: %v", err)
		}
		if _, err := f.s.BlockEmail(ctx, f.otherAdmin, f.org, "x@example.com"); code(err) != "organization_not_found" {
			t.Errorf("another organization's admin blocks: %v", err)
		}
		if _, err := f.s.BlockEmail(ctx, f.editor, f.org, "not an address"); code(err) != "invalid_email" {
			t.Errorf("an invalid address: %v", err)
		}
		b, err := f.s.BlockEmail(ctx, f.editor, f.org, " X@Example.com")
		if err != nil || b.Email != "x@example.com" || b.CreatorEmail != "editor@example.com" {
			t.Fatalf("block: %+v %v", b, err)
		}
		if _, err := f.s.BlockEmail(ctx, f.editor, f.org, "x@EXAMPLE.com"); code(err) != "already_blocked" {
			t.Errorf("blocking twice: %v", err)
		}
		page, err := f.s.BlockedEmails(ctx, f.viewer, f.org, 1)
		if err != nil || page.CanManage || page.Total != 1 || page.Items[0].Email != "x@example.com" || page.Name != "Acme Academy" {
			t.Errorf("the viewer's list: %+v %v", page, err)
		}
		if err := f.s.UnblockEmail(ctx, f.viewer, f.org, "x@example.com"); code(err) != "forbidden" {
			t.Errorf("a viewer unblocks: %v", err)
		}
		if err := f.s.UnblockEmail(ctx, f.editor, f.org, "y@example.com"); code(err) != "not_blocked" {
			t.Errorf("unblocking what is not blocked: %v", err)
		}

		for _, u := range []*store.User{f.editor, f.viewer, f.otherAdmin, nil} {
			if _, err := f.s.BlockEmailEverywhere(ctx, u, "all@example.com"); code(err) != "forbidden" {
				t.Errorf("%v blocks everywhere: %v", u, err)
			}
			if _, err := f.s.PlatformBlockedEmails(ctx, u, 1); code(err) != "forbidden" {
				t.Errorf("%v lists platform blocks: %v", u, err)
			}
			if err := f.s.UnblockEmailEverywhere(ctx, u, "all@example.com"); code(err) != "forbidden" {
				t.Errorf("%v unblocks everywhere: %v", u, err)
			}
		}
		if _, err := f.s.BlockEmailEverywhere(ctx, f.root, "ALL@example.com"); err != nil {
			t.Fatal(err)
		}
		if p, err := f.s.PlatformBlockedEmails(ctx, f.root, 1); err != nil || !p.PlatformWide || p.Total != 1 || p.Items[0].Email != "all@example.com" {
			t.Errorf("platform list: %+v %v", p, err)
		}
		if blocked, _ := db.Read().EmailBlocked(ctx, f.other, "all@example.com"); !blocked {
			t.Error("a platform-wide block does not cover another organization")
		}
		if err := f.s.UnblockEmailEverywhere(ctx, f.root, "all@example.com"); err != nil {
			t.Fatal(err)
		}
		if blocked, _ := db.Read().EmailBlocked(ctx, f.other, "all@example.com"); blocked {
			t.Error("still blocked after unblocking")
		}
	})
}

func TestLearnersList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		for i := range learning.PageSize + 1 {
			if _, err := f.s.EnrollDirectly(ctx, f.editor, f.org, f.course, fmt.Sprintf("learner%02d@example.com", i)); err != nil {
				t.Fatal(err)
			}
		}
		f.enroll("learner00@example.com") // a reminder, nothing more
		page, err := f.s.Learners(ctx, f.viewer, f.org, "", 1)
		if err != nil || page.Total != learning.PageSize+1 || len(page.Items) != learning.PageSize || page.Pages != 2 || page.CanManage {
			t.Fatalf("first page: %d items of %d, %d pages, %v", len(page.Items), page.Total, page.Pages, err)
		}
		first := page.Items[0]
		if first.Email != "learner00@example.com" || len(first.Enrollments) != 1 || first.Enrollments[0].CourseTitle != "Go basics" ||
			first.Enrollments[0].Status != store.EnrollmentActive {
			t.Errorf("first learner: %+v", first)
		}
		if page, _ := f.s.Learners(ctx, f.editor, f.org, "", 2); len(page.Items) != 1 || page.Items[0].Email != "learner50@example.com" || !page.CanManage {
			t.Errorf("second page: %+v", page.Items)
		}
		if page, _ := f.s.Learners(ctx, f.editor, f.org, "RNER4", 1); page.Total != 10 {
			t.Errorf("search: %d", page.Total)
		}
		if _, err := f.s.Learners(ctx, f.otherAdmin, f.org, "", 1); code(err) != "organization_not_found" {
			t.Errorf("another organization's admin: %v", err)
		}
		list, err := f.s.Enrollments(ctx, f.viewer, f.org, learning.EnrollmentQuery{Status: "active"})
		if err != nil || list.Total != learning.PageSize+1 || len(list.Items) != learning.PageSize {
			t.Errorf("enrollments: %d of %d, %v", len(list.Items), list.Total, err)
		}
		if _, err := f.s.Enrollments(ctx, f.viewer, f.org, learning.EnrollmentQuery{Status: "done"}); code(err) != "invalid_status" {
			t.Errorf("a bad status: %v", err)
		}
	})
}

// TestDeletingTheOrganizationRemovesLearners deletes an organization with
// learners, enrollments and blocked addresses: nothing of it is left, and
// platform-wide blocks stay.
func TestDeletingTheOrganizationRemovesLearners(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		f.enroll("ada@example.com")
		if _, err := f.s.EnrollDirectly(ctx, f.editor, f.org, f.course, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.BlockEmail(ctx, f.editor, f.org, "spam@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.BlockEmailEverywhere(ctx, f.root, "all@example.com"); err != nil {
			t.Fatal(err)
		}
		before, err := db.RowsWith(ctx, "organization_id", f.org)
		if err != nil {
			t.Fatal(err)
		}
		if before["learners"] != 2 || before["enrollments"] != 2 || before["blocked_emails"] != 1 {
			t.Fatalf("rows before: %v", before)
		}
		if err := db.InTx(ctx, func(q *store.Queries) error { return q.DeleteOrganization(ctx, f.org) }); err != nil {
			t.Fatal(err)
		}
		left, err := db.RowsWith(ctx, "organization_id", f.org)
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range left {
			if n != 0 {
				t.Errorf("%d rows of the deleted organization remain in %s", n, table)
			}
		}
		if blocked, _ := db.Read().EmailBlocked(ctx, f.other, "all@example.com"); !blocked {
			t.Error("the platform-wide block went with the organization")
		}
	})
}
