package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/mailbox"
	"github.com/mailschool/mailschool/internal/bounces/mailbox/mailboxtest"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBounceMailboxShowsOnTheEnrollmentPage answers a learner's first
// lesson with a DSN and another's with a complaint, both in the bounce
// mailbox: once it is read, the enrollment page shows the first learner
// bounced, the second lesson goes to neither, and the complaint
// unsubscribed its learner.
func TestBounceMailboxShowsOnTheEnrollmentPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app, sc, learn, mailer := newBounceSchool(t, db)
		rules := bounces.NewService(db, learn, bounces.Config{ReturnPaths: mailer.ReturnPaths()})
		admin := app.loggedIn(adminEmail, adminPassword)
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

		imap := mailboxtest.StartIMAP(t, false)
		imap.Add(t, mailboxtest.DSN(ada.Sender, "ada@example.com", ada.MessageID, "5.1.1"))
		imap.Add(t, mailboxtest.ARF(bob.Sender, "bob@example.com", bob.MessageID))
		poller, err := mailbox.New(mailbox.Config{URL: imap.URL(""), Recorder: rules, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := poller.Poll(ctx); err != nil || res.Reports != 2 {
			t.Fatalf("poll: %+v, %v", res, err)
		}

		page := admin.get(fmt.Sprintf("/email-learning/platform/organizations/1/enrollments/%d/", sc.enrollment("ada@example.com").ID))
		for _, want := range []string{"status-bounced", "5.1.1", "Hard bounce", "status-cancelled\">cancelled"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("enrollment page lacks %q:\n%s", want, page.body)
			}
		}
		if got := sc.status("bob@example.com"); got != string(store.EnrollmentUnsubscribed) {
			t.Errorf("after a complaint the enrollment is %s, want unsubscribed", got)
		}
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			if n := len(app.mails(email, mail.KindLesson)); n != 1 {
				t.Errorf("%s got %d lessons, want the first only", email, n)
			}
		}
	})
}
