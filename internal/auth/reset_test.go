package auth

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

const oldPassword = "correct horse battery"

// clock is a time that tests set; the job workers read it concurrently.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newResetAccounts returns the account service over db on a clock the test
// sets, with the mail outbox; work says whether job workers run (the mail
// queue, with the reset and send workers) or jobs are only inserted.
func newResetAccounts(t *testing.T, db *store.DB, work bool) (*Accounts, *clock) {
	t.Helper()
	mailer, err := mail.NewService(db, mail.Config{
		From: "mailschool <noreply@localhost>", BaseURL: "http://localhost",
		Transport: mail.Outbox{}, TransportName: "outbox",
	})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAccounts(db, mailer)
	c := &clock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	a.now = c.now
	workers := river.NewWorkers()
	mailer.AddWorkers(workers)
	a.AddWorkers(workers)
	if work {
		storetest.StartJobs(t, db, workers, mail.Queue)
	} else if _, err := db.NewJobs(&river.Config{Workers: workers}); err != nil {
		t.Fatal(err)
	}
	return a, c
}

func createUser(t *testing.T, db *store.DB, email, password string) store.User {
	t.Helper()
	hash, err := HashPassword(t.Context(), password)
	if err != nil {
		t.Fatal(err)
	}
	var u store.User
	err = db.InTx(context.Background(), func(q *store.Queries) error {
		u, err = q.CreateUser(context.Background(), store.NewUser{Email: email, PasswordHash: hash})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// mailsOfKind returns the recorded messages of a kind, newest first.
func mailsOfKind(t *testing.T, db *store.DB, kind mail.Kind) []store.MailMessage {
	t.Helper()
	all, err := db.Read().ListMailMessages(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var list []store.MailMessage
	for _, m := range all {
		if m.Kind == string(kind) {
			list = append(list, m)
		}
	}
	return list
}

var resetLink = regexp.MustCompile(`http://localhost/accounts/reset/([A-Za-z0-9_-]+)/`)

// resetToken reads the token from the link in a password_reset email; the
// text and HTML parts must carry the same one.
func resetToken(t *testing.T, db *store.DB, m store.MailMessage) string {
	t.Helper()
	m, err := db.Read().MailMessageByID(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mail.Parse(m.Raw)
	if err != nil {
		t.Fatal(err)
	}
	text, html := resetLink.FindStringSubmatch(p.Text), resetLink.FindStringSubmatch(p.HTML)
	if text == nil || html == nil || text[1] != html[1] {
		t.Fatalf("no reset link, or two different ones, in the email:\n%s\n%s", p.Text, p.HTML)
	}
	return text[1]
}

// issue runs the reset job's work for email and returns the token emailed.
func issue(t *testing.T, a *Accounts, db *store.DB, email string) string {
	t.Helper()
	before := len(mailsOfKind(t, db, mail.KindPasswordReset))
	if err := a.sendPasswordReset(context.Background(), email); err != nil {
		t.Fatal(err)
	}
	list := mailsOfKind(t, db, mail.KindPasswordReset)
	if len(list) != before+1 || list[0].Recipient != email {
		t.Fatalf("password_reset emails: %d before, %+v after; want one more, to %s", before, list, email)
	}
	return resetToken(t, db, list[0])
}

func TestPasswordResetRequestJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, _ := newResetAccounts(t, db, true)
		createUser(t, db, "ada@example.com", oldPassword)

		if err := a.RequestPasswordReset(ctx, ResetRequest{Email: "not an address"}); err != ErrInvalidEmail {
			t.Errorf("malformed address: err = %v, want ErrInvalidEmail", err)
		}
		for _, r := range []ResetRequest{{Email: "nobody@example.com"}, {Email: " ADA@Example.com "}, {Email: "ada@example.com", OverLimit: true}} {
			if err := a.RequestPasswordReset(ctx, r); err != nil {
				t.Fatalf("request for %q: %v", r.Email, err)
			}
		}
		storetest.Eventually(t, 10*time.Second, "the reset jobs to finish", func() bool {
			n, err := db.UnfinishedJobs(ctx, ResetRequestArgs{}.Kind())
			return err == nil && n == 0
		})
		list := mailsOfKind(t, db, mail.KindPasswordReset)
		if len(list) != 1 || list[0].Recipient != "ada@example.com" || list[0].Subject != "Set a new mailschool password" {
			t.Fatalf("password_reset emails = %+v; want one, to ada", list)
		}
		token := resetToken(t, db, list[0])
		if err := a.CheckResetToken(ctx, token); err != nil {
			t.Errorf("the emailed link: %v", err)
		}
	})
}

func TestPasswordResetLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, c := newResetAccounts(t, db, false)
		ada := createUser(t, db, "ada@example.com", oldPassword)
		t0 := c.now()
		const newPassword = "a brand new secret"

		// Unknown addresses get nothing.
		if err := a.sendPasswordReset(ctx, "nobody@example.com"); err != nil {
			t.Fatal(err)
		}
		if list := mailsOfKind(t, db, mail.KindPasswordReset); len(list) != 0 {
			t.Fatalf("an unknown address got %d emails", len(list))
		}

		old := issue(t, a, db, "ada@example.com")
		tampered := []byte(old)
		tampered[len(tampered)/2] ^= 1 // one character changed, still base64url
		for name, token := range map[string]string{"tampered": string(tampered), "empty": "", "unknown": "x" + old} {
			if err := a.CheckResetToken(ctx, token); err != ErrResetLinkInvalid {
				t.Errorf("check %s token: err = %v, want ErrResetLinkInvalid", name, err)
			}
			if _, err := a.ResetPassword(ctx, token, newPassword, newPassword); err != ErrResetLinkInvalid {
				t.Errorf("reset with %s token: err = %v, want ErrResetLinkInvalid", name, err)
			}
		}

		// One hour later the link is dead, and using it changes nothing.
		c.set(t0.Add(ResetValidity - time.Second))
		if err := a.CheckResetToken(ctx, old); err != nil {
			t.Errorf("link a second before it expires: %v", err)
		}
		c.set(t0.Add(ResetValidity))
		if err := a.CheckResetToken(ctx, old); err != ErrResetLinkExpired {
			t.Errorf("check expired link: err = %v, want ErrResetLinkExpired", err)
		}
		if _, err := a.ResetPassword(ctx, old, newPassword, newPassword); err != ErrResetLinkExpired {
			t.Errorf("reset with expired link: err = %v, want ErrResetLinkExpired", err)
		}
		if _, err := a.SessionUser(ctx, ada.ID, ada.SessionEpoch); err != nil {
			t.Errorf("an expired link ended the session: %v", err)
		}
		if _, err := a.Authenticate(ctx, "ada@example.com", oldPassword); err != nil {
			t.Errorf("an expired link changed the password: %v", err)
		}
		if list := mailsOfKind(t, db, mail.KindPasswordChanged); len(list) != 0 {
			t.Errorf("an expired link sent %d password_changed emails", len(list))
		}

		// Two fresh links: a refused password uses neither.
		c.set(t0.Add(2 * time.Hour))
		first := issue(t, a, db, "ada@example.com")
		second := issue(t, a, db, "ada@example.com")
		c.set(t0.Add(2*time.Hour + 10*time.Minute))
		for _, bad := range []struct{ password, confirm, field string }{
			{"password1", "password1", "password"},
			{"short", "short", "password"},
			{newPassword, newPassword + "!", "password_confirm"},
		} {
			_, err := a.ResetPassword(ctx, second, bad.password, bad.confirm)
			if p, ok := problem.As(err); !ok || p.Kind != problem.Invalid || p.Fields[bad.field] == "" {
				t.Errorf("reset to %q/%q: err = %v, want a problem on %s", bad.password, bad.confirm, err, bad.field)
			}
		}
		if err := a.CheckResetToken(ctx, second); err != nil {
			t.Fatalf("a refused password used the link: %v", err)
		}

		userID, err := a.ResetPassword(ctx, second, newPassword, newPassword)
		if err != nil || userID != ada.ID {
			t.Fatalf("reset = %d, %v; want ada's id", userID, err)
		}
		if _, err := a.SessionUser(ctx, ada.ID, ada.SessionEpoch); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session from before the reset: err = %v, want ErrNotFound", err)
		}
		if _, err := a.Authenticate(ctx, "ada@example.com", oldPassword); err == nil {
			t.Error("the old password still works")
		}
		if _, err := a.Authenticate(ctx, "ada@example.com", newPassword); err != nil {
			t.Errorf("the new password does not work: %v", err)
		}
		if list := mailsOfKind(t, db, mail.KindPasswordChanged); len(list) != 1 || list[0].Recipient != "ada@example.com" {
			t.Errorf("password_changed emails = %+v; want one, to ada", list)
		}

		// The used link is spent, and so is the other one issued with it.
		for name, token := range map[string]string{"used": second, "other unused": first, "expired": old} {
			if err := a.CheckResetToken(ctx, token); err != ErrResetLinkExpired {
				t.Errorf("check %s link: err = %v, want ErrResetLinkExpired", name, err)
			}
			if _, err := a.ResetPassword(ctx, token, "yet another secret", "yet another secret"); err != ErrResetLinkExpired {
				t.Errorf("reset with %s link: err = %v, want ErrResetLinkExpired", name, err)
			}
		}
		if _, err := a.Authenticate(ctx, "ada@example.com", newPassword); err != nil {
			t.Errorf("a spent link changed the password: %v", err)
		}
	})
}

