package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Invitation asks someone, by email, to join an organization with a role.
// Only the hash of its token is stored.
type Invitation struct {
	ID             int64
	OrganizationID int64
	Email          string
	Role           string
	InvitedBy      *int64
	InviterEmail   string // empty when the inviter's account is gone
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ExpiresAt      time.Time
	AcceptedAt     *time.Time
	AcceptedBy     *int64
	RevokedAt      *time.Time
}

// InvitationStatus is where an invitation stands.
type InvitationStatus string

const (
	InvitationPending  InvitationStatus = "pending"
	InvitationAccepted InvitationStatus = "accepted"
	InvitationRevoked  InvitationStatus = "revoked"
	InvitationExpired  InvitationStatus = "expired"
)

// Status reports where the invitation stands at time t.
func (i Invitation) Status(t time.Time) InvitationStatus {
	switch {
	case i.AcceptedAt != nil:
		return InvitationAccepted
	case i.RevokedAt != nil:
		return InvitationRevoked
	case !t.Before(i.ExpiresAt):
		return InvitationExpired
	}
	return InvitationPending
}

const invitationColumns = `i.id, i.organization_id, i.email, i.role, i.invited_by, COALESCE(u.email, ''),
	i.created_at, i.updated_at, i.expires_at, i.accepted_at, i.accepted_by, i.revoked_at`

const invitationFrom = `invitations i LEFT JOIN users u ON u.id = i.invited_by`

