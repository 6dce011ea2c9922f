package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Signup is a self-service sign-up: what the form gave, waiting for its
// address to be confirmed, or confirmed and recorded with the user and
// organization it created.
type Signup struct {
	ID               int64
	Email            string
	Name             string
	PasswordHash     string
	OrganizationName string
	CreatedAt        time.Time
	ExpiresAt        time.Time
	ConfirmedAt      *time.Time
	UserID           *int64
	OrganizationID   *int64
	HasLink          bool // its confirmation link was made (and emailed)
}

// NewSignup holds the fields of a sign-up to record.
type NewSignup struct {
	Email, Name, PasswordHash, OrganizationName string
	CreatedAt, ExpiresAt                        time.Time
}

const signupColumns = `id, email, name, password_hash, organization_name, created_at, expires_at, confirmed_at, user_id, organization_id,
	CASE WHEN token_hash IS NULL THEN 0 ELSE 1 END`

func scanSignup(r row) (Signup, error) {
	var (
		s            Signup
		confirmedAt  sql.NullTime
		userID, orgs sql.NullInt64
		hasLink      int
	)
	if err := r.Scan(&s.ID, &s.Email, &s.Name, &s.PasswordHash, &s.OrganizationName, &s.CreatedAt, &s.ExpiresAt,
		&confirmedAt, &userID, &orgs, &hasLink); err != nil {
		return Signup{}, err
	}
	s.HasLink = hasLink == 1
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	if confirmedAt.Valid {
		t := confirmedAt.Time.UTC()
		s.ConfirmedAt = &t
	}
	if userID.Valid {
		s.UserID = &userID.Int64
	}
	if orgs.Valid {
		s.OrganizationID = &orgs.Int64
	}
	return s, nil
}

// CreateSignup records a sign-up, without a link yet.
func (q *Queries) CreateSignup(ctx context.Context, ns NewSignup) (int64, error) {
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO signups (email, name, password_hash, organization_name, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		ns.Email, ns.Name, ns.PasswordHash, ns.OrganizationName, dbTime(ns.CreatedAt), dbTime(ns.ExpiresAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create signup for %s: %w", ns.Email, err)
	}
	return id, nil
}

// SignupByID returns a sign-up, or ErrNotFound.
func (q *Queries) SignupByID(ctx context.Context, id int64) (Signup, error) {
	s, err := scanSignup(q.queryRow(ctx, `SELECT `+signupColumns+` FROM signups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Signup{}, ErrNotFound
	}
	if err != nil {
		return Signup{}, fmt.Errorf("signup %d: %w", id, err)
	}
	return s, nil
}

// SignupByTokenHash returns the sign-up whose link has the token hash, or
// ErrNotFound.
func (q *Queries) SignupByTokenHash(ctx context.Context, tokenHash string) (Signup, error) {
	s, err := scanSignup(q.queryRow(ctx, `SELECT `+signupColumns+` FROM signups WHERE token_hash = ?`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return Signup{}, ErrNotFound
	}
	if err != nil {
		return Signup{}, fmt.Errorf("signup: %w", err)
	}
	return s, nil
}

// SetSignupToken records the hash of the token of the link sent for a
// sign-up.
func (q *Queries) SetSignupToken(ctx context.Context, id int64, tokenHash string) error {
	if _, err := q.exec(ctx, `UPDATE signups SET token_hash = ? WHERE id = ?`, tokenHash, id); err != nil {
		return fmt.Errorf("set token of signup %d: %w", id, err)
	}
	return nil
}

// ConfirmSignup marks the sign-up with the token hash confirmed at the
// time at, with the user and organization it created, if it is still
// unconfirmed and unexpired then, and reports whether it did: of two
// concurrent confirmations exactly one gets true.
func (q *Queries) ConfirmSignup(ctx context.Context, tokenHash string, at time.Time, userID, orgID int64) (bool, error) {
	at = dbTime(at)
	n, err := q.exec(ctx, `
		UPDATE signups SET confirmed_at = ?, user_id = ?, organization_id = ?, password_hash = ''
		WHERE token_hash = ? AND confirmed_at IS NULL AND expires_at > ?`, at, userID, orgID, tokenHash, at)
	if err != nil {
		return false, fmt.Errorf("confirm signup: %w", err)
	}
	return n == 1, nil
}

// ConfirmedSignup is a row of the platform's list of sign-ups.
type ConfirmedSignup struct {
	ID               int64
	Email            string // as signed up with
	Name             string
	OrganizationName string // as signed up with
	ConfirmedAt      time.Time
	UserID           *int64 // nil once the account is deleted
	OrganizationID   *int64 // nil once the organization is deleted
	// OrganizationSuspended: a platform admin suspended the organization.
	OrganizationSuspended bool
}

// ConfirmedSignups lists confirmed sign-ups, newest first, a page at a time.
func (q *Queries) ConfirmedSignups(ctx context.Context, limit, offset int) ([]ConfirmedSignup, error) {
	rs, err := q.query(ctx, `
		SELECT s.id, s.email, s.name, s.organization_name, s.confirmed_at, s.user_id, s.organization_id,
			COALESCE((SELECT o.suspended_at IS NOT NULL FROM organizations o WHERE o.id = s.organization_id), FALSE)
		FROM signups s
		WHERE s.confirmed_at IS NOT NULL ORDER BY s.confirmed_at DESC, s.id DESC LIMIT ? OFFSET ?`, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list signups: %w", err)
	}
	defer rs.Close()
	var list []ConfirmedSignup
	for rs.Next() {
		var (
			s              ConfirmedSignup
			userID, orgsID sql.NullInt64
		)
		if err := rs.Scan(&s.ID, &s.Email, &s.Name, &s.OrganizationName, &s.ConfirmedAt, &userID, &orgsID, &s.OrganizationSuspended); err != nil {
			return nil, fmt.Errorf("list signups: %w", err)
		}
		s.ConfirmedAt = s.ConfirmedAt.UTC()
		if userID.Valid {
			s.UserID = &userID.Int64
		}
		if orgsID.Valid {
			s.OrganizationID = &orgsID.Int64
		}
		list = append(list, s)
	}
	return list, rs.Err()
}

// CountConfirmedSignups counts the confirmed sign-ups.
func (q *Queries) CountConfirmedSignups(ctx context.Context) (int, error) {
	var n int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM signups WHERE confirmed_at IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count signups: %w", err)
	}
	return n, nil
}

// DeleteUnconfirmedSignupsExpiredBefore deletes the sign-ups never
// confirmed that expired before t, and reports how many.
func (q *Queries) DeleteUnconfirmedSignupsExpiredBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := q.exec(ctx, `DELETE FROM signups WHERE confirmed_at IS NULL AND expires_at < ?`, dbTime(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired signups: %w", err)
	}
	return n, nil
}

// DeleteSignup deletes a sign-up and reports whether there was one.
func (q *Queries) DeleteSignup(ctx context.Context, id int64) (bool, error) {
	n, err := q.exec(ctx, `DELETE FROM signups WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("delete signup %d: %w", id, err)
	}
	return n == 1, nil
}
