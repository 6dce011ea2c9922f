package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// EmailChangeValidity is how long the link to confirm a new address works.
const EmailChangeValidity = 24 * time.Hour

// Limits on address changes per account: each sends two emails, one of
// them to an address of the user's choosing.
const (
	EmailChangesPerHour = 3
	EmailChangesPerDay  = 10
	// EmailChangeLinksPerAddressPerDay bounds the links one mailbox gets,
	// whoever asks: over it the request is answered the same, and no link
	// is sent.
	EmailChangeLinksPerAddressPerDay = 3
)

// Errors of address changes.
var (
	ErrSameEmail  = problem.Field("email", "email_unchanged", "That is already your address.")
	ErrEmailTaken = problem.FieldConflict("email", "email_taken",
		"Another account has this address, so it cannot become yours.")
	ErrTooManyEmailChanges = problem.New(problem.Throttled, "too_many_email_changes",
		"You asked to change your address too often. Try again later.")
	ErrEmailChangeLinkInvalid = problem.New(problem.NotFound, "email_change_link_invalid",
		"This link to confirm a new address is not valid.")
	ErrEmailChangeLinkExpired = problem.New(problem.Gone, "email_change_link_expired",
		"This link to confirm a new address has expired or was already used. Ask for the change again on your profile.")
)

// RequestEmailChange asks for user's address to become newEmail, once they
// have typed their password again: a link goes to the new address, and a
// notice to the current one. Nothing changes until the link is used, and a
// password change or reset, or logging out everywhere else, ends the
// waiting changes: the notice tells the owner to do that when they did not
// ask. An
// address another account has is accepted here like any other, so that the
// answer does not tell whether it has an account; the link then says so
// to whoever reads that mailbox.
func (a *Accounts) RequestEmailChange(ctx context.Context, user store.User, newEmail, password string) (string, error) {
	if a.mail == nil {
		return "", errors.New("request email change: accounts service has no mailer")
	}
	if err := ConfirmPassword(ctx, user, password); err != nil {
		return "", err
	}
	normalized, err := NormalizeEmail(newEmail)
	if err != nil {
		return "", problem.Field("email", "email_invalid", "Enter a valid email address.")
	}
	if normalized == user.Email {
		return "", ErrSameEmail
	}
	token, hash := NewToken()
	at := a.now().UTC()
	err = a.db.InTx(ctx, func(q *store.Queries) error {
		for _, limit := range []struct {
			within time.Duration
			most   int
		}{{time.Hour, EmailChangesPerHour}, {24 * time.Hour, EmailChangesPerDay}} {
			n, err := q.CountEmailChangesSince(ctx, user.ID, at.Add(-limit.within))
			if err != nil {
				return err
			}
			if n >= limit.most {
				return ErrTooManyEmailChanges
			}
		}
		toAddress, err := q.CountEmailChangesTo(ctx, normalized, at.Add(-24*time.Hour))
		if err != nil {
			return err
		}
		if err := q.CreateEmailChange(ctx, store.NewEmailChange{UserID: user.ID, NewEmail: normalized, TokenHash: hash,
			CreatedAt: at, ExpiresAt: at.Add(EmailChangeValidity)}); err != nil {
			return err
		}
		if toAddress < EmailChangeLinksPerAddressPerDay {
			if _, err := a.mail.Enqueue(ctx, q, mail.Email{Kind: mail.KindEmailChangeConfirm, To: normalized,
				Data: mail.EmailChangeConfirm{OldEmail: user.Email, Token: token, ExpiresAt: at.Add(EmailChangeValidity)}}); err != nil {
				return err
			}
		}
		_, err = a.mail.Enqueue(ctx, q, mail.Email{Kind: mail.KindEmailChangeRequested, To: user.Email,
			Data: mail.EmailChangeRequested{NewEmail: normalized}})
		return err
	})
	if p, ok := problem.As(err); ok {
		return "", p
	}
	if err != nil {
		return "", fmt.Errorf("request email change of %s: %w", user.Email, err)
	}
	return normalized, nil
}

// EmailChangeRequest is a waiting address change, as its link shows it.
type EmailChangeRequest struct {
	OldEmail, NewEmail string
}

// CheckEmailChange reports what the link token would change, without using
// it, so that link scanners that fetch the page change nothing.
func (a *Accounts) CheckEmailChange(ctx context.Context, token string) (EmailChangeRequest, error) {
	c, user, err := a.emailChange(ctx, a.db.Read(), token, a.now())
	if err != nil {
		return EmailChangeRequest{}, err
	}
	return EmailChangeRequest{OldEmail: user.Email, NewEmail: c.NewEmail}, nil
}

func (a *Accounts) emailChange(ctx context.Context, q *store.Queries, token string, at time.Time) (store.EmailChange, store.User, error) {
	c, err := q.EmailChangeByTokenHash(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.EmailChange{}, store.User{}, ErrEmailChangeLinkInvalid
	}
	if err != nil {
		return store.EmailChange{}, store.User{}, err
	}
	user, err := q.UserByID(ctx, c.UserID)
	if err != nil {
		return store.EmailChange{}, store.User{}, err
	}
	if !user.IsActive {
		return store.EmailChange{}, store.User{}, ErrEmailChangeLinkInvalid
	}
	if c.UsedAt != nil || !at.Before(c.ExpiresAt) {
		return store.EmailChange{}, store.User{}, ErrEmailChangeLinkExpired
	}
	return c, user, nil
}

// ConfirmEmailChange uses a link token: the user's address becomes the new
// one, their other waiting changes and their password reset links end,
// and every session of theirs ends
// (the session epoch is raised; the new one is returned with the user, for
// the caller to go on with a session of its own).
func (a *Accounts) ConfirmEmailChange(ctx context.Context, token string) (store.User, int64, error) {
	at := a.now().UTC()
	var (
		user  store.User
		epoch int64
	)
	err := a.db.InTx(ctx, func(q *store.Queries) error {
		c, u, err := a.emailChange(ctx, q, token, at)
		if err != nil {
			return err
		}
		if _, err := q.UserByEmail(ctx, c.NewEmail); err == nil {
			return ErrEmailTaken
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		used, err := q.UseEmailChange(ctx, HashToken(token), at)
		if err != nil {
			return err
		}
		if !used {
			return ErrEmailChangeLinkExpired
		}
		if err := q.EndEmailChanges(ctx, u.ID, at); err != nil {
			return err
		}
		// A reset link sent to the old address no longer opens the account.
		if _, err := q.EndPasswordResets(ctx, u.ID, at); err != nil {
			return err
		}
		if epoch, err = q.SetEmail(ctx, u.ID, c.NewEmail); errors.Is(err, store.ErrConflict) {
			return ErrEmailTaken
		} else if err != nil {
			return err
		}
		user, err = q.UserByID(ctx, u.ID)
		return err
	})
	if p, ok := problem.As(err); ok {
		return store.User{}, 0, p
	}
	if err != nil {
		return store.User{}, 0, fmt.Errorf("confirm email change: %w", err)
	}
	return user, epoch, nil
}

// SweepEmailChanges deletes the address changes that expired more than
// ResetRetention ago and reports how many.
func (a *Accounts) SweepEmailChanges(ctx context.Context) (int64, error) {
	var n int64
	err := a.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		n, err = q.DeleteEmailChangesExpiredBefore(ctx, a.now().Add(-ResetRetention))
		return err
	})
	return n, err
}