func scanInvitation(r row) (Invitation, error) {
	var (
		inv                          Invitation
		invitedBy, acceptedBy        sql.NullInt64
		acceptedAt, revokedAt        sql.NullTime
		createdAt, updatedAt, expiry time.Time
	)
	err := r.Scan(&inv.ID, &inv.OrganizationID, &inv.Email, &inv.Role, &invitedBy, &inv.InviterEmail,
		&createdAt, &updatedAt, &expiry, &acceptedAt, &acceptedBy, &revokedAt)
	if err != nil {
		return Invitation{}, err
	}
	inv.CreatedAt, inv.UpdatedAt, inv.ExpiresAt = createdAt.UTC(), updatedAt.UTC(), expiry.UTC()
	inv.InvitedBy = nullInt(invitedBy)
	inv.AcceptedBy = nullInt(acceptedBy)
	inv.AcceptedAt = nullTime(acceptedAt)
	inv.RevokedAt = nullTime(revokedAt)
	return inv, nil
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// NewInvitation holds the fields of an invitation to create or renew.
type NewInvitation struct {
	OrganizationID int64
	Email          string
	Role           string
	TokenHash      string
	InvitedBy      int64 // 0: no account (an API key)
	ExpiresAt      time.Time
}

// SaveInvitation creates an invitation, or renews the open (not accepted,
// not revoked) one for the same address in the organization: new role,
// inviter, token and expiry, so the old link stops working.
func (q *Queries) SaveInvitation(ctx context.Context, ni NewInvitation) (Invitation, error) {
	t := now()
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO invitations (organization_id, email, role, token_hash, invited_by, created_at, updated_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (organization_id, email) WHERE accepted_at IS NULL AND revoked_at IS NULL DO UPDATE SET
			role = excluded.role, token_hash = excluded.token_hash, invited_by = excluded.invited_by,
			updated_at = excluded.updated_at, expires_at = excluded.expires_at
		RETURNING id`,
		ni.OrganizationID, ni.Email, ni.Role, ni.TokenHash, zeroAsNull(ni.InvitedBy), t, t, ni.ExpiresAt.UTC().Truncate(time.Microsecond)).Scan(&id)
	if err != nil {
		return Invitation{}, fmt.Errorf("invite %s to organization %d: %w", ni.Email, ni.OrganizationID, err)
	}
	return q.Invitation(ctx, ni.OrganizationID, id)
}

// Invitation returns an organization's invitation by id, or ErrNotFound.
func (q *Queries) Invitation(ctx context.Context, orgID, id int64) (Invitation, error) {
	inv, err := scanInvitation(q.queryRow(ctx,
		`SELECT `+invitationColumns+` FROM `+invitationFrom+` WHERE i.organization_id = ? AND i.id = ?`, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Invitation{}, ErrNotFound
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("invitation %d of organization %d: %w", id, orgID, err)
	}
	return inv, nil
}

// InvitationByTokenHash returns the invitation whose token has the hash,
// whatever its status, or ErrNotFound.
func (q *Queries) InvitationByTokenHash(ctx context.Context, tokenHash string) (Invitation, error) {
	inv, err := scanInvitation(q.queryRow(ctx,
		`SELECT `+invitationColumns+` FROM `+invitationFrom+` WHERE i.token_hash = ?`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return Invitation{}, ErrNotFound
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("invitation by token: %w", err)
	}
	return inv, nil
}

// OpenInvitations lists an organization's invitations that are neither
// accepted nor revoked (the expired ones included, so they can be resent),
// newest first.
func (q *Queries) OpenInvitations(ctx context.Context, orgID int64) ([]Invitation, error) {
	rs, err := q.query(ctx, `SELECT `+invitationColumns+` FROM `+invitationFrom+`
		WHERE i.organization_id = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL
		ORDER BY i.updated_at DESC, i.id DESC`, orgID)
	if err != nil {
		return nil, fmt.Errorf("invitations of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []Invitation
	for rs.Next() {
		inv, err := scanInvitation(rs)
		if err != nil {
			return nil, fmt.Errorf("invitations of organization %d: %w", orgID, err)
		}
		list = append(list, inv)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("invitations of organization %d: %w", orgID, err)
	}
	return list, nil
}

// RenewInvitation gives an open invitation a new token and expiry.
// ErrNotFound when it is not open (accepted, revoked or gone).
func (q *Queries) RenewInvitation(ctx context.Context, orgID, id int64, tokenHash string, expiresAt time.Time) error {
	return q.updateOpenInvitation(ctx, orgID, id,
		`UPDATE invitations SET token_hash = ?, expires_at = ?, updated_at = ?
		WHERE organization_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL`,
		tokenHash, expiresAt.UTC().Truncate(time.Microsecond), now(), orgID, id)
}

// RevokeInvitation ends an open invitation. ErrNotFound when it is not
// open.
func (q *Queries) RevokeInvitation(ctx context.Context, orgID, id int64) error {
	t := now()
	return q.updateOpenInvitation(ctx, orgID, id,
		`UPDATE invitations SET revoked_at = ?, updated_at = ?
		WHERE organization_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL`,
		t, t, orgID, id)
}

// AcceptInvitation marks a pending invitation accepted by a user at time
// at, once: ErrNotFound when it was accepted, revoked or had expired.
func (q *Queries) AcceptInvitation(ctx context.Context, orgID, id, userID int64, at time.Time) error {
	at = at.UTC().Truncate(time.Microsecond)
	return q.updateOpenInvitation(ctx, orgID, id,
		`UPDATE invitations SET accepted_at = ?, accepted_by = ?, updated_at = ?
		WHERE organization_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
		at, userID, at, orgID, id, at)
}

func (q *Queries) updateOpenInvitation(ctx context.Context, orgID, id int64, query string, args ...any) error {
	n, err := q.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("update invitation %d of organization %d: %w", id, orgID, err)
	}
	if n == 0 {
		return fmt.Errorf("update invitation %d of organization %d: %w", id, orgID, ErrNotFound)
	}
	return nil
}

// DeleteInvitationsEndedBefore deletes the invitations accepted or revoked
// before t and reports how many. Open ones stay, expired or not: the
// members page offers to resend them.
func (q *Queries) DeleteInvitationsEndedBefore(ctx context.Context, t time.Time) (int64, error) {
	t = dbTime(t)
	n, err := q.exec(ctx, `DELETE FROM invitations WHERE accepted_at < ? OR revoked_at < ?`, t, t)
	if err != nil {
		return 0, fmt.Errorf("delete invitations ended before %s: %w", t.Format(time.RFC3339), err)
	}
	return n, nil
}
