package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is a staff account. Email is stored normalized (trimmed, lower
// case), so the UNIQUE constraint makes it unique case-insensitively.
type User struct {
	ID              int64
	Email           string
	Name            string
	PasswordHash    string
	IsPlatformAdmin bool
	IsActive        bool
	// SessionEpoch is stored in each login session; raising it ends every
	// session that holds an older value.
	SessionEpoch int64
	LastLoginAt  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// APIKey is set on the User that stands for an API key in a request
	// (ID 0, no account): it acts with the key's role in the key's
	// organization and with nothing of its creator's.
	APIKey *KeyGrant
}

// KeyGrant is what an API key may act as.
type KeyGrant struct {
	KeyID          int64
	Name           string
	OrganizationID int64 // 0 for a platform key
	Role           string
}

const userColumns = `id, email, name, password_hash, is_platform_admin, is_active, session_epoch, last_login_at, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var (
		u         User
		lastLogin sql.NullTime
	)
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.IsPlatformAdmin, &u.IsActive,
		&u.SessionEpoch, &lastLogin, &u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return User{}, err
	}
	if lastLogin.Valid {
		t := lastLogin.Time.UTC()
		u.LastLoginAt = &t
	}
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
	return u, nil
}

// UserByID returns the user with the given id, or ErrNotFound.
func (q *Queries) UserByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserByEmail returns the user with the given normalized email, or
// ErrNotFound.
func (q *Queries) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", email, err)
	}
	return u, nil
}

// NewUser holds the fields of a user to create.
type NewUser struct {
	Email           string
	Name            string
	PasswordHash    string
	IsPlatformAdmin bool
}

// CreateUser inserts an active user and returns it. A taken email gives
// ErrConflict.
func (q *Queries) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	t := now()
	u, err := scanUser(q.queryRow(ctx, `
		INSERT INTO users (email, name, password_hash, is_platform_admin, is_active, session_epoch, created_at, updated_at)
		VALUES (?, ?, ?, ?, TRUE, 1, ?, ?)
		RETURNING `+userColumns,
		nu.Email, nu.Name, nu.PasswordHash, nu.IsPlatformAdmin, t, t))
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("create user %s: %w", nu.Email, ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", nu.Email, err)
	}
	return u, nil
}

// SetPlatformAdmin grants or withdraws platform administration.
func (q *Queries) SetPlatformAdmin(ctx context.Context, userID int64, admin bool) error {
	return q.updateUser(ctx, userID, `UPDATE users SET is_platform_admin = ?, updated_at = ? WHERE id = ?`, admin, now(), userID)
}

// SetPassword stores a new password hash and raises the session epoch, so
// every existing login session of the user ends. It returns the new epoch.
func (q *Queries) SetPassword(ctx context.Context, userID int64, passwordHash string) (int64, error) {
	var epoch int64
	err := q.queryRow(ctx, `
		UPDATE users SET password_hash = ?, session_epoch = session_epoch + 1, updated_at = ?
		WHERE id = ? RETURNING session_epoch`, passwordHash, now(), userID).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("set password of user %d: %w", userID, err)
	}
	return epoch, nil
}

// RaiseSessionEpoch raises the session epoch of a user, which ends every
// login session of the user, and returns the new epoch.
func (q *Queries) RaiseSessionEpoch(ctx context.Context, userID int64) (int64, error) {
	var epoch int64
	err := q.queryRow(ctx, `
		UPDATE users SET session_epoch = session_epoch + 1, updated_at = ?
		WHERE id = ? RETURNING session_epoch`, now(), userID).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("raise session epoch of user %d: %w", userID, err)
	}
	return epoch, nil
}

// SetUserName stores the name a user gave themselves.
func (q *Queries) SetUserName(ctx context.Context, userID int64, name string) error {
	return q.updateUser(ctx, userID, `UPDATE users SET name = ?, updated_at = ? WHERE id = ?`, name, now(), userID)
}

// RecordLogin stores the time of a successful login.
func (q *Queries) RecordLogin(ctx context.Context, userID int64) error {
	return q.updateUser(ctx, userID, `UPDATE users SET last_login_at = ? WHERE id = ?`, now(), userID)
}

// DeleteUser removes a user with their sessions. Their memberships and
// pending password resets and ownership offers go with them; the rows that
// name them as actor (audit entries, invitations, blocked addresses, API
// keys) keep what they recorded and lose the link.
func (q *Queries) DeleteUser(ctx context.Context, userID int64) error {
	if _, err := q.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	n, err := q.exec(ctx, `DELETE FROM users WHERE id = ?`, userID)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", userID, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// LockPlatformAdmins keeps the active platform admins' rows from changing
// until the transaction ends, so that a rule that counts them holds against
// a concurrent change. SQLite's single writer already does.
func (q *Queries) LockPlatformAdmins(ctx context.Context) error {
	if q.dialect != Postgres {
		return nil
	}
	if _, err := q.exec(ctx, `SELECT id FROM users WHERE is_platform_admin AND is_active FOR UPDATE`); err != nil {
		return fmt.Errorf("lock platform admins: %w", err)
	}
	return nil
}

// CountPlatformAdmins counts active platform admins.
func (q *Queries) CountPlatformAdmins(ctx context.Context) (int, error) {
	var n int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE is_platform_admin AND is_active`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count platform admins: %w", err)
	}
	return n, nil
}

func (q *Queries) updateUser(ctx context.Context, userID int64, query string, args ...any) error {
	n, err := q.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("update user %d: %w", userID, err)
	}
	if n == 0 {
		return fmt.Errorf("update user %d: %w", userID, ErrNotFound)
	}
	return nil
}
