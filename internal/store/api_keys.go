package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// APIKey is a key for the API: it acts with Role in its organization, or
// on the platform when OrganizationID is 0. Only the hash of its secret is
// stored.
type APIKey struct {
	ID             int64
	OrganizationID int64 // 0 for a platform key
	Name           string
	Role           string
	SecretHash     string
	CreatedBy      *int64 // nil when the creator's account is gone
	CreatorEmail   string
	// CreatorRemoved: the creator is no longer a member of the
	// organization (for a platform key, no longer a platform admin). The
	// key stays as it was.
	CreatorRemoved bool
	CreatedAt      time.Time
	ExpiresAt      *time.Time
	RevokedAt      *time.Time
	LastUsedAt     *time.Time
	LastUsedIP     string
}

// NewAPIKey holds the fields of a key to create.
type NewAPIKey struct {
	OrganizationID int64 // 0 for a platform key
	Name           string
	Role           string
	SecretHash     string
	CreatedBy      int64
	CreatorEmail   string
	ExpiresAt      *time.Time
}

const apiKeyColumns = `k.id, COALESCE(k.organization_id, 0), k.name, k.role, k.secret_hash, k.created_by, k.creator_email,
	CASE WHEN k.organization_id IS NULL
		THEN NOT EXISTS (SELECT 1 FROM users u WHERE u.id = k.created_by AND u.is_platform_admin AND u.is_active)
		ELSE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = k.organization_id AND m.user_id = k.created_by) END,
	k.created_at, k.expires_at, k.revoked_at, k.last_used_at, k.last_used_ip`

func scanAPIKey(r row) (APIKey, error) {
	var (
		k                          APIKey
		createdBy                  sql.NullInt64
		expires, revoked, lastUsed sql.NullTime
	)
	err := r.Scan(&k.ID, &k.OrganizationID, &k.Name, &k.Role, &k.SecretHash, &createdBy, &k.CreatorEmail,
		&k.CreatorRemoved, &k.CreatedAt, &expires, &revoked, &lastUsed, &k.LastUsedIP)
	if err != nil {
		return APIKey{}, err
	}
	k.CreatedBy, k.CreatedAt = nullInt(createdBy), k.CreatedAt.UTC()
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = nullTime(expires), nullTime(revoked), nullTime(lastUsed)
	return k, nil
}

// zeroAsNull is an id as a nullable column stores it: 0 (the platform,
// or no account, as for an API key) as NULL.
func zeroAsNull(orgID int64) any {
	if orgID == 0 {
		return nil
	}
	return orgID
}

// CreateAPIKey stores a new key and returns it.
func (q *Queries) CreateAPIKey(ctx context.Context, nk NewAPIKey) (APIKey, error) {
	var expires any
	if nk.ExpiresAt != nil {
		expires = nk.ExpiresAt.UTC().Truncate(time.Microsecond)
	}
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO api_keys (organization_id, name, role, secret_hash, created_by, creator_email, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		zeroAsNull(nk.OrganizationID), nk.Name, nk.Role, nk.SecretHash, nk.CreatedBy, nk.CreatorEmail, now(), expires).Scan(&id)
	if err != nil {
		return APIKey{}, fmt.Errorf("create API key %q in organization %d: %w", nk.Name, nk.OrganizationID, err)
	}
	return q.APIKeyByID(ctx, id)
}

// APIKeyByID returns a key, revoked or not, by id, or ErrNotFound.
func (q *Queries) APIKeyByID(ctx context.Context, id int64) (APIKey, error) {
	k, err := scanAPIKey(q.queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k WHERE k.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, ErrNotFound
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("API key %d: %w", id, err)
	}
	return k, nil
}

// APIKeys lists the keys of an organization (0: the platform keys) that
// are not revoked, newest first.
func (q *Queries) APIKeys(ctx context.Context, orgID int64) ([]APIKey, error) {
	cond := `k.organization_id = ?`
	args := []any{orgID}
	if orgID == 0 {
		cond, args = `k.organization_id IS NULL`, nil
	}
	rs, err := q.query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k WHERE `+cond+` AND k.revoked_at IS NULL ORDER BY k.id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("API keys of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []APIKey
	for rs.Next() {
		k, err := scanAPIKey(rs)
		if err != nil {
			return nil, fmt.Errorf("API keys of organization %d: %w", orgID, err)
		}
		list = append(list, k)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("API keys of organization %d: %w", orgID, err)
	}
	return list, nil
}

// RevokeAPIKey revokes an organization's (0: the platform's) key that is
// not revoked yet; ErrNotFound when there is none such.
func (q *Queries) RevokeAPIKey(ctx context.Context, orgID, id int64) error {
	cond := `organization_id = ?`
	args := []any{now(), id, orgID}
	if orgID == 0 {
		cond, args = `organization_id IS NULL`, args[:2]
	}
	n, err := q.exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND `+cond, args...)
	if err != nil {
		return fmt.Errorf("revoke API key %d of organization %d: %w", id, orgID, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchAPIKey records a use of a key, unless one was recorded after
// since: the last use is written at most once per interval.
func (q *Queries) TouchAPIKey(ctx context.Context, id int64, ip string, at, since time.Time) error {
	_, err := q.exec(ctx, `UPDATE api_keys SET last_used_at = ?, last_used_ip = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		at.UTC().Truncate(time.Microsecond), ip, id, since.UTC().Truncate(time.Microsecond))
	if err != nil {
		return fmt.Errorf("record use of API key %d: %w", id, err)
	}
	return nil
}
