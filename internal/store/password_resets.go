package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PasswordReset is one emailed password reset link. The token itself is
// never stored, only its hash.
type PasswordReset struct {
	ID        int64
	UserID    int64
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when the link was used, or when another link of the same
	// user was used, which ends this one too; nil while it is unused.
	UsedAt *time.Time
}

// NewPasswordReset holds the fields of a reset link to record. The times
// come from the caller, whose clock decides expiry.
type NewPasswordReset struct {
	UserID    int64
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
}

const passwordResetColumns = `id, user_id, token_hash, created_at, expires_at, used_at`

func scanPasswordReset(r row) (PasswordReset, error) {
	var (
		pr     PasswordReset
		usedAt sql.NullTime
	)
	if err := r.Scan(&pr.ID, &pr.UserID, &pr.TokenHash, &pr.CreatedAt, &pr.ExpiresAt, &usedAt); err != nil {
		return PasswordReset{}, err
	}
	if usedAt.Valid {
		t := usedAt.Time.UTC()
		pr.UsedAt = &t
	}
	pr.CreatedAt, pr.ExpiresAt = pr.CreatedAt.UTC(), pr.ExpiresAt.UTC()
	return pr, nil
}

// dbTime is t as both databases store it: UTC, microseconds, so that
// comparisons in SQL agree with comparisons in Go.
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// CreatePasswordReset records a reset link. Older unused links of the user
// stay valid: each email the user asked for works until one is used.
func (q *Queries) CreatePasswordReset(ctx context.Context, np NewPasswordReset) (PasswordReset, error) {
	pr, err := scanPasswordReset(q.queryRow(ctx, `
		INSERT INTO password_resets (user_id, token_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?)
		RETURNING `+passwordResetColumns,
		np.UserID, np.TokenHash, dbTime(np.CreatedAt), dbTime(np.ExpiresAt)))
	if isUniqueViolation(err) {
		return PasswordReset{}, fmt.Errorf("create password reset for user %d: %w", np.UserID, ErrConflict)
	}
	if err != nil {
		return PasswordReset{}, fmt.Errorf("create password reset for user %d: %w", np.UserID, err)
	}
	return pr, nil
}

// PasswordResetByTokenHash returns the reset link with the given token
// hash, used or not, or ErrNotFound.
func (q *Queries) PasswordResetByTokenHash(ctx context.Context, tokenHash string) (PasswordReset, error) {
	pr, err := scanPasswordReset(q.queryRow(ctx, `SELECT `+passwordResetColumns+` FROM password_resets WHERE token_hash = ?`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return PasswordReset{}, ErrNotFound
	}
	if err != nil {
		return PasswordReset{}, fmt.Errorf("password reset: %w", err)
	}
	return pr, nil
}

// UsePasswordReset marks the link with the given token hash used at the
// time at, if it is still unused and unexpired then, and reports whether it
// did. The check and the mark are one statement, so of two concurrent uses
// exactly one gets true.
func (q *Queries) UsePasswordReset(ctx context.Context, tokenHash string, at time.Time) (bool, error) {
	at = dbTime(at)
	n, err := q.exec(ctx, `
		UPDATE password_resets SET used_at = ?
		WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`, at, tokenHash, at)
	if err != nil {
		return false, fmt.Errorf("use password reset: %w", err)
	}
	return n == 1, nil
}

// EndPasswordResets marks every unused reset link of the user used at the
// time at, and reports how many it ended.
func (q *Queries) EndPasswordResets(ctx context.Context, userID int64, at time.Time) (int64, error) {
	n, err := q.exec(ctx, `UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL`, dbTime(at), userID)
	if err != nil {
		return 0, fmt.Errorf("end password resets of user %d: %w", userID, err)
	}
	return n, nil
}

// DeletePasswordResetsExpiredBefore deletes the reset links that expired
// before t, used or not, and reports how many.
func (q *Queries) DeletePasswordResetsExpiredBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := q.exec(ctx, `DELETE FROM password_resets WHERE expires_at < ?`, dbTime(t))
	if err != nil {
		return 0, fmt.Errorf("delete password resets expired before %s: %w", t.Format(time.RFC3339), err)
	}
	return n, nil
}
