package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AddMembership makes a user a member of an organization with a role. An
// existing membership, or a second owner, gives ErrConflict.
func (q *Queries) AddMembership(ctx context.Context, orgID, userID int64, role string) error {
	t := now()
	_, err := q.exec(ctx, `
		INSERT INTO memberships (organization_id, user_id, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		orgID, userID, role, t, t)
	if isUniqueViolation(err) {
		return fmt.Errorf("add user %d to organization %d: %w", userID, orgID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("add user %d to organization %d: %w", userID, orgID, err)
	}
	return nil
}

// Member is a user as a member of an organization.
type Member struct {
	UserID int64
	Email  string
	Name   string
	Role   string
	Since  time.Time
}

// memberRank orders an organization's members: the owner first, then
// admins, editors and viewers. Migration 00031 indexes memberships by it
// (memberships_rank_idx), which only serves queries that order by this
// very expression.
const memberRank = `CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'editor' THEN 2 ELSE 3 END`

// organizationMembersQuery reads a page of an organization's members in
// memberships_rank_idx's order, so only the roles up to the page's last
// are read, and only the members within one role are sorted by email.
func (q *Queries) organizationMembersQuery() string {
	if q.dialect == SQLite {
		return sqliteMembersQuery // the time read as text (asText)
	}
	return postgresMembersQuery
}

var (
	postgresMembersQuery = membersQuery("m.created_at")
	sqliteMembersQuery   = membersQuery("m.created_at || ''")
)

func membersQuery(since string) string {
	return `
		SELECT u.id, u.email, u.name, m.role, ` + since + `
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = ?
		ORDER BY ` + memberRank + `, u.email
		LIMIT ? OFFSET ?`
}

// OrganizationMembers returns one page of an organization's members,
// owner first, then by role and email (CountOrganization counts them).
func (q *Queries) OrganizationMembers(ctx context.Context, orgID int64, offset, limit int) ([]Member, error) {
	rs, err := q.query(ctx, q.organizationMembersQuery(), orgID, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("members of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []Member
	for rs.Next() {
		var (
			m     Member
			since textTime
		)
		if err := rs.Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &since); err != nil {
			return nil, fmt.Errorf("members of organization %d: %w", orgID, err)
		}
		m.Since = since.Time
		list = append(list, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("members of organization %d: %w", orgID, err)
	}
	return list, nil
}

// OrganizationMember returns one member of an organization, or ErrNotFound
// when the user is not a member of it.
func (q *Queries) OrganizationMember(ctx context.Context, orgID, userID int64) (Member, error) {
	var m Member
	err := q.queryRow(ctx, `
		SELECT u.id, u.email, u.name, m.role, m.created_at
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = ? AND m.user_id = ?`, orgID, userID).
		Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &m.Since)
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, ErrNotFound
	}
	if err != nil {
		return Member{}, fmt.Errorf("member %d of organization %d: %w", userID, orgID, err)
	}
	m.Since = m.Since.UTC()
	return m, nil
}

// SetMembershipRole changes a member's role. A second owner gives
// ErrConflict, a missing membership ErrNotFound.
func (q *Queries) SetMembershipRole(ctx context.Context, orgID, userID int64, role string) error {
	n, err := q.exec(ctx, `UPDATE memberships SET role = ?, updated_at = ? WHERE organization_id = ? AND user_id = ?`,
		role, now(), orgID, userID)
	if isUniqueViolation(err) {
		return fmt.Errorf("set role of user %d in organization %d: %w", userID, orgID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("set role of user %d in organization %d: %w", userID, orgID, err)
	}
	if n == 0 {
		return fmt.Errorf("set role of user %d in organization %d: %w", userID, orgID, ErrNotFound)
	}
	return nil
}

// DeleteMembership removes a user from an organization, or gives
// ErrNotFound when the user is not a member.
func (q *Queries) DeleteMembership(ctx context.Context, orgID, userID int64) error {
	n, err := q.exec(ctx, `DELETE FROM memberships WHERE organization_id = ? AND user_id = ?`, orgID, userID)
	if err != nil {
		return fmt.Errorf("remove user %d from organization %d: %w", userID, orgID, err)
	}
	if n == 0 {
		return fmt.Errorf("remove user %d from organization %d: %w", userID, orgID, ErrNotFound)
	}
	return nil
}

// Membership is one organization a user belongs to, with the role.
type Membership struct {
	OrganizationID   int64
	OrganizationName string
	Role             string
}

// UserMemberships lists the organizations a user belongs to, by name.
func (q *Queries) UserMemberships(ctx context.Context, userID int64) ([]Membership, error) {
	rs, err := q.query(ctx, `
		SELECT o.id, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.organization_id
		WHERE m.user_id = ? ORDER BY o.name_key, o.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("memberships of user %d: %w", userID, err)
	}
	defer rs.Close()
	var list []Membership
	for rs.Next() {
		var m Membership
		if err := rs.Scan(&m.OrganizationID, &m.OrganizationName, &m.Role); err != nil {
			return nil, fmt.Errorf("memberships of user %d: %w", userID, err)
		}
		list = append(list, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("memberships of user %d: %w", userID, err)
	}
	return list, nil
}

// LockOrganization makes the transaction the only one changing an
// organization's members (or starting one of its imports) until it ends,
// so that rules read at its start (who is owner, who is admin, how many
// rows were imported today) still hold when it writes. On SQLite every
// write transaction already holds the database's write lock from its
// first statement (BEGIN IMMEDIATE), so there is nothing more to do.
func (q *Queries) LockOrganization(ctx context.Context, orgID int64) error {
	if q.dialect != Postgres {
		return nil
	}
	var id int64
	err := q.queryRow(ctx, `SELECT id FROM organizations WHERE id = ? FOR UPDATE`, orgID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("lock organization %d: %w", orgID, err)
	}
	return nil
}

// OrganizationOwner returns the owner of an organization, or ErrNotFound
// when it has none.
func (q *Queries) OrganizationOwner(ctx context.Context, orgID int64) (Member, error) {
	var m Member
	err := q.queryRow(ctx, `
		SELECT u.id, u.email, u.name, m.role, m.created_at
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = ? AND m.role = 'owner'`, orgID).
		Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &m.Since)
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, ErrNotFound
	}
	if err != nil {
		return Member{}, fmt.Errorf("owner of organization %d: %w", orgID, err)
	}
	m.Since = m.Since.UTC()
	return m, nil
}

