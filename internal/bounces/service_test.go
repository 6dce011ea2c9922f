package bounces_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const secretKey = "a secret key of at least thirty-two characters"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func ptr[T any](v T) *T { return &v }

// fixture is an organization with an enabled course of two lessons, the
// delivery engine attached to learning (so that ending an enrollment
// cancels its deliveries), and the bounce rules.
type fixture struct {
	t        *testing.T
	db       *store.DB
	learning *learning.Service
	bounces  *bounces.Service
	paths    mail.ReturnPaths
	editor   *store.User
	org      int64
	course   int64
}

func newFixture(t *testing.T, db *store.DB, cfg bounces.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	mailer, err := mail.NewService(db, mail.Config{From: "Acme <learn@school.example>", BaseURL: "https://school.example",
		Transport: mail.Outbox{}, TransportName: "outbox"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewJobs(&river.Config{}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, paths: mail.NewReturnPaths(secretKey, "bounce.school.example")}
	f.learning = learning.NewService(db, learning.Config{Mail: mailer, BaseURL: "https://school.example", SecretKey: secretKey})
	delivery.New(db, mailer, f.learning, delivery.Config{Logger: quiet})
	cfg.ReturnPaths, cfg.Logger = f.paths, quiet
	f.bounces = bounces.NewService(db, f.learning, cfg)
	org, members := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "editor@example.com", Role: "editor"})
	f.org, f.editor = org, &members[0]
	course, err := f.learning.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Go basics")})
	if err != nil {
		t.Fatal(err)
	}
	f.course = course.ID
	for i, title := range []string{"One", "Two"} {
		_, err := f.learning.CreateContent(ctx, f.editor, f.org, f.course, learning.ContentFields{Kind: store.KindLesson,
			Title: ptr(title), Body: ptr("A lesson"), WaitingPeriodSeconds: ptr(i * 3600), Published: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.learning.UpdateCourse(ctx, f.editor, f.org, f.course, learning.CourseFields{Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	return f
}

// enroll enrolls an address and records an email of its enrollment, as if
// its first lesson; it returns the enrollment and the email.
func (f *fixture) enroll(email string) (store.Enrollment, store.MailMessage) {
	f.t.Helper()
	e, err := f.learning.EnrollDirectly(context.Background(), f.editor, f.org, f.course, email)
	if err != nil {
		f.t.Fatal(err)
	}
	return e, f.message(f.org, &e.ID, email)
}

var messages int

func (f *fixture) message(orgID int64, enrollmentID *int64, to string) store.MailMessage {
	f.t.Helper()
	messages++
	var m store.MailMessage
	err := f.db.InTx(context.Background(), func(q *store.Queries) error {
		var err error
		m, err = q.CreateMailMessage(context.Background(), store.NewMailMessage{OrganizationID: &orgID, EnrollmentID: enrollmentID,
			Kind: "lesson", Sender: "learn@school.example", Recipient: to, Subject: "One",
			MessageID: fmt.Sprintf("m%d.%d@school.example", messages, time.Now().UnixNano()), Raw: []byte("x")})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) returnPath(m store.MailMessage) string { return f.paths.For(m.ID, m.MessageID) }

func (f *fixture) record(r bounces.Report) {
	f.t.Helper()
	if r.Source == "" {
		r.Source = "mailbox"
	}
	if r.SourceID == "" {
		messages++
		r.SourceID = fmt.Sprintf("report-%d", messages)
	}
	if err := f.bounces.Record(context.Background(), r); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) log() []store.Bounce {
	f.t.Helper()
	list, err := f.db.Read().ListBounces(context.Background(), f.org, 0, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return list
}

func (f *fixture) blocked(orgID int64, email string) bool {
	f.t.Helper()
	list, _, err := f.db.Read().ListBlockedEmails(context.Background(), orgID, 0, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, b := range list {
		if b.Email == email {
			return true
		}
	}
	return false
}

func (f *fixture) status(e store.Enrollment) store.EnrollmentStatus {
	f.t.Helper()
	got, err := f.db.Read().Enrollment(context.Background(), f.org, e.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return got.Status
}

func (f *fixture) pendingDeliveries(e store.Enrollment) int {
	f.t.Helper()
	list, err := f.db.Read().EnrollmentDeliveries(context.Background(), f.org, e.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, d := range list {
		if d.Status == store.DeliveryScheduled || d.Status == store.DeliverySending {
			n++
		}
	}
	return n
}

func TestForgedBouncesChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, bounces.Config{BlockPlatformWide: true})
		e, m := f.enroll("ada@example.com")
		_, other := f.enroll("bob@example.com")
		rp := f.returnPath(m)
		id, sig, _ := f.paths.Parse(rp)
		_, otherSig, _ := f.paths.Parse(f.returnPath(other))
		forged := []bounces.Report{
			// No return path at all, only the Message-ID: anyone can write to the mailbox.
			{Kind: bounces.Hard, Recipient: m.Recipient, MessageID: m.MessageID},
			// A signature changed in one character.
			{Kind: bounces.Hard, Recipient: m.Recipient, ReturnPath: strings.Replace(rp, sig, flip(sig), 1)},
			// The id with another email's signature.
			{Kind: bounces.Hard, Recipient: m.Recipient, ReturnPath: fmt.Sprintf("bounces+%d-%s@bounce.school.example", id, otherSig)},
			// Another email's valid return path, for this recipient.
			{Kind: bounces.Hard, Recipient: m.Recipient, ReturnPath: f.returnPath(other)},
			// No signature.
			{Kind: bounces.Hard, Recipient: m.Recipient, ReturnPath: fmt.Sprintf("bounces+%d@bounce.school.example", id)},
			// A mailbox report naming the email's Message-ID as if a provider's.
			{Kind: bounces.Complaint, Recipient: m.Recipient, MessageID: m.MessageID, Source: "mailbox"},
		}
		for _, r := range forged {
			f.record(r)
		}
		if log := f.log(); len(log) != 0 {
			t.Fatalf("forged reports were logged: %+v", log)
		}
		if f.blocked(f.org, m.Recipient) || f.blocked(0, m.Recipient) || f.status(e) != store.EnrollmentActive {
			t.Fatal("a forged report changed something")
		}
		// The same report with the right token, upper-cased as some servers do, counts.
		f.record(bounces.Report{Kind: bounces.Hard, Recipient: "ADA@example.com", ReturnPath: strings.ToUpper(rp), Diagnostic: "550 5.1.1 no such user"})
		if log := f.log(); len(log) != 1 || log[0].Email != "ada@example.com" || log[0].Kind != "hard" || log[0].Subject != "One" {
			t.Fatalf("log after a true bounce: %+v", log)
		}
	})
}

// flip changes a signature's first character to another one of base32.
func flip(sig string) string {
	if sig[0] == 'a' {
		return "b" + sig[1:]
	}
	return "a" + sig[1:]
}

func TestHardBounceBlocksAndEndsTheEnrollment(t *testing.T) {
	for _, platformWide := range []bool{true, false} {
		t.Run(fmt.Sprintf("platform-wide=%v", platformWide), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				f := newFixture(t, db, bounces.Config{BlockPlatformWide: platformWide})
				e, m := f.enroll("ada@example.com")
				if f.pendingDeliveries(e) == 0 {
					t.Fatal("the enrollment has nothing scheduled to begin with")
				}
				f.record(bounces.Report{Kind: bounces.Hard, Recipient: m.Recipient, ReturnPath: f.returnPath(m), Diagnostic: "550 5.1.1 no such user"})
				if !f.blocked(f.org, "ada@example.com") || f.blocked(0, "ada@example.com") != platformWide {
					t.Fatalf("blocked: organization %v, platform %v; want true, %v", f.blocked(f.org, "ada@example.com"), f.blocked(0, "ada@example.com"), platformWide)
				}
				if got := f.status(e); got != store.EnrollmentCancelled {
					t.Fatalf("enrollment is %s, want cancelled", got)
				}
				if n := f.pendingDeliveries(e); n != 0 {
					t.Fatalf("%d deliveries still pending", n)
				}
				log := f.log()
				if len(log) != 1 || log[0].EnrollmentID == nil || *log[0].EnrollmentID != e.ID || log[0].Diagnostic != "550 5.1.1 no such user" {
					t.Fatalf("log: %+v", log)
				}
				audit, err := db.Read().AuditLog(ctx, f.org, 0, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(audit) == 0 || audit[0].Action != string(orgs.AddressBlocked) || audit[0].ActorEmail != "mailschool" || audit[0].Target != "ada@example.com" {
					t.Fatalf("audit log: %+v", audit)
				}
				counts, err := db.Read().DailyCounts(ctx, f.org, store.ReportDay(time.Now().Add(-24*time.Hour)), store.ReportDay(time.Now().Add(24*time.Hour)))
				if err != nil {
					t.Fatal(err)
				}
				if n := count(counts, store.BounceMetric+"hard"); n != 1 {
					t.Fatalf("hard bounces counted %d times, want 1: %+v", n, counts)
				}
			})
		})
	}
}

func count(counts []store.DailyCount, metric string) int {
	n := 0
	for _, c := range counts {
		if c.Metric == metric {
			n += c.N
		}
	}
	return n
}

func TestAReportReadTwiceIsAppliedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, bounces.Config{})
		_, m := f.enroll("ada@example.com")
		r := bounces.Report{Kind: bounces.Soft, Recipient: m.Recipient, ReturnPath: f.returnPath(m), Source: "mailbox", SourceID: "<dsn-1@mx.example>"}
		for range 3 {
			f.record(r)
		}
		if log := f.log(); len(log) != 1 {
			t.Fatalf("one report read three times logged %d times", len(log))
		}
		if f.blocked(f.org, m.Recipient) {
			t.Fatal("one soft bounce read three times counted as three")
		}
	})
}

func TestSoftBouncesCountWithinTheWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, bounces.Config{SoftLimit: 3, SoftWindow: 7 * 24 * time.Hour, BlockPlatformWide: true})
		e, m := f.enroll("ada@example.com")
		// Each soft bounce is of another email to the address.
		soft := func(ago time.Duration) {
			m := f.message(f.org, &e.ID, m.Recipient)
			f.record(bounces.Report{Kind: bounces.Soft, Recipient: m.Recipient, ReturnPath: f.returnPath(m),
				Diagnostic: "452 4.2.2 mailbox full", At: time.Now().Add(-ago)})
		}
		// One email reported delayed three times is one trouble, not three.
		for range 3 {
			f.record(bounces.Report{Kind: bounces.Soft, Recipient: m.Recipient, ReturnPath: f.returnPath(m),
				Diagnostic: "4.4.7 delivery delayed", At: time.Now().Add(-3 * time.Hour)})
		}
		if f.blocked(f.org, m.Recipient) {
			t.Fatal("blocked after three delays of one email")
		}
		soft(8 * 24 * time.Hour) // outside the window
		soft(time.Hour)
		if f.blocked(f.org, m.Recipient) || f.status(e) != store.EnrollmentActive {
			t.Fatal("blocked after two soft bounces within the window")
		}
		soft(0)
		if !f.blocked(f.org, m.Recipient) || f.status(e) != store.EnrollmentCancelled {
			t.Fatal("not blocked after three soft bounces within the window")
		}
		if f.blocked(0, m.Recipient) {
			t.Fatal("soft bounces blocked the address for every organization")
		}
	})
}

