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

// MembershipRole returns a user's role in an organization, or ErrNotFound
// when the user is not a member.
func (q *Queries) MembershipRole(ctx context.Context, orgID, userID int64) (string, error) {
	var role string
	err := q.queryRow(ctx, `SELECT role FROM memberships WHERE organization_id = ? AND user_id = ?`, orgID, userID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("role of user %d in organization %d: %w", userID, orgID, err)
	}
	return role, nil
}

// Member is a user as a member of an organization.
type Member struct {
	UserID int64
	Email  string
	Name   string
	Role   string
	Since  time.Time
}

// OrganizationMembers lists the members of an organization, owner first,
// then by role and email.
func (q *Queries) OrganizationMembers(ctx context.Context, orgID int64) ([]Member, error) {
	rs, err := q.query(ctx, `
		SELECT u.id, u.email, u.name, m.role, m.created_at
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = ?
		ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'editor' THEN 2 ELSE 3 END, u.email`, orgID)
	if err != nil {
		return nil, fmt.Errorf("members of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []Member
	for rs.Next() {
		var m Member
		if err := rs.Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &m.Since); err != nil {
			return nil, fmt.Errorf("members of organization %d: %w", orgID, err)
		}
		m.Since = m.Since.UTC()
		list = append(list, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("members of organization %d: %w", orgID, err)
	}
	return list, nil
}