// OwnerlessOrganizations lists the organizations that have no owner, by
// name: the default organization of a new install, until someone takes it.
func (q *Queries) OwnerlessOrganizations(ctx context.Context) ([]Organization, error) {
	return q.organizations(ctx, `
		SELECT `+organizationColumns+` FROM `+organizationFrom+`
		WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = o.id AND m.role = 'owner')
		ORDER BY o.name_key, o.id`)
}

// OwnershipOffer is an owner's offer of an organization to one of its
// members.
type OwnershipOffer struct {
	OrganizationID int64
	UserID         int64
	Email          string // of the member offered the ownership
	OfferedBy      string // the email of who offered it; empty once that account is gone
	CreatedAt      time.Time
}

// OfferOwnership records an offer of the organization to a member,
// replacing any earlier one.
func (q *Queries) OfferOwnership(ctx context.Context, orgID, userID, offeredBy int64) error {
	_, err := q.exec(ctx, `
		INSERT INTO ownership_offers (organization_id, user_id, offered_by, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (organization_id) DO UPDATE SET user_id = excluded.user_id, offered_by = excluded.offered_by,
			created_at = excluded.created_at`, orgID, userID, offeredBy, now())
	if err != nil {
		return fmt.Errorf("offer organization %d to user %d: %w", orgID, userID, err)
	}
	return nil
}

// OwnershipOfferOf returns an organization's open offer, or ErrNotFound.
func (q *Queries) OwnershipOfferOf(ctx context.Context, orgID int64) (OwnershipOffer, error) {
	var (
		o  OwnershipOffer
		by sql.NullString
	)
	err := q.queryRow(ctx, `
		SELECT f.organization_id, f.user_id, u.email, b.email, f.created_at
		FROM ownership_offers f JOIN users u ON u.id = f.user_id LEFT JOIN users b ON b.id = f.offered_by
		WHERE f.organization_id = ?`, orgID).Scan(&o.OrganizationID, &o.UserID, &o.Email, &by, &o.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return OwnershipOffer{}, ErrNotFound
	}
	if err != nil {
		return OwnershipOffer{}, fmt.Errorf("ownership offer of organization %d: %w", orgID, err)
	}
	o.OfferedBy, o.CreatedAt = by.String, o.CreatedAt.UTC()
	return o, nil
}

// EndOwnershipOffer deletes an organization's offer, and only that one
// to userID when userID is not 0. It reports whether there was one.
func (q *Queries) EndOwnershipOffer(ctx context.Context, orgID, userID int64) (bool, error) {
	query, args := `DELETE FROM ownership_offers WHERE organization_id = ?`, []any{orgID}
	if userID != 0 {
		query, args = query+` AND user_id = ?`, append(args, userID)
	}
	n, err := q.exec(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("end the ownership offer of organization %d: %w", orgID, err)
	}
	return n > 0, nil
}
