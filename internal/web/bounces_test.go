package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

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
