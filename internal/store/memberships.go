package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
