package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const goodPassword = "correct horse battery"

// newAccounts returns the account service over db, with a mailer whose
// messages are recorded and queued but not worked, so tests can read them.
func newAccounts(t *testing.T, db *store.DB) *auth.Accounts {
	t.Helper()
	mailer, err := mail.NewService(db, mail.Config{
		From: "mailschool <noreply@localhost>", BaseURL: "http://localhost",
		Transport: mail.Outbox{}, TransportName: "outbox",
	})
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	mailer.AddWorkers(workers)
	if _, err := db.NewJobs(&river.Config{Workers: workers}); err != nil {
		t.Fatal(err)
	}
	return auth.NewAccounts(db, mailer)
}

func TestCreateSuperuser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newAccounts(t, db)

		if _, _, err := a.CreateSuperuser(ctx, "new@example.com", "", ""); !errors.Is(err, auth.ErrPasswordRequired) {
			t.Errorf("new account without password: err = %v, want ErrPasswordRequired", err)
		}
		if _, _, err := a.CreateSuperuser(ctx, "new@example.com", "password", ""); err == nil {
			t.Error("a common password was accepted")
		}
		if _, _, err := a.CreateSuperuser(ctx, "not an email", goodPassword, ""); !errors.Is(err, auth.ErrInvalidEmail) {
			t.Errorf("bad email: err = %v, want ErrInvalidEmail", err)
		}

		u, created, err := a.CreateSuperuser(ctx, " Root@Example.com", goodPassword, "")
		if err != nil || !created || !u.IsPlatformAdmin || u.Email != "root@example.com" {
			t.Fatalf("create = %+v, %v, %v", u, created, err)
		}
		if _, err := a.Authenticate(ctx, "ROOT@example.com", goodPassword); err != nil {
			t.Errorf("log in with the new account: %v", err)
		}

		// Promoting an existing account keeps its password when none is given.
		if err := db.InTx(ctx, func(q *store.Queries) error {
			hash, _ := auth.HashPassword(context.Background(), "staff password 1")
			_, err := q.CreateUser(ctx, store.NewUser{Email: "staff@example.com", PasswordHash: hash})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		u, created, err = a.CreateSuperuser(ctx, "staff@example.com", "", "")
		if err != nil || created || !u.IsPlatformAdmin {
			t.Fatalf("promote = %+v, %v, %v", u, created, err)
		}
		if _, err := a.Authenticate(ctx, "staff@example.com", "staff password 1"); err != nil {
			t.Errorf("promotion changed the password: %v", err)
		}
		if _, _, err := a.CreateSuperuser(ctx, "staff@example.com", "staff password 2", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, "staff@example.com", "staff password 2"); err != nil {
			t.Errorf("a given password was not set on promotion: %v", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newAccounts(t, db)
		if _, _, err := a.CreateSuperuser(ctx, "ada@example.com", goodPassword, ""); err != nil {
			t.Fatal(err)
		}
		u, err := a.Authenticate(ctx, "ada@example.com", goodPassword)
		if err != nil {
			t.Fatalf("right password: %v", err)
		}
		after, _ := db.Read().UserByID(ctx, u.ID)
		if after.LastLoginAt == nil {
			t.Error("last login not recorded")
		}

		// One answer for every kind of failure: nothing tells which accounts exist.
		for _, c := range []struct{ email, password string }{
			{"ada@example.com", "wrong password"},
			{"nobody@example.com", goodPassword},
			{"not an email", goodPassword},
			{"ada@example.com", ""},
		} {
			_, err := a.Authenticate(ctx, c.email, c.password)
			if err != auth.ErrInvalidCredentials {
				t.Errorf("Authenticate(%q, %q) = %v, want exactly ErrInvalidCredentials", c.email, c.password, err)
			}
		}
	})
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newAccounts(t, db)
		u, _, err := a.CreateSuperuser(ctx, "ada@example.com", goodPassword, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.SessionUser(ctx, u.ID, u.SessionEpoch); err != nil {
			t.Fatalf("session before the change: %v", err)
		}

		for _, c := range []struct {
			old, new, confirm, field string
		}{
			{"wrong", "new password 42", "new password 42", "old_password"},
			{goodPassword, "new password 42", "new password 43", "password_confirm"},
			{goodPassword, "short", "short", "password"},
		} {
			_, err := a.ChangePassword(ctx, u, c.old, c.new, c.confirm)
			if p, ok := problem.As(err); !ok || p.Fields[c.field] == "" {
				t.Errorf("ChangePassword(%q, %q, %q) = %v, want a problem on %s", c.old, c.new, c.confirm, err, c.field)
			}
		}
		if _, err := a.SessionUser(ctx, u.ID, u.SessionEpoch); err != nil {
			t.Fatalf("a refused change ended the session: %v", err)
		}

		if msgs, _ := db.Read().ListMailMessages(ctx, 0, 10); len(msgs) != 0 {
			t.Errorf("refused changes sent %d emails", len(msgs))
		}
		epoch, err := a.ChangePassword(ctx, u, goodPassword, "new password 42", "new password 42")
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := db.Read().ListMailMessages(ctx, 0, 10)
		if err != nil || len(msgs) != 1 || msgs[0].Kind != "password_changed" || msgs[0].Recipient != "ada@example.com" || msgs[0].Status != store.MailQueued {
			t.Errorf("emails after the change = %+v, %v; want one queued password_changed to ada", msgs, err)
		}
		if _, err := a.SessionUser(ctx, u.ID, u.SessionEpoch); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session with the old epoch: err = %v, want ErrNotFound", err)
		}
		if _, err := a.SessionUser(ctx, u.ID, epoch); err != nil {
			t.Errorf("session with the new epoch: %v", err)
		}
		if _, err := a.Authenticate(ctx, "ada@example.com", goodPassword); err == nil {
			t.Error("the old password still works")
		}
		if _, err := a.Authenticate(ctx, "ada@example.com", "new password 42"); err != nil {
			t.Errorf("the new password does not work: %v", err)
		}
	})
}
