package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// BlockedEmail is an address that is never mailed: by one organization,
// or, with OrganizationID 0, by every organization.
type BlockedEmail struct {
	ID             int64
	OrganizationID int64 // 0 for a platform-wide block
	Email          string
	CreatedBy      *int64
	CreatorEmail   string // empty when the account is gone
	CreatedAt      time.Time
}

const blockedEmailColumns = `b.id, COALESCE(b.organization_id, 0), b.email, b.created_by, COALESCE(u.email, ''), b.created_at`

const blockedEmailFrom = `blocked_emails b LEFT JOIN users u ON u.id = b.created_by`

func scanBlockedEmail(r row) (BlockedEmail, error) {
	var (
		b         BlockedEmail
		createdBy sql.NullInt64
	)
	if err := r.Scan(&b.ID, &b.OrganizationID, &b.Email, &createdBy, &b.CreatorEmail, &b.CreatedAt); err != nil {
		return BlockedEmail{}, err
	}
	b.CreatedBy = nullInt(createdBy)
	b.CreatedAt = b.CreatedAt.UTC()
	return b, nil
}

// blockScope is the condition on column that picks an organization's
// blocks, or the platform-wide ones for orgID 0, and its argument. The two
// are separate conditions, not one null-safe comparison, so that each can
// use its index.
func blockScope(column string, orgID int64) (string, []any) {
	if orgID == 0 {
		return column + ` IS NULL`, nil
	}
	return column + ` = ?`, []any{orgID}
}

// BlockEmail blocks a (normalized) address for an organization, or for
// every organization when orgID is 0. An address blocked there already
// gives ErrConflict.
func (q *Queries) BlockEmail(ctx context.Context, orgID int64, email string, createdBy int64) (BlockedEmail, error) {
	var org, by any
	if orgID != 0 {
		org = orgID
	}
	if createdBy != 0 {
		by = createdBy
	}
	var id int64
	err := q.queryRow(ctx, `INSERT INTO blocked_emails (organization_id, email, created_by, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		org, email, by, now()).Scan(&id)
	if isUniqueViolation(err) {
		return BlockedEmail{}, fmt.Errorf("block %s: %w", email, ErrConflict)
	}
	if err != nil {
		return BlockedEmail{}, fmt.Errorf("block %s: %w", email, err)
	}
	b, err := scanBlockedEmail(q.queryRow(ctx, `SELECT `+blockedEmailColumns+` FROM `+blockedEmailFrom+` WHERE b.id = ?`, id))
	if err != nil {
		return BlockedEmail{}, fmt.Errorf("block %s: %w", email, err)
	}
	return b, nil
}

// BlockEmailIfNew blocks a (normalized) address as BlockEmail does, for
// mailschool itself (no creator), and reports whether it was not blocked
// there yet; an address blocked already is no error, and, unlike a
// refused INSERT, does not end a PostgreSQL transaction.
func (q *Queries) BlockEmailIfNew(ctx context.Context, orgID int64, email string) (bool, error) {
	var org any
	if orgID != 0 {
		org = orgID
	}
	var id int64
	err := q.queryRow(ctx, `INSERT INTO blocked_emails (organization_id, email, created_by, created_at) VALUES (?, ?, NULL, ?)
		ON CONFLICT DO NOTHING RETURNING id`, org, email, now()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("block %s: %w", email, err)
	}
	return true, nil
}

// UnblockEmail lifts the block of an address in an organization, or the
// platform-wide one for orgID 0; ErrNotFound when there is none.
func (q *Queries) UnblockEmail(ctx context.Context, orgID int64, email string) error {
	scope, args := blockScope("organization_id", orgID)
	n, err := q.exec(ctx, `DELETE FROM blocked_emails WHERE `+scope+` AND email = ?`, append(args, email)...)
	if err != nil {
		return fmt.Errorf("unblock %s: %w", email, err)
	}
	if n == 0 {
		return fmt.Errorf("unblock %s: %w", email, ErrNotFound)
	}
	return nil
}

// ListBlockedEmails returns one page of an organization's blocked
// addresses (the platform-wide ones for orgID 0) by address, and how many
// there are.
func (q *Queries) ListBlockedEmails(ctx context.Context, orgID int64, offset, limit int) ([]BlockedEmail, int, error) {
	scope, args := blockScope("b.organization_id", orgID)
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM blocked_emails b WHERE `+scope, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count blocked addresses of organization %d: %w", orgID, err)
	}
	rs, err := q.query(ctx, `SELECT `+blockedEmailColumns+` FROM `+blockedEmailFrom+` WHERE `+scope+`
		ORDER BY b.email LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("blocked addresses of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []BlockedEmail
	for rs.Next() {
		b, err := scanBlockedEmail(rs)
		if err != nil {
			return nil, 0, fmt.Errorf("blocked addresses of organization %d: %w", orgID, err)
		}
		list = append(list, b)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, fmt.Errorf("blocked addresses of organization %d: %w", orgID, err)
	}
	return list, total, nil
}

// EmailBlocked reports whether an address may not be mailed on behalf of
// an organization: blocked by it, or platform-wide. Addresses are stored
// lower case, so the address is compared lower case whatever the caller
// passes. Every sender checks it right before each email.
func (q *Queries) EmailBlocked(ctx context.Context, orgID int64, email string) (bool, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var one int
	err := q.queryRow(ctx, `
		SELECT 1 WHERE EXISTS (SELECT 1 FROM blocked_emails WHERE organization_id = ? AND email = ?)
			OR EXISTS (SELECT 1 FROM blocked_emails WHERE organization_id IS NULL AND email = ?)`,
		orgID, email, email).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("is %s blocked in organization %d: %w", email, orgID, err)
	}
	return true, nil
}
