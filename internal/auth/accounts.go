package auth

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Errors of the account rules. Their texts are plain sentences that the web
// layer may show as they are.
var (
	ErrInvalidCredentials = problem.New(problem.Unauthenticated, "invalid_credentials", "Please enter a correct email and password.")
	ErrWrongPassword      = problem.Field("old_password", "wrong_password", "Your old password was entered incorrectly.")
	ErrInvalidEmail       = problem.Field("email", "invalid_email", "Enter a valid email address.")
	ErrPasswordMismatch   = problem.Field("password_confirm", "password_mismatch", "The two passwords do not match.")
	ErrPasswordRequired   = problem.Field("password", "password_required", "A password is required for a new account.")
)

// MaxEmailBytes is the longest address SMTP can carry (RFC 5321 path limit).
const MaxEmailBytes = 254

// NormalizeEmail trims and lower-cases an address and checks that it is a
// bare address (no display name). Addresses are compared in this form.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" || len(email) > MaxEmailBytes {
		return "", ErrInvalidEmail
	}
	addr, err := netmail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", ErrInvalidEmail
	}
	return email, nil
}

// MailboxKey is what limits per address count a normalized address
// under: the mailbox it reaches. Most providers deliver ada+anything@ to
// ada@, so the +tag is taken off; counted as typed, each tag would get
// the limit afresh and one inbox could be flooded through them. Addresses
// are still stored as typed.
func MailboxKey(normalized string) string {
	at := strings.LastIndexByte(normalized, '@')
	if at < 0 {
		return normalized
	}
	local, domain := normalized[:at], normalized[at:]
	if plus := strings.IndexByte(local, '+'); plus >= 0 {
		local = local[:plus]
	}
	return local + domain
}

// Accounts applies the account rules on top of the store.
type Accounts struct {
	db   *store.DB
	mail *mail.Service
	now  func() time.Time // decides reset link expiry; tests turn it
}

// NewAccounts returns the account service backed by db, sending its
// notifications through mailer. Commands that only create admins, which
// sends nothing, may pass a nil mailer.
func NewAccounts(db *store.DB, mailer *mail.Service) *Accounts {
	return &Accounts{db: db, mail: mailer, now: time.Now}
}

// Authenticate checks an email and password. Unknown addresses, inactive
// accounts and wrong passwords all give ErrInvalidCredentials after the same
// amount of hashing work, so the answer does not tell which accounts exist.
func (a *Accounts) Authenticate(ctx context.Context, email, password string) (store.User, error) {
	normalized, err := NormalizeEmail(email)
	if err != nil || len(password) > MaxPasswordBytes {
		return store.User{}, a.refuseLogin(ctx, password)
	}
	user, err := a.db.Read().UserByEmail(ctx, normalized)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, a.refuseLogin(ctx, password)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("authenticate %s: %w", normalized, err)
	}
	match, err := CheckPassword(ctx, user.PasswordHash, password)
	if err != nil {
		return store.User{}, fmt.Errorf("authenticate %s: %w", normalized, err)
	}
	if !match || !user.IsActive {
		return store.User{}, ErrInvalidCredentials
	}
	if err := a.db.InTx(ctx, func(q *store.Queries) error { return q.RecordLogin(ctx, user.ID) }); err != nil {
		return store.User{}, fmt.Errorf("authenticate %s: %w", normalized, err)
	}
	return user, nil
}

// refuseLogin answers a login that no account matches after checking the
// password against the dummy hash, the work a wrong password costs.
func (a *Accounts) refuseLogin(ctx context.Context, password string) error {
	if _, err := CheckPassword(ctx, dummyHash(), password); err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	return ErrInvalidCredentials
}

// SessionUser returns the active user a login session belongs to. A session
// whose epoch is older than the user's (the password changed since) is no
// longer valid and gives store.ErrNotFound.
func (a *Accounts) SessionUser(ctx context.Context, userID, epoch int64) (store.User, error) {
	user, err := a.sessionUser(ctx, userID)
	if err != nil {
		return store.User{}, err
	}
	if !user.IsActive || user.SessionEpoch != epoch {
		return store.User{}, store.ErrNotFound
	}
	return user, nil
}

