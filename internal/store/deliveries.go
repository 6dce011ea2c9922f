package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Delivery states. A delivery is scheduled until a pass hands it to a job
// that works many (sending); either way it is still to be worked, and
// working it makes it sent or cancelled (a quiz may end failed). While its
// organization is suspended it is held: neither the pass nor a job works
// it until the organization is resumed, which schedules it again.
const (
	DeliveryScheduled = "scheduled"
	DeliverySending   = "sending"
	DeliverySent      = "sent"
	DeliveryFailed    = "failed"
	DeliveryCancelled = "cancelled"
	DeliveryHeld      = "held"
)

// Delivery is one content item of a course on its way to one enrolled
// learner.
type Delivery struct {
	ID             int64
	OrganizationID int64
	EnrollmentID   int64
	ContentID      int64
	Attempt        int // 1, or 2 for a quiz sent again
	DueAt          time.Time
	Status         string
	Attempts       int
	SentAt         *time.Time
	MailMessageID  *int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ContentTitle   string // for lists
	ContentKind    string
}

// ScheduleDelivery creates the delivery of a content item to an
// enrollment, due at a time, or brings a cancelled one back, due then. It
// returns the delivery's id and whether it is now scheduled by this call:
// a delivery already scheduled, sending or sent stays as it is, so a
// repeated step never sends an item twice.
func (q *Queries) ScheduleDelivery(ctx context.Context, orgID, enrollmentID, contentID int64, attempt int, due time.Time) (int64, bool, error) {
	t := now()
	due = due.UTC().Truncate(time.Microsecond)
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO deliveries (organization_id, enrollment_id, content_id, attempt, due_at, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 'scheduled', ?, ?)
		ON CONFLICT (enrollment_id, content_id, attempt) DO UPDATE SET
			status = 'scheduled', due_at = excluded.due_at, updated_at = excluded.updated_at
		WHERE deliveries.status = 'cancelled'
		RETURNING id`,
		orgID, enrollmentID, contentID, attempt, due, t, t).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = q.queryRow(ctx, `SELECT id FROM deliveries WHERE organization_id = ? AND enrollment_id = ? AND content_id = ? AND attempt = ?`,
			orgID, enrollmentID, contentID, attempt).Scan(&id)
		if err != nil {
			return 0, false, fmt.Errorf("schedule content %d for enrollment %d: %w", contentID, enrollmentID, err)
		}
		return id, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("schedule content %d for enrollment %d: %w", contentID, enrollmentID, err)
	}
	return id, true, nil
}

// LastDonePosition returns the course position of the last item an
// enrollment is done with, or -1 when there is none: a lesson is done
// once sent, a quiz once passed. A quiz sent but not passed is not done,
// so an enrollment active again goes on with it rather than past it.
func (q *Queries) LastDonePosition(ctx context.Context, orgID, enrollmentID int64) (int, error) {
	var pos sql.NullInt64
	err := q.queryRow(ctx, `
		SELECT MAX(ci.position) FROM deliveries d JOIN content_items ci ON ci.id = d.content_id
		WHERE d.organization_id = ? AND d.enrollment_id = ? AND d.status = 'sent'
			AND (ci.kind = 'lesson' OR EXISTS (SELECT 1 FROM quiz_attempts a WHERE a.delivery_id = d.id AND a.passed))`,
		orgID, enrollmentID).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("last item enrollment %d is done with: %w", enrollmentID, err)
	}
	if !pos.Valid {
		return -1, nil
	}
	return int(pos.Int64), nil
}

// LastDelivery returns the delivery of a content item to an enrollment
// with the highest attempt, or ErrNotFound when there is none.
func (q *Queries) LastDelivery(ctx context.Context, orgID, enrollmentID, contentID int64) (Delivery, error) {
	list, err := q.deliveries(ctx, `d.organization_id = ? AND d.enrollment_id = ? AND d.content_id = ?
		ORDER BY d.attempt DESC LIMIT 1`, orgID, enrollmentID, contentID)
	if err != nil {
		return Delivery{}, err
	}
	if len(list) == 0 {
		return Delivery{}, ErrNotFound
	}
	return list[0], nil
}

// NextScheduledDelivery returns the delivery of an enrollment still to be
// worked (scheduled, sending, or held while its organization is
// suspended) that is due first, or ErrNotFound when
// there is none.
func (q *Queries) NextScheduledDelivery(ctx context.Context, orgID, enrollmentID int64) (Delivery, error) {
	list, err := q.deliveries(ctx, `d.organization_id = ? AND d.enrollment_id = ? AND d.status IN ('scheduled', 'sending', 'held')
		ORDER BY d.due_at, d.id LIMIT 1`, orgID, enrollmentID)
	if err != nil {
		return Delivery{}, err
	}
	if len(list) == 0 {
		return Delivery{}, ErrNotFound
	}
	return list[0], nil
}

// DueDelivery is a delivery with everything needed to decide whether it
// may go out and to write its email.
type DueDelivery struct {
	Delivery
	EnrollmentStatus string
	LinkKey          string // the enrollment's, which its links are signed with
	LearnerEmail     string
	LearnerBlocked   bool // the address is blocked in the organization or platform-wide
	CourseID         int64
	CourseTitle      string
	CourseSlug       string
	CourseEnabled    bool
	OrganizationName string
	OrganizationSlug string
	OrganizationOn   bool // the organization is active
	// OrganizationSuspended: a platform admin suspended the organization,
	// so its deliveries are held.
	OrganizationSuspended bool
	// OrganizationSender is how the organization signs its emails.
	OrganizationSender Sender
	ContentPosition    int
	ContentBody        string
}

// DeliveryForSending returns a delivery with its enrollment, learner,
// course, organization and content, or ErrNotFound. It locks nothing.
func (q *Queries) DeliveryForSending(ctx context.Context, id int64) (DueDelivery, error) {
	list, err := q.deliveriesForSending(ctx, []int64{id}, false)
	if err != nil {
		return DueDelivery{}, err
	}
	if len(list) == 0 {
		return DueDelivery{}, fmt.Errorf("delivery %d: %w", id, ErrNotFound)
	}
	return list[0], nil
}

// DeliveriesForSending returns those of the deliveries that exist, in the
// order of their ids, as DeliveryForSending does. It locks nothing.
func (q *Queries) DeliveriesForSending(ctx context.Context, ids []int64) ([]DueDelivery, error) {
	return q.deliveriesForSending(ctx, ids, false)
}

// LockDeliveriesForSending returns those of the deliveries that exist, in
// the order of their ids, as DeliveryForSending does. On PostgreSQL it
// locks their enrollments and then them until the transaction ends: of
// two jobs working one delivery at once the second waits and then reads
// what the first made of it, and ending an enrollment, which locks it
// and then its deliveries, takes the locks in the same order. (SQLite's
// write transaction holds the whole database already.)
func (q *Queries) LockDeliveriesForSending(ctx context.Context, ids []int64) ([]DueDelivery, error) {
	return q.deliveriesForSending(ctx, ids, q.dialect == Postgres)
}

func (q *Queries) deliveriesForSending(ctx context.Context, ids []int64, lock bool) ([]DueDelivery, error) {
	in, list := q.idIn("d.id", ids)
	if lock {
		_, err := q.exec(ctx, `SELECT e.id FROM enrollments e
			WHERE e.id IN (SELECT d.enrollment_id FROM deliveries d WHERE `+in+`)
			ORDER BY e.id FOR NO KEY UPDATE`, list)
		if err != nil {
			return nil, fmt.Errorf("lock enrollments of %d deliveries: %w", len(ids), err)
		}
	}
	query := `
		SELECT d.id, d.organization_id, d.enrollment_id, d.content_id, d.attempt, d.due_at, d.status, d.attempts, d.sent_at,
			d.mail_message_id, d.created_at, d.updated_at,
			e.status, e.link_key, l.email, c.id, c.title, c.slug, c.enabled, o.name, o.slug, o.is_active,
			o.suspended_at IS NOT NULL, o.sender_name, o.reply_to, o.postal_address,
			ci.kind, ci.title, ci.position, ci.body,
			EXISTS (SELECT 1 FROM blocked_emails b WHERE b.organization_id = d.organization_id AND b.email = LOWER(l.email))
				OR EXISTS (SELECT 1 FROM blocked_emails b WHERE b.organization_id IS NULL AND b.email = LOWER(l.email))
		FROM deliveries d
		JOIN enrollments e ON e.id = d.enrollment_id AND e.organization_id = d.organization_id
		JOIN learners l ON l.id = e.learner_id
		JOIN courses c ON c.id = e.course_id
		JOIN organizations o ON o.id = d.organization_id
		JOIN content_items ci ON ci.id = d.content_id AND ci.organization_id = d.organization_id
		WHERE ` + in + ` ORDER BY d.id`
	if lock {
		query += ` FOR UPDATE OF d`
	}
	rs, err := q.query(ctx, query, list)
	if err != nil {
		return nil, fmt.Errorf("%d deliveries for sending: %w", len(ids), err)
	}
	defer rs.Close()
	var found []DueDelivery
	for rs.Next() {
		var (
			d             DueDelivery
			sentAt        sql.NullTime
			mailMessageID sql.NullInt64
		)
		err := rs.Scan(&d.ID, &d.OrganizationID, &d.EnrollmentID, &d.ContentID, &d.Attempt, &d.DueAt, &d.Status, &d.Attempts, &sentAt,
			&mailMessageID, &d.CreatedAt, &d.UpdatedAt,
			&d.EnrollmentStatus, &d.LinkKey, &d.LearnerEmail, &d.CourseID, &d.CourseTitle, &d.CourseSlug, &d.CourseEnabled, &d.OrganizationName, &d.OrganizationSlug, &d.OrganizationOn,
			&d.OrganizationSuspended, &d.OrganizationSender.Name, &d.OrganizationSender.ReplyTo, &d.OrganizationSender.PostalAddress,
			&d.ContentKind, &d.ContentTitle, &d.ContentPosition, &d.ContentBody, &d.LearnerBlocked)
		if err != nil {
			return nil, fmt.Errorf("%d deliveries for sending: %w", len(ids), err)
		}
		d.DueAt, d.CreatedAt, d.UpdatedAt = d.DueAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
		d.SentAt, d.MailMessageID = nullTime(sentAt), nullInt(mailMessageID)
		found = append(found, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%d deliveries for sending: %w", len(ids), err)
	}
	return found, nil
}

// MarkDeliverySent records that a delivery's email was handed to the mail
// queue, once: ErrNotFound when it was no longer to be worked.
func (q *Queries) MarkDeliverySent(ctx context.Context, id, mailMessageID int64) error {
	t := now()
	return q.updateScheduledDelivery(ctx, id, `
		UPDATE deliveries SET status = 'sent', sent_at = ?, mail_message_id = ?, attempts = attempts + 1, updated_at = ?
		WHERE id = ? AND status IN ('scheduled', 'sending')`, t, mailMessageID, t, id)
}

// CancelDelivery cancels one delivery still to be worked: ErrNotFound
// when it was no longer.
func (q *Queries) CancelDelivery(ctx context.Context, id int64) error {
	return q.updateScheduledDelivery(ctx, id,
		`UPDATE deliveries SET status = 'cancelled', updated_at = ? WHERE id = ? AND status IN ('scheduled', 'sending')`, now(), id)
}

// HoldDelivery holds one delivery still to be worked, because its
// organization is suspended: ErrNotFound when it was no longer to be
// worked.
func (q *Queries) HoldDelivery(ctx context.Context, id int64) error {
	return q.updateScheduledDelivery(ctx, id,
		`UPDATE deliveries SET status = 'held', updated_at = ? WHERE id = ? AND status IN ('scheduled', 'sending')`, now(), id)
}

// HoldOrganizationDeliveries holds every delivery of an organization still
// to be worked, those handed to a job included (the job leaves a delivery
// no longer sending alone), and reports how many. The status part of
// deliveries_due_idx finds them: the cost is the deliveries pending on the
// platform, not all those ever sent.
func (q *Queries) HoldOrganizationDeliveries(ctx context.Context, orgID int64) (int64, error) {
	n, err := q.exec(ctx, `UPDATE deliveries SET status = 'held', updated_at = ?
		WHERE status IN ('scheduled', 'sending') AND organization_id = ?`, now(), orgID)
	if err != nil {
		return 0, fmt.Errorf("hold deliveries of organization %d: %w", orgID, err)
	}
	return n, nil
}

// ReleaseOrganizationDeliveries schedules an organization's held
// deliveries again, at their due time (past, most of them, so the next
// pass hands them to jobs in the order they were due), and reports how
// many.
func (q *Queries) ReleaseOrganizationDeliveries(ctx context.Context, orgID int64) (int64, error) {
	n, err := q.exec(ctx, `UPDATE deliveries SET status = 'scheduled', updated_at = ?
		WHERE status = 'held' AND organization_id = ?`, now(), orgID)
	if err != nil {
		return 0, fmt.Errorf("release deliveries of organization %d: %w", orgID, err)
	}
	return n, nil
}

// ClaimDeliveries marks those of the deliveries still scheduled as handed
// to a job (sending), so that the next pass leaves them to it, and
// returns their ids.
func (q *Queries) ClaimDeliveries(ctx context.Context, ids []int64) ([]int64, error) {
	query, args := q.claimDeliveries(ids)
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("claim %d deliveries: %w", len(ids), err)
	}
	defer rs.Close()
	var claimed []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, fmt.Errorf("claim %d deliveries: %w", len(ids), err)
		}
		claimed = append(claimed, id)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("claim %d deliveries: %w", len(ids), err)
	}
	return claimed, nil
}

func (q *Queries) updateScheduledDelivery(ctx context.Context, id int64, query string, args ...any) error {
	n, err := q.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("update delivery %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("update delivery %d: %w", id, ErrNotFound)
	}
	return nil
}

// claimDeliveries is the statement of ClaimDeliveries, which
// ClaimDeliveriesPlan explains. Without statistics SQLite would rather
// read every scheduled delivery from the status part of deliveries_due_idx
// than look up the ids, which made a pass cost the due deliveries times
// all those scheduled; the unary + keeps the status off the index.
func (q *Queries) claimDeliveries(ids []int64) (string, []any) {
	status := "status"
	if q.dialect == SQLite {
		status = "+status"
	}
	in, list := q.idIn("id", ids)
	return `UPDATE deliveries SET status = 'sending', updated_at = ? WHERE ` + in + ` AND ` + status + ` = 'scheduled' RETURNING id`,
		[]any{now(), list}
}

// CancelEnrollmentDeliveries cancels every delivery of an enrollment still
// to be worked, held ones included, and reports how many.
func (q *Queries) CancelEnrollmentDeliveries(ctx context.Context, orgID, enrollmentID int64) (int64, error) {
	n, err := q.exec(ctx, `UPDATE deliveries SET status = 'cancelled', updated_at = ?
		WHERE organization_id = ? AND enrollment_id = ? AND status IN ('scheduled', 'sending', 'held')`, now(), orgID, enrollmentID)
	if err != nil {
		return 0, fmt.Errorf("cancel deliveries of enrollment %d: %w", enrollmentID, err)
	}
	return n, nil
}

// EnrollmentDeliveries lists what was scheduled and sent to an enrollment,
// in course order.
func (q *Queries) EnrollmentDeliveries(ctx context.Context, orgID, enrollmentID int64) ([]Delivery, error) {
	return q.deliveries(ctx, `d.organization_id = ? AND d.enrollment_id = ?
		ORDER BY ci.position, d.id`, orgID, enrollmentID)
}

// deliveries returns the deliveries, with their content's title and kind,
// that the condition (and its ORDER BY) selects.
func (q *Queries) deliveries(ctx context.Context, cond string, args ...any) ([]Delivery, error) {
	rs, err := q.query(ctx, `
		SELECT d.id, d.organization_id, d.enrollment_id, d.content_id, d.attempt, d.due_at, d.status, d.attempts, d.sent_at,
			d.mail_message_id, d.created_at, d.updated_at, ci.title, ci.kind
		FROM deliveries d JOIN content_items ci ON ci.id = d.content_id
		WHERE `+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	defer rs.Close()
	var list []Delivery
	for rs.Next() {
		var (
			d             Delivery
			sentAt        sql.NullTime
			mailMessageID sql.NullInt64
		)
		if err := rs.Scan(&d.ID, &d.OrganizationID, &d.EnrollmentID, &d.ContentID, &d.Attempt, &d.DueAt, &d.Status, &d.Attempts, &sentAt,
			&mailMessageID, &d.CreatedAt, &d.UpdatedAt, &d.ContentTitle, &d.ContentKind); err != nil {
			return nil, fmt.Errorf("deliveries: %w", err)
		}
		d.DueAt, d.CreatedAt, d.UpdatedAt = d.DueAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
		d.SentAt, d.MailMessageID = nullTime(sentAt), nullInt(mailMessageID)
		list = append(list, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	return list, nil
}

// DueDeliveries lists scheduled deliveries due at or before t, the
// earliest first, after the one named by from (the zero DueRef for the
// start), at most limit of them. It reads the deliveries_due_idx index.
func (q *Queries) DueDeliveries(ctx context.Context, t time.Time, from DueRef, limit int) ([]DueRef, error) {
	return q.dueRefs(ctx, "due deliveries", dueDeliveriesQuery, dueDeliveriesArgs(t, from, limit)...)
}

// StuckDeliveries lists deliveries marked sending (handed to a job) at or
// before t, in the order of their due time, after the one named by from,
// at most limit of them: with t an hour ago, those whose job is likely
// lost. It reads the part of deliveries_due_idx that holds the deliveries
// sending, few but for a pass's backlog.
func (q *Queries) StuckDeliveries(ctx context.Context, t time.Time, from DueRef, limit int) ([]DueRef, error) {
	after := from.DueAt.UTC()
	return q.dueRefs(ctx, "stuck deliveries", `
		SELECT id, due_at FROM deliveries
		WHERE status = 'sending' AND updated_at <= ? AND due_at >= ? AND (due_at > ? OR (due_at = ? AND id > ?))
		ORDER BY due_at, id LIMIT ?`, t.UTC().Truncate(time.Microsecond), after, after, after, from.ID, limit)
}

func (q *Queries) dueRefs(ctx context.Context, what, query string, args ...any) ([]DueRef, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rs.Close()
	var list []DueRef
	for rs.Next() {
		var d DueRef
		if err := rs.Scan(&d.ID, &d.DueAt); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		d.DueAt = d.DueAt.UTC()
		list = append(list, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return list, nil
}

// dueDeliveriesQuery is the query of DueDeliveries; DueDeliveriesPlans
// shows how the database runs it. "due_at >= ?" says nothing the
// condition after it does not, but it is what lets both databases start
// reading the index at the cursor: without it each batch read the index
// from its start, and a pass cost the square of the deliveries due.
const dueDeliveriesQuery = `
	SELECT id, due_at FROM deliveries
	WHERE status = 'scheduled' AND due_at <= ? AND due_at >= ? AND (due_at > ? OR (due_at = ? AND id > ?))
	ORDER BY due_at, id LIMIT ?`

func dueDeliveriesArgs(t time.Time, from DueRef, limit int) []any {
	after := from.DueAt.UTC()
	return []any{t.UTC().Truncate(time.Microsecond), after, after, after, from.ID, limit}
}

// DueRef names a due delivery and the time it was due.
type DueRef struct {
	ID    int64
	DueAt time.Time
}
