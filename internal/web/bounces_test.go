package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// withReturnPaths gives the app's emails return paths under bounce.example.
func withReturnPaths(t testing.TB) func(*Options) {
	return func(opts *Options) {
		mailer, err := mail.NewService(opts.DB, mail.Config{From: "mailschool <noreply@localhost>", BaseURL: opts.BaseURL,
			Transport: mail.Outbox{}, TransportName: "outbox", Logger: opts.Logger,
			ReturnPaths: mail.NewReturnPaths(opts.SecretKey, "bounce.example")})
		if err != nil {
			t.Fatal(err)
		}
		opts.Mail = mailer
	}
}

func TestOutboxShowsEnvelopeSenderAndCurrentErrors(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db, withReturnPaths(t))
	ctx := context.Background()
	var queued, retried, failed store.MailMessage
	err := db.InTx(ctx, func(q *store.Queries) error {
		var err error
		create := func(subject string) store.MailMessage {
			if err != nil {
				return store.MailMessage{}
			}
			var m store.MailMessage
			m, err = q.CreateMailMessage(ctx, store.NewMailMessage{Kind: "test", Sender: "noreply@localhost", Recipient: "ada@example.com",
				Subject: subject, MessageID: subject + "@localhost", Raw: []byte("Subject: x\r\nContent-Type: text/plain\r\n\r\nbody")})
			return m
		}
		queued, retried, failed = create("never-tried"), create("retried-then-sent"), create("refused")
		if err != nil {
			return err
		}
		attempts := []struct {
			id int64
			a  store.MailAttempt
		}{
			{retried.ID, store.MailAttempt{Status: store.MailQueued, Transport: "smtp", Error: "421 4.3.0 try again later", RetryAt: time.Now()}},
			{retried.ID, store.MailAttempt{Status: store.MailSent, Transport: "smtp", Sender: "bounces+x@bounce.example"}},
			{failed.ID, store.MailAttempt{Status: store.MailFailed, Transport: "smtp", Error: "550 5.1.1 no such user"}},
		}
		for _, at := range attempts {
			if _, err := q.RecordMailAttempt(ctx, at.id, at.a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := app.loggedIn(adminEmail, adminPassword)
	list := c.get("/email-learning/platform/outbox/")
	if strings.Contains(list.body, "try again later") || !strings.Contains(list.body, "no such user") {
		t.Errorf("outbox list: a sent email shows its old temporary error, or a failed one hides its refusal:\n%s", list.body)
	}
	page := c.get(fmt.Sprintf("/email-learning/platform/outbox/%d/", retried.ID))
	if strings.Contains(page.body, `class="error">421`) || !strings.Contains(page.body, "Earlier attempt") || !strings.Contains(page.body, "bounces&#43;x@bounce.example") {
		t.Errorf("retried-then-sent email's page:\n%s", page.body)
	}
	page = c.get(fmt.Sprintf("/email-learning/platform/outbox/%d/", queued.ID))
	want := fmt.Sprintf("bounces+%d-", queued.ID)
	if !strings.Contains(page.body, "Envelope sender") || !strings.Contains(page.body, strings.Replace(want, "+", "&#43;", 1)) {
		t.Errorf("queued email's page lacks its return path %s…:\n%s", want, page.body)
	}
	res, detail := c.api(http.MethodGet, fmt.Sprintf("/api/v1/platform/outbox/%d", queued.ID), nil)
	if sender, _ := detail["envelope_sender"].(string); res.status != http.StatusOK || !strings.HasPrefix(sender, want) || !strings.HasSuffix(sender, "@bounce.example") {
		t.Errorf("API envelope sender: %d %s", res.status, res.body)
	}
}

// TestBouncesShowOnTheirPages records a learner's hard bounce and
// another's complaint through the bounce rules: the next lesson is not
// sent, the enrollment page shows the learner bounced, the bounce log and
// its API list both, and the complaint unsubscribed its learner.
func TestBouncesShowOnTheirPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app, sc, learn, mailer := newBounceSchool(t, db)
		rules := bounces.NewService(db, learn, bounces.Config{ReturnPaths: mailer.ReturnPaths(), BlockPlatformWide: true})
		admin := app.loggedIn(adminEmail, adminPassword)
		viewer := sc.member("viewer@example.com", access.Viewer)
		firstLesson := func(email string) store.MailMessage {
			t.Helper()
			if res, body := admin.api(http.MethodPost, "/api/v1/organizations/1/enrollments", map[string]any{"email": email, "course_id": sc.courseID}); res.status != http.StatusCreated {
				t.Fatalf("enroll %s: %d %v", email, res.status, body)
			}
			var found store.MailMessage
			storetest.Eventually(t, 10*time.Second, "the first lesson to "+email, func() bool {
				list, err := db.Read().ListMailMessages(ctx, 0, 100)
				for _, m := range list {
					if err == nil && m.Recipient == email && m.Kind == string(mail.KindLesson) && m.Status == store.MailStored {
						found = m
						return true
					}
				}
				return false
			})
			return found
		}
		ada, bob := firstLesson("ada@example.com"), firstLesson("bob@example.com")
		if !strings.HasPrefix(ada.Sender, "bounces+") {
			t.Fatalf("the lesson went out from %q, not its return path", ada.Sender)
		}
		reports := []bounces.Report{
			{Kind: bounces.Hard, Recipient: "ada@example.com", ReturnPath: ada.Sender, Diagnostic: "550 5.1.1 <ada@example.com>: no such user",
				Source: "mailbox", SourceID: "<dsn-1@mx.example>"},
			{Kind: bounces.Complaint, Recipient: "bob@example.com", MessageID: bob.MessageID, Source: "ses", SourceID: "feedback-1"},
		}
		for _, r := range reports {
			if err := rules.Record(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if got := sc.status("bob@example.com"); got != string(store.EnrollmentUnsubscribed) {
			t.Errorf("after a complaint the enrollment is %s, want unsubscribed", got)
		}
		adaEnrollment := sc.enrollment("ada@example.com")
		page := admin.get(fmt.Sprintf("/email-learning/platform/organizations/1/enrollments/%d/", adaEnrollment.ID))
		for _, want := range []string{"status-bounced", "no such user", "Hard bounce", "status-cancelled\">cancelled"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("enrollment page lacks %q:\n%s", want, page.body)
			}
		}
		log := viewer.get("/email-learning/platform/organizations/1/bounces/")
		for _, want := range []string{"ada@example.com", "bob@example.com", "Complaint", "no such user", ">Go basics: One<"} {
			if log.status != http.StatusOK || !strings.Contains(log.body, want) {
				t.Errorf("bounce log lacks %q (%d):\n%s", want, log.status, log.body)
			}
		}
		res, body := viewer.api(http.MethodGet, "/api/v1/organizations/1/bounces", nil)
		items, _ := body["items"].([]any)
		if res.status != http.StatusOK || len(items) != 2 || items[0].(map[string]any)["kind"] != "complaint" || body["next_cursor"] != "" {
			t.Fatalf("bounce log API: %d %s", res.status, res.body)
		}
		if first := items[1].(map[string]any); first["email"] != "ada@example.com" || first["source"] != "mailbox" ||
			first["enrollment_id"] != float64(adaEnrollment.ID) || first["subject"] != "Go basics: One" {
			t.Errorf("hard bounce in the API: %v", first)
		}
		// The email report counts them on today's line.
		res, report := viewer.api(http.MethodGet, "/api/v1/organizations/1/reports", nil)
		series, _ := report["series"].(map[string]any)
		days, _ := series["emails"].([]any)
		if res.status != http.StatusOK || len(days) == 0 {
			t.Fatalf("reports: %d %s", res.status, res.body)
		}
		if today := days[len(days)-1].(map[string]any); today["bounced"] != float64(1) || today["complaints"] != float64(1) {
			t.Errorf("today's emails in the report: %v", today)
		}
		// An admin lifts Ada's block with a note, which the audit log keeps.
		long := map[string]string{"email": "ada@example.com", "note": strings.Repeat("x", 501)}
		if res, _ := admin.api(http.MethodDelete, "/api/v1/organizations/1/blocked-emails", long); res.status != http.StatusUnprocessableEntity {
			t.Errorf("unblock with a note too long: %d %s", res.status, res.body)
		}
		if res := admin.post("/email-learning/platform/organizations/1/blocked-emails/remove",
			url.Values{"email": {"ada@example.com"}, "note": {"Her mailbox works again."}}); res.status != http.StatusSeeOther {
			t.Fatalf("unblock: %d %s", res.status, res.body)
		}
		audit := admin.get("/email-learning/platform/organizations/1/audit/")
		for _, want := range []string{"Address unblocked", "Her mailbox works again.", "Address blocked after a bounce", "mailschool"} {
			if !strings.Contains(audit.body, want) {
				t.Errorf("audit log lacks %q:\n%s", want, audit.body)
			}
		}
		// The second lesson never goes out to either learner.
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			if n := len(app.mails(email, mail.KindLesson)); n != 1 {
				t.Errorf("%s got %d lessons, want the first only", email, n)
			}
		}
	})
}

// newBounceSchool is an app whose emails go out from return paths, with
// a school whose course has two lessons a day apart, and the app's
// learning and mail services for the bounce rules.
func newBounceSchool(t *testing.T, db *store.DB) (*testApp, school, *learning.Service, *mail.Service) {
	t.Helper()
	ctx := context.Background()
	var learn *learning.Service
	var mailer *mail.Service
	app := newTestApp(t, db, withReturnPaths(t), func(o *Options) {
		mailer = o.Mail
		learn = learning.NewService(o.DB, learning.Config{Mail: o.Mail, BaseURL: o.BaseURL, SecretKey: o.SecretKey})
		o.Learning = learn
	})
	sc := newSchool(t, app)
	err := db.InTx(ctx, func(q *store.Queries) error {
		for i, title := range []string{"One", "Two"} {
			if _, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID, Kind: store.KindLesson,
				Title: title, Body: "A lesson.", Published: true, WaitingPeriodSeconds: i * 24 * 3600}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return app, sc, learn, mailer
}
