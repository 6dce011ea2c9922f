package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EnrollmentStatus is where a learner stands in a course.
type EnrollmentStatus string

const (
	EnrollmentUnverified   EnrollmentStatus = "unverified"   // asked, the emailed link not yet confirmed
	EnrollmentActive       EnrollmentStatus = "active"       // confirmed: content is being delivered
	EnrollmentCompleted    EnrollmentStatus = "completed"    // passed the course
	EnrollmentFailed       EnrollmentStatus = "failed"       // did not pass
	EnrollmentCancelled    EnrollmentStatus = "cancelled"    // ended by the organization's staff
	EnrollmentUnsubscribed EnrollmentStatus = "unsubscribed" // ended by the learner
)

// EnrollmentStatuses lists every status, in the order of the design.
var EnrollmentStatuses = []EnrollmentStatus{EnrollmentUnverified, EnrollmentActive, EnrollmentCompleted,
	EnrollmentFailed, EnrollmentCancelled, EnrollmentUnsubscribed}

// Valid reports whether s is one of the statuses.
func (s EnrollmentStatus) Valid() bool {
	for _, v := range EnrollmentStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Open reports whether an enrollment with this status can still end by
// cancelling or unsubscribing: it is waiting for confirmation or running.
func (s EnrollmentStatus) Open() bool { return s == EnrollmentUnverified || s == EnrollmentActive }

// Enrollment is a learner in a course of an organization. The learner's
// address and the course's title and slug come along, for pages, lists and
// emails.
type Enrollment struct {
	ID             int64
	OrganizationID int64
	CourseID       int64
	LearnerID      int64
	LearnerEmail   string
	CourseTitle    string
	CourseSlug     string
	Status         EnrollmentStatus
	// ConfirmExpiresAt is when the pending confirmation link stops
	// working; nil when no link is pending.
	ConfirmExpiresAt *time.Time
	// ConfirmSentAt is when the last confirmation or reminder email went
	// out, for the throttle; nil when none did.
	ConfirmSentAt *time.Time
	RequestedIP   string // the client that asked for the enrollment
	ConfirmedIP   string // the client that confirmed it
	ActivatedAt   *time.Time
	EndedAt       *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// LinkKey is a random key drawn when the enrollment is created: its
	// emailed links are signed with it as well as the id, so that they
	// name this row and no other, whatever is deleted or added later.
	LinkKey string
}

const enrollmentColumns = `e.id, e.organization_id, e.course_id, e.learner_id, l.email, c.title, c.slug, e.status,
	e.confirm_expires_at, e.confirm_sent_at, e.requested_ip, e.confirmed_ip, e.activated_at, e.ended_at,
	e.created_at, e.updated_at, e.link_key`

const enrollmentFrom = `enrollments e JOIN learners l ON l.id = e.learner_id JOIN courses c ON c.id = e.course_id`

func scanEnrollment(r row, extra ...any) (Enrollment, error) {
	var (
		e                               Enrollment
		status                          string
		expires, sent, activated, ended sql.NullTime
	)
	dest := append([]any{&e.ID, &e.OrganizationID, &e.CourseID, &e.LearnerID, &e.LearnerEmail, &e.CourseTitle, &e.CourseSlug, &status,
		&expires, &sent, &e.RequestedIP, &e.ConfirmedIP, &activated, &ended, &e.CreatedAt, &e.UpdatedAt, &e.LinkKey}, extra...)
	if err := r.Scan(dest...); err != nil {
		return Enrollment{}, err
	}
	e.Status = EnrollmentStatus(status)
	e.ConfirmExpiresAt, e.ConfirmSentAt = nullTime(expires), nullTime(sent)
	e.ActivatedAt, e.EndedAt = nullTime(activated), nullTime(ended)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, nil
}

func (q *Queries) enrollment(ctx context.Context, what, query string, args ...any) (Enrollment, error) {
	e, err := scanEnrollment(q.queryRow(ctx, `SELECT `+enrollmentColumns+` FROM `+enrollmentFrom+` WHERE `+query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Enrollment{}, ErrNotFound
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf("%s: %w", what, err)
	}
	return e, nil
}

// Enrollment returns an organization's enrollment by id, or ErrNotFound.
func (q *Queries) Enrollment(ctx context.Context, orgID, id int64) (Enrollment, error) {
	return q.enrollment(ctx, fmt.Sprintf("enrollment %d of organization %d", id, orgID),
		`e.organization_id = ? AND e.id = ?`, orgID, id)
}

// EnrollmentByID returns an enrollment by id alone, whatever its
// organization. It is for signed links (unsubscribing), whose signature
// has proven the id; everything else goes through Enrollment, with the
// organization.
func (q *Queries) EnrollmentByID(ctx context.Context, id int64) (Enrollment, error) {
	return q.enrollment(ctx, fmt.Sprintf("enrollment %d", id), `e.id = ?`, id)
}

// LockEnrollment returns an organization's enrollment, or ErrNotFound,
// and makes the transaction the only one changing it until it ends, so
// that what it read (the status, the answers recorded) still holds when
// it writes. On SQLite every write transaction already holds the
// database's write lock from its first statement (BEGIN IMMEDIATE).
func (q *Queries) LockEnrollment(ctx context.Context, orgID, id int64) (Enrollment, error) {
	query := `e.organization_id = ? AND e.id = ?`
	if q.dialect == Postgres {
		query += ` FOR UPDATE OF e`
	}
	return q.enrollment(ctx, fmt.Sprintf("lock enrollment %d of organization %d", id, orgID), query, orgID, id)
}

// EnrollmentOf returns the enrollment of a learner in a course, or
// ErrNotFound.
func (q *Queries) EnrollmentOf(ctx context.Context, orgID, courseID, learnerID int64) (Enrollment, error) {
	return q.enrollment(ctx, fmt.Sprintf("enrollment of learner %d in course %d", learnerID, courseID),
		`e.organization_id = ? AND e.course_id = ? AND e.learner_id = ?`, orgID, courseID, learnerID)
}

// EnrollmentByTokenHash returns the enrollment whose confirmation token
// has the hash, pending or already used; used tells which. ErrNotFound
// when no enrollment ever had it, or when a newer link replaced it.
func (q *Queries) EnrollmentByTokenHash(ctx context.Context, tokenHash string) (e Enrollment, used bool, err error) {
	var usedFlag int
	e, err = scanEnrollment(q.queryRow(ctx, `
		SELECT `+enrollmentColumns+`, CASE WHEN e.confirmed_token_hash = ? THEN 1 ELSE 0 END
		FROM `+enrollmentFrom+` WHERE e.confirm_token_hash = ? OR e.confirmed_token_hash = ?`,
		tokenHash, tokenHash, tokenHash), &usedFlag)
	if errors.Is(err, sql.ErrNoRows) {
		return Enrollment{}, false, ErrNotFound
	}
	if err != nil {
		return Enrollment{}, false, fmt.Errorf("enrollment by token: %w", err)
	}
	return e, usedFlag == 1, nil
}

// NewEnrollment holds the fields of an enrollment to create. The times
// come from the caller, whose clock decides expiry and the throttle.
type NewEnrollment struct {
	OrganizationID int64
	CourseID       int64
	LearnerID      int64
	Status         EnrollmentStatus
	TokenHash      string    // the confirmation link's; empty for none
	ExpiresAt      time.Time // of the confirmation link
	RequestedIP    string
	At             time.Time // now: creation, and activation or email sent
}

// CreateEnrollment inserts an enrollment and reports whether it did: when
// the learner is already enrolled in the course (maybe by a concurrent
// request), it returns that enrollment and false.
func (q *Queries) CreateEnrollment(ctx context.Context, ne NewEnrollment) (Enrollment, bool, error) {
	at := dbTime(ne.At)
	var token, expires, sent, activated any
	if ne.TokenHash != "" {
		token, expires, sent = ne.TokenHash, dbTime(ne.ExpiresAt), at
	}
	if ne.Status == EnrollmentActive {
		activated = at
	}
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO enrollments (organization_id, course_id, learner_id, status, confirm_token_hash, confirm_expires_at,
			confirm_sent_at, requested_ip, activated_at, created_at, updated_at, link_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (course_id, learner_id) DO NOTHING
		RETURNING id`,
		ne.OrganizationID, ne.CourseID, ne.LearnerID, string(ne.Status), token, expires, sent, ne.RequestedIP, activated, at, at,
		rand.Text()).Scan(&id)
	created := true
	if errors.Is(err, sql.ErrNoRows) {
		created = false // DO NOTHING returns no row: the enrollment exists
	} else if isUniqueViolation(err) {
		return Enrollment{}, false, fmt.Errorf("create enrollment: %w", ErrConflict) // the token hash, never in practice
	} else if err != nil {
		return Enrollment{}, false, fmt.Errorf("create enrollment of learner %d in course %d: %w", ne.LearnerID, ne.CourseID, err)
	}
	var e Enrollment
	if created {
		e, err = q.Enrollment(ctx, ne.OrganizationID, id)
	} else {
		e, err = q.EnrollmentOf(ctx, ne.OrganizationID, ne.CourseID, ne.LearnerID)
	}
	return e, created, err
}

// Reopening is a new confirmation link for an enrollment: a first request
// that is asked again, or one that had ended and is asked anew.
type Reopening struct {
	OrganizationID int64
	ID             int64
	// From is the status the caller saw; the change happens only if the
	// enrollment still has it.
	From EnrollmentStatus
	// SentBefore, when set, makes the change happen only if no enrollment
	// email went out after it: the throttle.
	SentBefore  time.Time
	TokenHash   string
	ExpiresAt   time.Time
	RequestedIP string
	At          time.Time
}

// ReopenEnrollment makes an enrollment unverified with a new confirmation
// link, if it still has the status From (and, with SentBefore, no email
// went out since), and reports whether it did. Compare-and-set in one
// statement: of concurrent requests exactly one wins, so one email goes.
func (q *Queries) ReopenEnrollment(ctx context.Context, r Reopening) (bool, error) {
	at := dbTime(r.At)
	query := `UPDATE enrollments SET status = 'unverified', confirm_token_hash = ?, confirm_expires_at = ?, confirm_sent_at = ?,
			requested_ip = ?, confirmed_ip = '', activated_at = NULL, ended_at = NULL, updated_at = ?
		WHERE organization_id = ? AND id = ? AND status = ?`
	args := []any{r.TokenHash, dbTime(r.ExpiresAt), at, r.RequestedIP, at, r.OrganizationID, r.ID, string(r.From)}
	if !r.SentBefore.IsZero() {
		query += ` AND (confirm_sent_at IS NULL OR confirm_sent_at <= ?)`
		args = append(args, dbTime(r.SentBefore))
	}
	return q.changeEnrollment(ctx, fmt.Sprintf("reopen enrollment %d", r.ID), query, args...)
}

// MarkEnrollmentMailed records that an email about the enrollment (a
// reminder) goes out at the time at, if the enrollment still has the
// status from and no such email went out after sentBefore, and reports
// whether it did: the caller sends only then.
func (q *Queries) MarkEnrollmentMailed(ctx context.Context, orgID, id int64, from EnrollmentStatus, sentBefore, at time.Time) (bool, error) {
	at = dbTime(at)
	return q.changeEnrollment(ctx, fmt.Sprintf("mark enrollment %d mailed", id), `
		UPDATE enrollments SET confirm_sent_at = ?, updated_at = ?
		WHERE organization_id = ? AND id = ? AND status = ? AND (confirm_sent_at IS NULL OR confirm_sent_at <= ?)`,
		at, at, orgID, id, string(from), dbTime(sentBefore))
}

// ConfirmEnrollment activates the unverified enrollment whose pending
// link has the token hash, if the link has not expired at the time at,
// and reports whether it did. The hash moves to confirmed_token_hash in
// the same statement, so the link works once even under concurrent
// clicks.
func (q *Queries) ConfirmEnrollment(ctx context.Context, orgID int64, tokenHash, ip string, at time.Time) (bool, error) {
	at = dbTime(at)
	return q.changeEnrollment(ctx, fmt.Sprintf("confirm enrollment in organization %d", orgID), `
		UPDATE enrollments SET status = 'active', activated_at = ?, confirmed_token_hash = confirm_token_hash,
			confirm_token_hash = NULL, confirm_expires_at = NULL, confirmed_ip = ?, updated_at = ?
		WHERE organization_id = ? AND confirm_token_hash = ? AND status = 'unverified' AND confirm_expires_at > ?`,
		at, ip, at, orgID, tokenHash, at)
}

// ActivateEnrollment makes an enrollment active without a confirmation
// link (staff or integrations vouch for the address), if it still has the
// status from, and reports whether it did.
func (q *Queries) ActivateEnrollment(ctx context.Context, orgID, id int64, from EnrollmentStatus, at time.Time) (bool, error) {
	at = dbTime(at)
	return q.changeEnrollment(ctx, fmt.Sprintf("activate enrollment %d", id), `
		UPDATE enrollments SET status = 'active', activated_at = ?, confirm_token_hash = NULL, confirm_expires_at = NULL,
			ended_at = NULL, updated_at = ?
		WHERE organization_id = ? AND id = ? AND status = ?`,
		at, at, orgID, id, string(from))
}

// EndEnrollment gives an open (unverified or active) enrollment a final
// status at the time at, and reports whether it did; an enrollment that
// has ended already keeps its status. A pending confirmation link stops
// working.
func (q *Queries) EndEnrollment(ctx context.Context, orgID, id int64, to EnrollmentStatus, at time.Time) (bool, error) {
	at = dbTime(at)
	return q.changeEnrollment(ctx, fmt.Sprintf("end enrollment %d", id), `
		UPDATE enrollments SET status = ?, ended_at = ?, confirm_token_hash = NULL, confirm_expires_at = NULL, updated_at = ?
		WHERE organization_id = ? AND id = ? AND status IN ('unverified', 'active')`,
		string(to), at, at, orgID, id)
}

// FinishEnrollment ends an active enrollment as completed or failed at
// the time at, and returns it as it now is; ended reports whether it was
// active (if not, nothing changed and e is the zero Enrollment).
func (q *Queries) FinishEnrollment(ctx context.Context, orgID, id int64, to EnrollmentStatus, at time.Time) (e Enrollment, ended bool, err error) {
	at = dbTime(at)
	// The course's end reads the enrollment it ended: returned by the
	// update rather than read again, a round trip less per completion.
	e, err = scanEnrollment(q.queryRow(ctx, `
		UPDATE enrollments SET status = ?, ended_at = ?, updated_at = ?
		WHERE organization_id = ? AND id = ? AND status = 'active'
		RETURNING `+enrollmentReturning,
		string(to), at, at, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Enrollment{}, false, nil
	}
	if err != nil {
		return Enrollment{}, false, fmt.Errorf("finish enrollment %d: %w", id, err)
	}
	return e, true, nil
}

// enrollmentReturning are enrollmentColumns as a statement changing
// enrollments returns them: SQLite's RETURNING reads only the table
// changed, not one joined to it.
const enrollmentReturning = `id, organization_id, course_id, learner_id,
	(SELECT l.email FROM learners l WHERE l.id = enrollments.learner_id),
	(SELECT c.title FROM courses c WHERE c.id = enrollments.course_id),
	(SELECT c.slug FROM courses c WHERE c.id = enrollments.course_id), status,
	confirm_expires_at, confirm_sent_at, requested_ip, confirmed_ip, activated_at, ended_at,
	created_at, updated_at, link_key`

func (q *Queries) changeEnrollment(ctx context.Context, what, query string, args ...any) (bool, error) {
	n, err := q.exec(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return n > 0, nil
}

// EnrollmentFilter selects an organization's enrollments for a list.
type EnrollmentFilter struct {
	OrganizationID int64
	Status         EnrollmentStatus // empty for every status
	CourseID       int64            // 0 for every course
	Offset         int
	Limit          int
}

// ListEnrollments returns one page of an organization's enrollments,
// newest first, and how many match in all.
func (q *Queries) ListEnrollments(ctx context.Context, f EnrollmentFilter) ([]Enrollment, int, error) {
	cond := `e.organization_id = ?`
	args := []any{f.OrganizationID}
	if f.Status != "" {
		cond += ` AND e.status = ?`
		args = append(args, string(f.Status))
	}
	if f.CourseID != 0 {
		cond += ` AND e.course_id = ?`
		args = append(args, f.CourseID)
	}
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM enrollments e WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count enrollments of organization %d: %w", f.OrganizationID, err)
	}
	list, err := q.enrollments(ctx, `SELECT `+enrollmentColumns+` FROM `+enrollmentFrom+` WHERE `+cond+`
		ORDER BY e.created_at DESC, e.id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("enrollments of organization %d: %w", f.OrganizationID, err)
	}
	return list, total, nil
}

// LearnersEnrollments returns the enrollments of some learners of an
// organization, by course title.
func (q *Queries) LearnersEnrollments(ctx context.Context, orgID int64, learnerIDs []int64) ([]Enrollment, error) {
	if len(learnerIDs) == 0 {
		return nil, nil
	}
	args := []any{orgID}
	for _, id := range learnerIDs {
		args = append(args, id)
	}
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(learnerIDs)), ", ")
	// Each page of learners makes its own query string; a page holds at
	// most a few dozen learners, so the rebinding cache stays small.
	list, err := q.enrollments(ctx, `SELECT `+enrollmentColumns+` FROM `+enrollmentFrom+`
		WHERE e.organization_id = ? AND e.learner_id IN (`+placeholders+`)
		ORDER BY c.title_key, e.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("enrollments of learners of organization %d: %w", orgID, err)
	}
	return list, nil
}

func (q *Queries) enrollments(ctx context.Context, query string, args ...any) ([]Enrollment, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var list []Enrollment
	for rs.Next() {
		e, err := scanEnrollment(rs)
		if err != nil {
			return nil, err
		}
		list = append(list, e)
	}
	return list, rs.Err()
}

// EnrollmentCourse returns a course of an organization by id, for
// enrolling in it: ErrNotFound when the organization has no such course.
func (q *Queries) EnrollmentCourse(ctx context.Context, orgID, courseID int64) (Course, error) {
	return q.enrollmentCourse(ctx, `organization_id = ? AND id = ?`, orgID, courseID)
}

// EnrollmentCourseBySlug returns a course of an organization by slug, for
// the public enrollment form: ErrNotFound when there is none.
func (q *Queries) EnrollmentCourseBySlug(ctx context.Context, orgID int64, slug string) (Course, error) {
	return q.enrollmentCourse(ctx, `organization_id = ? AND slug = ?`, orgID, slug)
}

func (q *Queries) enrollmentCourse(ctx context.Context, cond string, args ...any) (Course, error) {
	var c Course
	err := q.queryRow(ctx, `
		SELECT id, organization_id, title, slug, description, enabled, public, created_at, updated_at
		FROM courses WHERE `+cond, args...).
		Scan(&c.ID, &c.OrganizationID, &c.Title, &c.Slug, &c.Description, &c.Enabled, &c.Public, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Course{}, ErrNotFound
	}
	if err != nil {
		return Course{}, fmt.Errorf("course of organization %v: %w", args[0], err)
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// CountCourseEnrollments counts a course's enrollments, whatever their
// status.
func (q *Queries) CountCourseEnrollments(ctx context.Context, orgID, courseID int64) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM enrollments WHERE organization_id = ? AND course_id = ?`, orgID, courseID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count enrollments of course %d: %w", courseID, err)
	}
	return n, nil
}
