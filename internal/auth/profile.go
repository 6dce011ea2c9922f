package auth

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// MaxNameRunes bounds the name people give themselves.
const MaxNameRunes = 200

// CleanName returns a user's name as it is stored (names.Clean), or an
// error on the field "name" saying what is wrong with it. A name is
// required.
func CleanName(name string) (string, error) {
	cleaned, err := names.Clean(name)
	switch {
	case err != nil:
		return "", problem.Field("name", "name_invalid", names.Message("name", err))
	case cleaned == "":
		return "", problem.Field("name", "name_required", "Enter your name.")
	case utf8.RuneCountInString(cleaned) > MaxNameRunes:
		return "", problem.Field("name", "name_too_long", fmt.Sprintf("The name is too long: use at most %d characters.", MaxNameRunes))
	}
	return cleaned, nil
}

// SetName changes the name of user and returns it as stored.
func (a *Accounts) SetName(ctx context.Context, user store.User, name string) (string, error) {
	cleaned, err := CleanName(name)
	if err != nil {
		return "", err
	}
	if err := a.db.InTx(ctx, func(q *store.Queries) error { return q.SetUserName(ctx, user.ID, cleaned) }); err != nil {
		return "", fmt.Errorf("set name of %s: %w", user.Email, err)
	}
	return cleaned, nil
}

// Sessions lists the live login sessions of user, the one with token
// (the asking one) first.
func (a *Accounts) Sessions(ctx context.Context, user store.User, token string) ([]store.UserSession, error) {
	return a.db.Read().UserSessions(ctx, user.ID, user.SessionEpoch, token)
}

// EndOtherSessions ends every login session of user but the one with
// token, and returns the new session epoch for that one. Raising the epoch
// ends them all, also a session whose request is under way or that was
// saved without its owner; the rows of the others are deleted so that
// they leave the list at once. The caller starts its own session again
// with the new epoch.
func (a *Accounts) EndOtherSessions(ctx context.Context, user store.User, token string) (int64, error) {
	var epoch int64
	err := a.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		if epoch, err = q.RaiseSessionEpoch(ctx, user.ID); err != nil {
			return err
		}
		if err := q.EndEmailChanges(ctx, user.ID, time.Now()); err != nil {
			return err
		}
		_, err = q.DeleteOtherSessions(ctx, user.ID, token)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("end other sessions of %s: %w", user.Email, err)
	}
	return epoch, nil
}

// ErrNoSuchSession answers the end of a session that is not one of the
// user's live sessions (already ended, expired, or someone else's).
var ErrNoSuchSession = problem.New(problem.NotFound, "session_not_found", "That session has already ended.")

// EndSession logs user out of one of their sessions, named by the id the
// session list gives (store.SessionID).
func (a *Accounts) EndSession(ctx context.Context, user store.User, id string) error {
	var ended bool
	err := a.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		ended, err = q.EndSession(ctx, user.ID, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("end a session of %s: %w", user.Email, err)
	}
	if !ended {
		return ErrNoSuchSession
	}
	return nil
}
