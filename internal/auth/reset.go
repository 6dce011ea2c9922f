package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// ResetValidity is how long a password reset link works. The email says
// "one hour": change both together.
const ResetValidity = time.Hour

// Errors of password reset links. Neither tells whose link it was.
var (
	ErrResetLinkInvalid = problem.New(problem.NotFound, "reset_link_invalid",
		"This password reset link is not valid. Request a new one.")
	ErrResetLinkExpired = problem.New(problem.Gone, "reset_link_expired",
		"This password reset link has expired or was already used. Request a new one.")
)

// ResetRequest is a request for a password reset link.
type ResetRequest struct {
	Email string
	// OverLimit says that the caller's limit per mailbox ran out: the
	// request is taken like any other, and its job sends nothing.
	OverLimit bool
}

// RequestPasswordReset asks for a reset link to be emailed to r.Email. It
// only checks the address's shape and enqueues the job that does the rest,
// so that the answer, and the time it takes, are the same whether or not an
// account has the address, or the address is over its limit: looking the
// account up, creating the token and rendering the email all happen later,
// in the job.
func (a *Accounts) RequestPasswordReset(ctx context.Context, r ResetRequest) error {
	normalized, err := NormalizeEmail(r.Email)
	if err != nil {
		return err
	}
	err = a.db.InTx(ctx, func(q *store.Queries) error {
		_, err := q.Enqueue(ctx, ResetRequestArgs{Email: normalized, OverLimit: r.OverLimit}, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("request password reset for %s: %w", normalized, err)
	}
	return nil
}

// sendPasswordReset creates a reset link for the active account with the
// given normalized address and queues the email that carries it, in one
// transaction. Unknown and inactive addresses get nothing. Older unused
// links of the account stay valid, so every email the person asked for
// works until one of them is used.
func (a *Accounts) sendPasswordReset(ctx context.Context, email string) error {
	if a.mail == nil {
		return errors.New("send password reset: accounts service has no mailer")
	}
	token, hash := NewToken()
	at := a.now().UTC()
	err := a.db.InTx(ctx, func(q *store.Queries) error {
		user, err := q.UserByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !user.IsActive {
			return nil
		}
		_, err = q.CreatePasswordReset(ctx, store.NewPasswordReset{
			UserID: user.ID, TokenHash: hash, CreatedAt: at, ExpiresAt: at.Add(ResetValidity)})
		if err != nil {
			return err
		}
		_, err = a.mail.Enqueue(ctx, q, mail.Email{
			Kind: mail.KindPasswordReset,
			To:   user.Email,
			Data: mail.PasswordReset{Token: token},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("send password reset to %s: %w", email, err)
	}
	return nil
}

// CheckResetToken reports whether token opens the form to set a new
// password now: ErrResetLinkInvalid for a token never issued (or altered),
// ErrResetLinkExpired for one used or past its hour. It changes nothing, so
// link scanners that fetch the page do not use the link up.
func (a *Accounts) CheckResetToken(ctx context.Context, token string) error {
	_, err := a.resetUser(ctx, a.db.Read(), token, a.now())
	return err
}

// resetUser returns the user whose reset link token is, when the link is
// usable at the time at.
func (a *Accounts) resetUser(ctx context.Context, q *store.Queries, token string, at time.Time) (store.User, error) {
	reset, err := q.PasswordResetByTokenHash(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrResetLinkInvalid
	}
	if err != nil {
		return store.User{}, err
	}
	user, err := q.UserByID(ctx, reset.UserID)
	if err != nil {
		return store.User{}, err
	}
	// A deactivated account keeps no way back in through an old email.
	if !user.IsActive {
		return store.User{}, ErrResetLinkInvalid
	}
	if reset.UsedAt != nil || !at.Before(reset.ExpiresAt) {
		return store.User{}, ErrResetLinkExpired
	}
	return user, nil
}

// ResetPassword sets a new password through a reset link and returns the
// user's id. One transaction uses the link, ends the user's other unused
// links, sets the password (which raises the session epoch, so every
// session of the user ends) and queues the password_changed email. A
// refused password leaves the link as it was.
func (a *Accounts) ResetPassword(ctx context.Context, token, newPassword, confirm string) (int64, error) {
	if a.mail == nil {
		return 0, errors.New("reset password: accounts service has no mailer")
	}
	// The link first, so that a dead link is reported as dead rather than
	// as a bad password.
	if _, err := a.resetUser(ctx, a.db.Read(), token, a.now()); err != nil {
		return 0, err
	}
	// Hashed before the transaction, which on SQLite holds the only write
	// connection.
	hash, err := NewPasswordHash(ctx, newPassword, confirm)
	if err != nil {
		return 0, err
	}
	tokenHash := HashToken(token)
	at := a.now().UTC()
	var userID int64
	err = a.db.InTx(ctx, func(q *store.Queries) error {
		// The check above was outside the transaction; this conditional
		// update is what decides, so of two submits at once exactly one
		// sets the password.
		used, err := q.UsePasswordReset(ctx, tokenHash, at)
		if err != nil {
			return err
		}
		if !used {
			return ErrResetLinkExpired
		}
		reset, err := q.PasswordResetByTokenHash(ctx, tokenHash)
		if err != nil {
			return err
		}
		user, err := q.UserByID(ctx, reset.UserID)
		if err != nil {
			return err
		}
		if !user.IsActive {
			return ErrResetLinkInvalid // rolls the use back with the rest
		}
		if _, err := q.EndPasswordResets(ctx, user.ID, at); err != nil {
			return err
		}
		if _, err := q.SetPassword(ctx, user.ID, hash); err != nil {
			return err
		}
		if err := q.EndEmailChanges(ctx, user.ID, at); err != nil {
			return err
		}
		userID = user.ID
		_, err = a.mail.Enqueue(ctx, q, mail.Email{
			Kind: mail.KindPasswordChanged,
			To:   user.Email,
			Data: mail.PasswordChanged{ChangedAt: at, ByResetLink: true},
		})
		return err
	})
	if p, ok := problem.As(err); ok {
		return 0, p // as it is, not wrapped by the transaction
	}
	if err != nil {
		return 0, fmt.Errorf("reset password: %w", err)
	}
	return userID, nil
}

// ResetRequestArgs is the job that emails a password reset link when the
// address belongs to an active account.
type ResetRequestArgs struct {
	Email     string `json:"email"` // normalized
	OverLimit bool   `json:"over_limit,omitempty"`
}

// Kind names the job for River.
func (ResetRequestArgs) Kind() string { return "password_reset_request" }

// InsertOpts puts the job on the mail queue: its work is to queue an email,
// and every node that works jobs already works that queue, so no queue needs
// configuring. A link that arrives long after it was asked for puzzles more
// than it helps, so the job gives up after a few minutes of retries; the
// person can ask again.
func (ResetRequestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: mail.Queue, MaxAttempts: 5}
}

// AddWorkers registers the account service's job workers.
func (a *Accounts) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &resetRequestWorker{accounts: a})
	river.AddWorker(workers, &resetSweepWorker{accounts: a})
}

// ResetRetention is how long a reset link is kept after it expires: long
// enough to tell someone who clicks an old link that it expired rather
// than that it never existed.
const ResetRetention = 7 * 24 * time.Hour

// SweepPasswordResets deletes the reset links that expired more than
// ResetRetention ago and reports how many.
func (a *Accounts) SweepPasswordResets(ctx context.Context) (int64, error) {
	var n int64
	err := a.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		n, err = q.DeletePasswordResetsExpiredBefore(ctx, a.now().Add(-ResetRetention))
		return err
	})
	return n, err
}