func TestComplaintUnsubscribes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, bounces.Config{BlockPlatformWide: true})
		e, m := f.enroll("ada@example.com")
		// A provider's report, authenticated by its signature, names the email by its Message-ID.
		f.record(bounces.Report{Kind: bounces.Complaint, Recipient: m.Recipient, MessageID: "<" + m.MessageID + ">", Source: "ses", SourceID: "feedback-1"})
		if got := f.status(e); got != store.EnrollmentUnsubscribed {
			t.Fatalf("enrollment is %s after a complaint, want unsubscribed", got)
		}
		if f.pendingDeliveries(e) != 0 || !f.blocked(f.org, m.Recipient) || f.blocked(0, m.Recipient) {
			t.Fatal("a complaint must cancel what is pending and block the address for the organization only")
		}
	})
}

func TestBounceOfADeletedOrganizationIsDropped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, bounces.Config{BlockPlatformWide: true})
		gone, _ := storetest.NewOrganization(t, db, "Gone")
		m := f.message(gone, nil, "ada@example.com")
		if err := db.InTx(ctx, func(q *store.Queries) error { return q.DeleteOrganization(ctx, gone) }); err != nil {
			t.Fatal(err)
		}
		f.record(bounces.Report{Kind: bounces.Hard, Recipient: m.Recipient, ReturnPath: f.returnPath(m)})
		if f.blocked(0, m.Recipient) {
			t.Fatal("a deleted organization's bounce blocked the address")
		}
	})
}

func TestReportOfAnotherRecipientIsIgnored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, bounces.Config{})
		_, m := f.enroll("ada@example.com")
		f.record(bounces.Report{Kind: bounces.Hard, Recipient: "bob@example.com", ReturnPath: f.returnPath(m)})
		if len(f.log()) != 0 || f.blocked(f.org, "bob@example.com") || f.blocked(f.org, "ada@example.com") {
			t.Fatal("a report of another recipient changed something")
		}
	})
}