// sessionUser returns the user userID, read with the session when the
// session store did (store.WithSessionUser).
func (a *Accounts) sessionUser(ctx context.Context, userID int64) (store.User, error) {
	if found, ok := store.SessionUserOf(ctx); ok && found.User.ID == userID {
		return found.User, nil
	}
	return a.db.Read().UserByID(ctx, userID)
}

// ConfirmPassword checks that password is user's, for a change that asks
// for it again (ErrWrongPassword when it is not).
func ConfirmPassword(ctx context.Context, user store.User, password string) error {
	// A password longer than any that can be set cannot be theirs, and
	// needs no hashing to tell.
	if len(password) > MaxPasswordBytes {
		return ErrWrongPassword
	}
	match, err := CheckPassword(ctx, user.PasswordHash, password)
	if err != nil {
		return fmt.Errorf("check the password of %s: %w", user.Email, err)
	}
	if !match {
		return ErrWrongPassword
	}
	return nil
}

// ChangePassword replaces the password of user after checking the old one,
// which ends the user's other sessions, and tells the user by email. It
// returns the new session epoch for the caller's own session.
func (a *Accounts) ChangePassword(ctx context.Context, user store.User, oldPassword, newPassword, confirm string) (int64, error) {
	if a.mail == nil {
		return 0, errors.New("change password: accounts service has no mailer")
	}
	if err := ConfirmPassword(ctx, user, oldPassword); err != nil {
		return 0, err
	}
	hash, err := NewPasswordHash(ctx, newPassword, confirm)
	if err != nil {
		return 0, err
	}
	var epoch int64
	err = a.db.InTx(ctx, func(q *store.Queries) error {
		if epoch, err = q.SetPassword(ctx, user.ID, hash); err != nil {
			return err
		}
		if err := q.EndEmailChanges(ctx, user.ID, time.Now()); err != nil {
			return err
		}
		_, err = a.mail.Enqueue(ctx, q, mail.Email{
			Kind: mail.KindPasswordChanged,
			To:   user.Email,
			Data: mail.PasswordChanged{ChangedAt: time.Now().UTC()},
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("change password of %s: %w", user.Email, err)
	}
	return epoch, nil
}

// CreateSuperuser makes email a platform admin. A new account needs a
// password; an existing one is promoted, and its password and name replaced
// only when given. It reports whether the account was created.
func (a *Accounts) CreateSuperuser(ctx context.Context, email, password, name string) (store.User, bool, error) {
	normalized, err := NormalizeEmail(email)
	if err != nil {
		return store.User{}, false, err
	}
	if name != "" {
		if name, err = CleanName(name); err != nil {
			return store.User{}, false, err
		}
	}
	var hash string
	if password != "" {
		if err := ValidatePassword(password); err != nil {
			return store.User{}, false, err
		}
		if hash, err = HashPassword(ctx, password); err != nil {
			return store.User{}, false, err
		}
	}
	var (
		user    store.User
		created bool
	)
	err = a.db.InTx(ctx, func(q *store.Queries) error {
		existing, err := q.UserByEmail(ctx, normalized)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if hash == "" {
				return ErrPasswordRequired
			}
			user, err = q.CreateUser(ctx, store.NewUser{Email: normalized, Name: name, PasswordHash: hash, IsPlatformAdmin: true})
			created = err == nil
			return err
		case err != nil:
			return err
		}
		if err := q.SetPlatformAdmin(ctx, existing.ID, true); err != nil {
			return err
		}
		if hash != "" {
			if _, err := q.SetPassword(ctx, existing.ID, hash); err != nil {
				return err
			}
		}
		if name != "" {
			if err := q.SetUserName(ctx, existing.ID, name); err != nil {
				return err
			}
		}
		user, err = q.UserByID(ctx, existing.ID)
		return err
	})
	if err != nil {
		return store.User{}, false, fmt.Errorf("create superuser %s: %w", normalized, err)
	}
	return user, created, nil
}