// ResetSweepArgs is the daily job that sweeps old reset links.
type ResetSweepArgs struct{}

// Kind names the job for River.
func (ResetSweepArgs) Kind() string { return "password_reset_sweep" }

// InsertOpts puts the job on the mail queue, which every working node works.
func (ResetSweepArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: mail.Queue} }

// PeriodicJobs sweeps old reset links daily, and when the job queue
// starts: a node restarted more often than daily would otherwise never.
func (a *Accounts) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return ResetSweepArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

type resetSweepWorker struct {
	river.WorkerDefaults[ResetSweepArgs]
	accounts *Accounts
}

// Work sweeps the old reset links, and the old links to confirm a new
// address with them.
func (w *resetSweepWorker) Work(ctx context.Context, _ *river.Job[ResetSweepArgs]) error {
	if _, err := w.accounts.SweepPasswordResets(ctx); err != nil {
		return err
	}
	_, err := w.accounts.SweepEmailChanges(ctx)
	return err
}

type resetRequestWorker struct {
	river.WorkerDefaults[ResetRequestArgs]
	accounts *Accounts
}

func (w *resetRequestWorker) Work(ctx context.Context, job *river.Job[ResetRequestArgs]) error {
	if job.Args.OverLimit {
		return nil
	}
	return w.accounts.sendPasswordReset(ctx, job.Args.Email)
}
