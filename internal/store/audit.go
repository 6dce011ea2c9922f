package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AuditEntry is one change made in an organization: who did what to whom,
// and the values before and after.
type AuditEntry struct {
	ID             int64
	OrganizationID int64
	ActorID        *int64 // nil when the actor's account is gone, or for none
	ActorEmail     string
	Action         string
	Target         string // what was changed, as people name it (an email, a field)
	TargetUserID   *int64
	OldValue       string
	NewValue       string
	CreatedAt      time.Time
}

// AddAuditEntry records a change.
func (q *Queries) AddAuditEntry(ctx context.Context, e AuditEntry) error {
	_, err := q.exec(ctx, `
		INSERT INTO audit_log (organization_id, actor_id, actor_email, action, target, target_user_id, old_value, new_value, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.OrganizationID, e.ActorID, e.ActorEmail, e.Action, e.Target, e.TargetUserID, e.OldValue, e.NewValue, now())
	if err != nil {
		return fmt.Errorf("record %s in organization %d: %w", e.Action, e.OrganizationID, err)
	}
	return nil
}

// AuditLog returns up to limit entries of an organization's log, newest
// first, older than the entry before (0: from the newest).
func (q *Queries) AuditLog(ctx context.Context, orgID, before int64, limit int) ([]AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rs, err := q.query(ctx, `
		SELECT id, organization_id, actor_id, actor_email, action, target, target_user_id, old_value, new_value, created_at
		FROM audit_log WHERE organization_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, orgID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("audit log of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []AuditEntry
	for rs.Next() {
		var (
			e             AuditEntry
			actor, target sql.NullInt64
		)
		if err := rs.Scan(&e.ID, &e.OrganizationID, &actor, &e.ActorEmail, &e.Action, &e.Target, &target,
			&e.OldValue, &e.NewValue, &e.CreatedAt); err != nil {
			return nil, fmt.Errorf("audit log of organization %d: %w", orgID, err)
		}
		e.ActorID, e.TargetUserID, e.CreatedAt = nullInt(actor), nullInt(target), e.CreatedAt.UTC()
		list = append(list, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("audit log of organization %d: %w", orgID, err)
	}
	return list, nil
}
