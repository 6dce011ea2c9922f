package store

import (
	"context"
	"fmt"
	"time"
)

// The numbers of the platform home, for every organization a user is a
// member of: each is one query across all of them, keyed by organization
// id; an organization with nothing to count is missing from the map.

// MemberActiveLearners counts, per organization of the user, the learners
// with at least one active enrollment.
func (q *Queries) MemberActiveLearners(ctx context.Context, userID int64) (map[int64]int, error) {
	return q.countsByOrganization(ctx, "active learners", `
		SELECT e.organization_id, COUNT(DISTINCT e.learner_id) FROM enrollments e
		JOIN memberships m ON m.organization_id = e.organization_id AND m.user_id = ?
		WHERE e.status = 'active' GROUP BY e.organization_id`, userID)
}

// MemberEmailsSent counts, per organization of the user, the emails
// recorded since the given time that went out (sent, or stored by the
// outbox transport): read along the index of emails by organization and
// creation, which no send changes.
func (q *Queries) MemberEmailsSent(ctx context.Context, userID int64, since time.Time) (map[int64]int, error) {
	return q.countsByOrganization(ctx, "emails sent", `
		SELECT mm.organization_id, COUNT(*) FROM mail_messages mm
		JOIN memberships m ON m.organization_id = mm.organization_id AND m.user_id = ?
		WHERE mm.created_at >= ? AND mm.status IN (?, ?) GROUP BY mm.organization_id`,
		userID, dbTime(since), MailSent, MailStored)
}

func (q *Queries) countsByOrganization(ctx context.Context, what, query string, args ...any) (map[int64]int, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rs.Close()
	counts := map[int64]int{}
	for rs.Next() {
		var (
			orgID int64
			n     int
		)
		if err := rs.Scan(&orgID, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		counts[orgID] = n
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return counts, nil
}

// MemberNextDeliveries gives, per organization of the user, when its
// earliest scheduled delivery is due.
func (q *Queries) MemberNextDeliveries(ctx context.Context, userID int64) (map[int64]time.Time, error) {
	rs, err := q.query(ctx, `
		SELECT d.organization_id, MIN(d.due_at) FROM deliveries d
		JOIN memberships m ON m.organization_id = d.organization_id AND m.user_id = ?
		WHERE d.status = ? GROUP BY d.organization_id`, userID, DeliveryScheduled)
	if err != nil {
		return nil, fmt.Errorf("next deliveries: %w", err)
	}
	defer rs.Close()
	next := map[int64]time.Time{}
	for rs.Next() {
		var (
			orgID int64
			due   computedTime
		)
		if err := rs.Scan(&orgID, &due); err != nil {
			return nil, fmt.Errorf("next deliveries: %w", err)
		}
		next[orgID] = due.Time
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("next deliveries: %w", err)
	}
	return next, nil
}

// computedTime scans a time that SQL computed (MIN, MAX): PostgreSQL
// gives a time, while SQLite, with no column type to go by, gives the
// text it stored.
type computedTime struct{ time.Time }

// sqliteTimeLayout is how the SQLite driver writes times (_time_format=sqlite).
const sqliteTimeLayout = "2006-01-02 15:04:05.999999999-07:00"

func (c *computedTime) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		c.Time = v.UTC()
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("scan time from %T", v)
	}
	return nil
}

func (c *computedTime) parse(s string) error {
	t, err := time.Parse(sqliteTimeLayout, s)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	c.Time = t.UTC()
	return nil
}