func TestPasswordResetConcurrentSubmits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, _ := newResetAccounts(t, db, false)
		createUser(t, db, "ada@example.com", oldPassword)
		token := issue(t, a, db, "ada@example.com")

		passwords := []string{"first new secret", "second new secret", "third new secret", "fourth new secret"}
		errs := make([]error, len(passwords))
		var wg sync.WaitGroup
		for i, p := range passwords {
			wg.Go(func() { _, errs[i] = a.ResetPassword(ctx, token, p, p) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Errorf("submits %d and %d both succeeded", winner, i)
			case err != ErrResetLinkExpired:
				t.Errorf("submit %d: err = %v, want ErrResetLinkExpired", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no submit succeeded")
		}
		if _, err := a.Authenticate(ctx, "ada@example.com", passwords[winner]); err != nil {
			t.Errorf("the winning password does not work: %v", err)
		}
		if list := mailsOfKind(t, db, mail.KindPasswordChanged); len(list) != 1 {
			t.Errorf("%d password_changed emails, want 1", len(list))
		}
	})
}

// TestSweepPasswordResets deletes the reset links that expired more than
// ResetRetention ago, and no others.
func TestSweepPasswordResets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		a := NewAccounts(db, nil)
		a.now = func() time.Time { return now }
		expiredAgo := map[string]time.Duration{"old": ResetRetention + time.Hour, "recent": ResetRetention - time.Hour, "open": -time.Hour}
		err := db.InTx(ctx, func(q *store.Queries) error {
			u, err := q.CreateUser(ctx, store.NewUser{Email: "ada@example.com"})
			if err != nil {
				return err
			}
			for hash, ago := range expiredAgo {
				expires := now.Add(-ago)
				if _, err := q.CreatePasswordReset(ctx, store.NewPasswordReset{UserID: u.ID, TokenHash: hash,
					CreatedAt: expires.Add(-ResetValidity), ExpiresAt: expires}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := a.SweepPasswordResets(ctx); err != nil || n != 1 {
			t.Fatalf("swept %d, %v; want the old link", n, err)
		}
		for hash := range expiredAgo {
			_, err := db.Read().PasswordResetByTokenHash(ctx, hash)
			if gone := errors.Is(err, store.ErrNotFound); gone != (hash == "old") {
				t.Errorf("link %q: %v", hash, err)
			}
		}
	})
}
