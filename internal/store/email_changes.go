package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// EmailChange is a change of a user's address waiting for the link sent to
// the new address. The token itself is never stored, only its hash.
type EmailChange struct {
	ID        int64
	UserID    int64
	NewEmail  string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time // used, or ended by another change of the user
}

// NewEmailChange holds the fields of an address change to record.
type NewEmailChange struct {
	UserID    int64
	NewEmail  string
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateEmailChange records an address change waiting for confirmation.
func (q *Queries) CreateEmailChange(ctx context.Context, nc NewEmailChange) error {
	_, err := q.exec(ctx, `
		INSERT INTO email_changes (user_id, new_email, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		nc.UserID, nc.NewEmail, nc.TokenHash, dbTime(nc.CreatedAt), dbTime(nc.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create email change for user %d: %w", nc.UserID, err)
	}
	return nil
}

// CountEmailChangesSince counts the address changes a user asked for since t.
func (q *Queries) CountEmailChangesSince(ctx context.Context, userID int64, t time.Time) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM email_changes WHERE user_id = ? AND created_at >= ?`, userID, dbTime(t)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count email changes of user %d: %w", userID, err)
	}
	return n, nil
}

// CountEmailChangesTo counts the address changes to the new address, by
// any user, asked for since t.
func (q *Queries) CountEmailChangesTo(ctx context.Context, email string, t time.Time) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM email_changes WHERE new_email = ? AND created_at >= ?`, email, dbTime(t)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count email changes to %s: %w", email, err)
	}
	return n, nil
}

// EmailChangeByTokenHash returns the address change with the given token
// hash, used or not, or ErrNotFound.
func (q *Queries) EmailChangeByTokenHash(ctx context.Context, tokenHash string) (EmailChange, error) {
	var (
		c      EmailChange
		usedAt sql.NullTime
	)
	err := q.queryRow(ctx, `
		SELECT id, user_id, new_email, created_at, expires_at, used_at FROM email_changes WHERE token_hash = ?`, tokenHash).
		Scan(&c.ID, &c.UserID, &c.NewEmail, &c.CreatedAt, &c.ExpiresAt, &usedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return EmailChange{}, ErrNotFound
	}
	if err != nil {
		return EmailChange{}, fmt.Errorf("email change: %w", err)
	}
	if usedAt.Valid {
		t := usedAt.Time.UTC()
		c.UsedAt = &t
	}
	c.CreatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	return c, nil
}

// UseEmailChange marks the change with the given token hash used at the
// time at, if it is still unused and unexpired then, and reports whether it
// did: of two concurrent uses exactly one gets true.
func (q *Queries) UseEmailChange(ctx context.Context, tokenHash string, at time.Time) (bool, error) {
	at = dbTime(at)
	n, err := q.exec(ctx, `
		UPDATE email_changes SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`, at, tokenHash, at)
	if err != nil {
		return false, fmt.Errorf("use email change: %w", err)
	}
	return n == 1, nil
}

// EndEmailChanges ends every waiting address change of a user.
func (q *Queries) EndEmailChanges(ctx context.Context, userID int64, at time.Time) error {
	if _, err := q.exec(ctx, `UPDATE email_changes SET used_at = ? WHERE user_id = ? AND used_at IS NULL`, dbTime(at), userID); err != nil {
		return fmt.Errorf("end email changes of user %d: %w", userID, err)
	}
	return nil
}

// DeleteEmailChangesExpiredBefore deletes the address changes that expired
// before t, and reports how many.
func (q *Queries) DeleteEmailChangesExpiredBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := q.exec(ctx, `DELETE FROM email_changes WHERE expires_at < ?`, dbTime(t))
	if err != nil {
		return 0, fmt.Errorf("delete email changes expired before %s: %w", t.Format(time.RFC3339), err)
	}
	return n, nil
}

// SetEmail changes a user's address and raises their session epoch, which
// ends their sessions, and returns the new epoch. An address another user
// has gives ErrConflict.
func (q *Queries) SetEmail(ctx context.Context, userID int64, email string) (int64, error) {
	var epoch int64
	err := q.queryRow(ctx, `
		UPDATE users SET email = ?, session_epoch = session_epoch + 1, updated_at = ?
		WHERE id = ? RETURNING session_epoch`, email, now(), userID).Scan(&epoch)
	if isUniqueViolation(err) {
		return 0, ErrConflict
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("set email of user %d: %w", userID, err)
	}
	return epoch, nil
}
