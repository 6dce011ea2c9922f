package web

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// createStaff adds an active user who is not a platform admin.
func createStaff(t *testing.T, db *store.DB, email, password string) {
	t.Helper()
	hash, err := auth.HashPassword(context.Background(), password)
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTx(context.Background(), func(q *store.Queries) error {
		_, err := q.CreateUser(context.Background(), store.NewUser{Email: email, PasswordHash: hash})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPasswordChangeEmailLandsInTheOutbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)
		res := c.post("/accounts/password_change/", url.Values{
			"old_password": {adminPassword}, "new_password": {"brand new secret"}, "password_confirm": {"brand new secret"}})
		if res.status != 303 {
			t.Fatalf("password change: %d", res.status)
		}
		var msg store.MailMessage
		storetest.Eventually(t, 10*time.Second, "the email to be stored", func() bool {
			list, err := db.Read().ListMailMessages(context.Background(), 0, 10)
			if err != nil || len(list) != 1 {
				return false
			}
			msg = list[0]
			return msg.Status == store.MailStored
		})
		if msg.Recipient != adminEmail || msg.Kind != "password_changed" || msg.Attempts != 1 || msg.Transport != "outbox" || msg.SentAt == nil {
			t.Errorf("recorded message = %+v", msg)
		}

		list := c.get("/email-learning/platform/outbox/")
		for _, want := range []string{"Your mailschool password was changed", adminEmail, "stored", fmt.Sprintf("/email-learning/platform/outbox/%d/", msg.ID),
			"<td>Password changed</td>"} {
			if !strings.Contains(list.body, want) {
				t.Errorf("outbox list lacks %q\n%s", want, list.body)
			}
		}
		detail := c.get(fmt.Sprintf("/email-learning/platform/outbox/%d/", msg.ID))
		for _, want := range []string{"Every other session of the account was logged out.", "Message-ID", "<iframe", "sandbox", "<dd>Password changed</dd>"} {
			if !strings.Contains(detail.body, want) {
				t.Errorf("message page lacks %q", want)
			}
		}
		html := c.get(fmt.Sprintf("/email-learning/platform/outbox/%d/html", msg.ID))
		if !strings.Contains(html.body, "Your password was changed") || !strings.HasPrefix(html.header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("HTML part: CSP %q\n%s", html.header.Get("Content-Security-Policy"), html.body)
		}
		raw := c.get(fmt.Sprintf("/email-learning/platform/outbox/%d/raw", msg.ID))
		if !strings.HasPrefix(raw.header.Get("Content-Type"), "text/plain") || !strings.Contains(raw.body, "Message-ID: <"+msg.MessageID+">") {
			t.Errorf("raw source: %s\n%s", raw.header.Get("Content-Type"), raw.body)
		}
		if res := c.get("/email-learning/platform/outbox/999999/"); res.status != 404 {
			t.Errorf("unknown message: %d, want 404", res.status)
		}
		if res := c.get("/email-learning/platform/outbox/abc/"); res.status != 404 {
			t.Errorf("malformed id: %d, want 404", res.status)
		}
	})
}

func TestOutboxIsForPlatformAdmins(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		createStaff(t, db, "staff@example.com", "staff password 1")
		staff := app.loggedIn("staff@example.com", "staff password 1")
		anonymous := app.client()
		for _, path := range []string{"/email-learning/platform/outbox/", "/email-learning/platform/outbox/1/",
			"/email-learning/platform/outbox/1/html", "/email-learning/platform/outbox/1/raw"} {
			if res := staff.get(path); res.status != 403 {
				t.Errorf("staff GET %s: %d, want 403", path, res.status)
			}
			if res := anonymous.get(path); res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), "/accounts/login/") {
				t.Errorf("anonymous GET %s: %d, want a redirect to login", path, res.status)
			}
		}
		if strings.Contains(staff.get("/email-learning/platform/").body, "/email-learning/platform/outbox/") {
			t.Error("staff see a link to the outbox")
		}
	})
}

func TestOutboxPages(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	ctx := context.Background()
	err := db.InTx(ctx, func(q *store.Queries) error {
		for i := range 55 {
			_, err := q.CreateMailMessage(ctx, store.NewMailMessage{Kind: "test", Sender: "a@example.com",
				Recipient: fmt.Sprintf("r%02d@example.com", i), Subject: fmt.Sprintf("message %02d", i),
				MessageID: fmt.Sprintf("m%d@example.com", i), Raw: []byte("Subject: x\r\n\r\nbody")})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := app.loggedIn(adminEmail, adminPassword)
	first := c.get("/email-learning/platform/outbox/")
	if !strings.Contains(first.body, "message 54") || strings.Contains(first.body, "message 04") || !strings.Contains(first.body, "Older messages") {
		t.Fatalf("first page does not hold the 50 newest with a link onwards")
	}
	start := strings.Index(first.body, "/email-learning/platform/outbox/?before=")
	next := first.body[start : start+strings.IndexByte(first.body[start:], '"')]
	second := c.get(next)
	if !strings.Contains(second.body, "message 04") || !strings.Contains(second.body, "message 00") ||
		strings.Contains(second.body, "message 05") || strings.Contains(second.body, "Older messages") {
		t.Errorf("second page is not the 5 oldest:\n%s", second.body)
	}
}
