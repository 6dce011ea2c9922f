package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
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

// AuditFilter selects entries of an organization's audit log. Empty
// fields select everything.
type AuditFilter struct {
	Actions    []string  // any of these actions
	ActorEmail string    // the actor as the entry names them
	From       time.Time // at or after
	To         time.Time // before
	Before     int64     // older than this entry: the previous page's last
}

// AuditLog returns up to limit entries of an organization's log, newest
// first, older than the entry before (0: from the newest).
func (q *Queries) AuditLog(ctx context.Context, orgID, before int64, limit int) ([]AuditEntry, error) {
	return q.FilteredAuditLog(ctx, orgID, AuditFilter{Before: before}, limit)
}

// FilteredAuditLog returns up to limit entries of an organization's log
// that the filter selects, newest first. Each filter reads an index of its
// own (migration 00023), so a rare kind or actor does not cost a scan of
// the whole log.
func (q *Queries) FilteredAuditLog(ctx context.Context, orgID int64, f AuditFilter, limit int) ([]AuditEntry, error) {
	return q.FilteredAuditLogInto(ctx, orgID, f, limit, nil)
}

// FilteredAuditLogInto is FilteredAuditLog appending to dst[:0], so that an
// export that passes the last page back reads every page into the same
// memory.
func (q *Queries) FilteredAuditLogInto(ctx context.Context, orgID int64, f AuditFilter, limit int, dst []AuditEntry) ([]AuditEntry, error) {
	query, args := q.auditLogQuery(orgID, f, limit)
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("audit log of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	list := dst[:0]
	for rs.Next() {
		var (
			e             AuditEntry
			actor, target sql.NullInt64
			created       textTime
		)
		if err := rs.Scan(&e.ID, &e.OrganizationID, &actor, &e.ActorEmail, &e.Action, &e.Target, &target,
			&e.OldValue, &e.NewValue, &created); err != nil {
			return nil, fmt.Errorf("audit log of organization %d: %w", orgID, err)
		}
		e.ActorID, e.TargetUserID, e.CreatedAt = nullInt(actor), nullInt(target), created.Time
		list = append(list, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("audit log of organization %d: %w", orgID, err)
	}
	return list, nil
}

// auditLogQuery is FilteredAuditLog's statement and its arguments.
func (q *Queries) auditLogQuery(orgID int64, f AuditFilter, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString(`
		SELECT id, organization_id, actor_id, actor_email, action, target, target_user_id, old_value, new_value, ` + q.asText("created_at") + `
		FROM audit_log WHERE organization_id = ?`)
	args := []any{orgID}
	// The first page has no bound on the id: with a bound of the largest
	// id, planners read the primary key backwards rather than a filter's
	// index.
	if f.Before > 0 {
		b.WriteString(` AND id < ?`)
		args = append(args, f.Before)
	}
	if len(f.Actions) > 0 {
		b.WriteString(` AND action IN (?` + strings.Repeat(", ?", len(f.Actions)-1) + `)`)
		for _, a := range f.Actions {
			args = append(args, a)
		}
	}
	if f.ActorEmail != "" {
		b.WriteString(` AND actor_email = ?`)
		args = append(args, f.ActorEmail)
	}
	if !f.From.IsZero() {
		b.WriteString(` AND created_at >= ?`)
		args = append(args, f.From.UTC().Truncate(time.Microsecond))
	}
	if !f.To.IsZero() {
		b.WriteString(` AND created_at < ?`)
		args = append(args, f.To.UTC().Truncate(time.Microsecond))
	}
	// The limit is written into the statement: with a parameter,
	// PostgreSQL's generic plan assumes a tenth of the rows are wanted and
	// prefers reading the log backwards to a filter's index.
	b.WriteString(` ORDER BY id DESC LIMIT ` + strconv.Itoa(max(limit, 0)))
	return b.String(), args
}
