package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Bounce is one entry of an organization's bounce log: a bounce or a
// complaint about one of its emails.
type Bounce struct {
	ID             int64
	OrganizationID int64
	MessageID      *int64 // the email; nil once it is deleted
	EnrollmentID   *int64 // the enrollment the email belonged to, if any
	Email          string // the address, lower case
	Kind           string // hard, soft or complaint
	Diagnostic     string
	Source         string
	SourceID       string
	OccurredAt     time.Time
	CreatedAt      time.Time
	// Subject is the email's subject, read with the log; empty once the
	// email is gone.
	Subject string
}

const bounceColumns = `b.id, b.organization_id, b.message_id, b.enrollment_id, b.email, b.kind, b.diagnostic,
	b.source, b.source_id, b.occurred_at, b.created_at, COALESCE(m.subject, '')`

const bounceFrom = `bounces b LEFT JOIN mail_messages m ON m.id = b.message_id`

func scanBounce(r row) (Bounce, error) {
	var (
		b               Bounce
		msg, enrollment sql.NullInt64
	)
	err := r.Scan(&b.ID, &b.OrganizationID, &msg, &enrollment, &b.Email, &b.Kind, &b.Diagnostic,
		&b.Source, &b.SourceID, &b.OccurredAt, &b.CreatedAt, &b.Subject)
	if err != nil {
		return Bounce{}, err
	}
	b.MessageID, b.EnrollmentID = nullInt(msg), nullInt(enrollment)
	b.OccurredAt, b.CreatedAt = b.OccurredAt.UTC(), b.CreatedAt.UTC()
	return b, nil
}

// AddBounce records a bounce in the log, unless one of the same source and
// source id is recorded already: it reports whether it added the row.
func (q *Queries) AddBounce(ctx context.Context, b Bounce) (bool, error) {
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO bounces (organization_id, message_id, enrollment_id, email, kind, diagnostic, source, source_id, occurred_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, source_id) DO NOTHING
		RETURNING id`,
		b.OrganizationID, b.MessageID, b.EnrollmentID, strings.ToLower(b.Email), b.Kind, b.Diagnostic,
		b.Source, b.SourceID, dbTime(b.OccurredAt), now()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record %s bounce of %s (%s %s): %w", b.Kind, b.Email, b.Source, b.SourceID, err)
	}
	return true, nil
}

// CountBounces counts the emails of an organization to an address that
// bounced with one kind of bounce after since.
func (q *Queries) CountBounces(ctx context.Context, orgID int64, email, kind string, since time.Time) (int, error) {
	var n int
	// Distinct emails: a server warning three times that one email is
	// delayed reports one trouble, not three.
	err := q.queryRow(ctx, `SELECT count(DISTINCT COALESCE(message_id, -id)) FROM bounces
		WHERE organization_id = ? AND email = ? AND kind = ? AND occurred_at > ?`,
		orgID, strings.ToLower(email), kind, dbTime(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s bounces of %s in organization %d: %w", kind, email, orgID, err)
	}
	return n, nil
}

// ListBounces returns up to limit entries of an organization's bounce log,
// newest first, below the id before (0: from the newest).
func (q *Queries) ListBounces(ctx context.Context, orgID, before int64, limit int) ([]Bounce, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	return q.bounces(ctx, fmt.Sprintf("bounce log of organization %d", orgID), `SELECT `+bounceColumns+` FROM `+bounceFrom+`
		WHERE b.organization_id = ? AND b.id < ? ORDER BY b.id DESC LIMIT ?`, orgID, before, limit)
}

// EnrollmentBounces returns the bounces of an enrollment's emails, oldest
// first.
func (q *Queries) EnrollmentBounces(ctx context.Context, orgID, enrollmentID int64) ([]Bounce, error) {
	return q.bounces(ctx, fmt.Sprintf("bounces of enrollment %d", enrollmentID), `SELECT `+bounceColumns+` FROM `+bounceFrom+`
		WHERE b.enrollment_id = ? AND b.organization_id = ? ORDER BY b.id`, enrollmentID, orgID)
}

func (q *Queries) bounces(ctx context.Context, what, query string, args ...any) ([]Bounce, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rs.Close()
	var list []Bounce
	for rs.Next() {
		b, err := scanBounce(rs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		list = append(list, b)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return list, nil
}

// OpenEnrollmentsOf returns the ids of an organization's unverified and
// active enrollments of an address, in id order.
func (q *Queries) OpenEnrollmentsOf(ctx context.Context, orgID int64, email string) ([]int64, error) {
	rs, err := q.query(ctx, `SELECT e.id FROM enrollments e JOIN learners l ON l.id = e.learner_id
		WHERE l.organization_id = ? AND l.email = ? AND e.organization_id = ? AND e.status IN ('unverified', 'active')
		ORDER BY e.id`, orgID, strings.ToLower(email), orgID)
	if err != nil {
		return nil, fmt.Errorf("open enrollments of %s in organization %d: %w", email, orgID, err)
	}
	defer rs.Close()
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, fmt.Errorf("open enrollments of %s in organization %d: %w", email, orgID, err)
		}
		ids = append(ids, id)
	}
	return ids, rs.Err()
}

// MailMessageSummary returns a message without its source, or
// ErrNotFound.
func (q *Queries) MailMessageSummary(ctx context.Context, id int64) (MailMessage, error) {
	m, err := scanMailMessage(q.queryRow(ctx, `SELECT `+mailSummaryColumns+` FROM mail_messages WHERE id = ?`, id), false)
	if errors.Is(err, sql.ErrNoRows) {
		return MailMessage{}, ErrNotFound
	}
	if err != nil {
		return MailMessage{}, fmt.Errorf("email %d: %w", id, err)
	}
	return m, nil
}

// MailMessageByHeaderID returns the message with a Message-ID (without
// angle brackets), without its source, or ErrNotFound.
func (q *Queries) MailMessageByHeaderID(ctx context.Context, messageID string) (MailMessage, error) {
	m, err := scanMailMessage(q.queryRow(ctx, `SELECT `+mailSummaryColumns+` FROM mail_messages WHERE message_id = ?`, messageID), false)
	if errors.Is(err, sql.ErrNoRows) {
		return MailMessage{}, ErrNotFound
	}
	if err != nil {
		return MailMessage{}, fmt.Errorf("email <%s>: %w", messageID, err)
	}
	return m, nil
}

// BounceMetric prefixes the email report's count of bounces in
// report_daily, followed by the kind: bounce:hard, bounce:soft,
// bounce:complaint.
const BounceMetric = "bounce:"
