package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// QuizAttempt is one answered quiz email: the answers a learner chose on
// the page of one delivery, and their score.
type QuizAttempt struct {
	ID             int64
	OrganizationID int64
	EnrollmentID   int64
	DeliveryID     int64
	ContentID      int64
	Attempt        int // the delivery's attempt
	Score          int // 0..100
	Passed         bool
	// Answers are the chosen answer ids by question id; every question of
	// the quiz has an entry, empty when nothing was chosen.
	Answers      map[int64][]int64
	CreatedAt    time.Time
	ContentTitle string // for lists
	LearnerEmail string // for lists of a course's attempts
}

// NewQuizAttempt is an attempt to record.
type NewQuizAttempt struct {
	OrganizationID int64
	EnrollmentID   int64
	DeliveryID     int64
	ContentID      int64
	Attempt        int
	Score          int
	Passed         bool
	Answers        map[int64][]int64
	At             time.Time
}

const quizAttemptColumns = `a.id, a.organization_id, a.enrollment_id, a.delivery_id, a.content_id, a.attempt, a.score,
	a.passed, a.answers, a.created_at, ci.title`

const quizAttemptFrom = `quiz_attempts a JOIN content_items ci ON ci.id = a.content_id AND ci.organization_id = a.organization_id`

// scanQuizAttempt reads quizAttemptColumns and then the columns of extra.
func scanQuizAttempt(r row, extra ...any) (QuizAttempt, error) {
	var (
		a       QuizAttempt
		answers string
	)
	dest := append([]any{&a.ID, &a.OrganizationID, &a.EnrollmentID, &a.DeliveryID, &a.ContentID, &a.Attempt, &a.Score,
		&a.Passed, &answers, &a.CreatedAt, &a.ContentTitle}, extra...)
	if err := r.Scan(dest...); err != nil {
		return QuizAttempt{}, err
	}
	if err := json.Unmarshal([]byte(answers), &a.Answers); err != nil {
		return QuizAttempt{}, fmt.Errorf("answers of quiz attempt %d: %w", a.ID, err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

// CreateQuizAttempt records the answer to a quiz delivery and reports
// whether it did: a delivery is answered once, so when it has an attempt
// already (maybe from a concurrent request) nothing is written and the
// result is false.
func (q *Queries) CreateQuizAttempt(ctx context.Context, na NewQuizAttempt) (bool, error) {
	answers, err := json.Marshal(na.Answers)
	if err != nil {
		return false, fmt.Errorf("answers of delivery %d: %w", na.DeliveryID, err)
	}
	n, err := q.exec(ctx, `
		INSERT INTO quiz_attempts (organization_id, enrollment_id, delivery_id, content_id, course_id, attempt, score, passed, answers, created_at)
		VALUES (?, ?, ?, ?, (SELECT course_id FROM content_items WHERE id = ? AND organization_id = ?), ?, ?, ?, ?, ?)
		ON CONFLICT (delivery_id) DO NOTHING`,
		na.OrganizationID, na.EnrollmentID, na.DeliveryID, na.ContentID, na.ContentID, na.OrganizationID, na.Attempt, na.Score, na.Passed,
		string(answers), dbTime(na.At))
	if err != nil {
		return false, fmt.Errorf("record the answer to delivery %d: %w", na.DeliveryID, err)
	}
	return n > 0, nil
}

// QuizAttemptByDelivery returns the answer to a quiz delivery of an
// organization, or ErrNotFound when it is not answered.
func (q *Queries) QuizAttemptByDelivery(ctx context.Context, orgID, deliveryID int64) (QuizAttempt, error) {
	a, err := scanQuizAttempt(q.queryRow(ctx, `SELECT `+quizAttemptColumns+` FROM `+quizAttemptFrom+`
		WHERE a.organization_id = ? AND a.delivery_id = ?`, orgID, deliveryID))
	if errors.Is(err, sql.ErrNoRows) {
		return QuizAttempt{}, ErrNotFound
	}
	if err != nil {
		return QuizAttempt{}, fmt.Errorf("answer to delivery %d: %w", deliveryID, err)
	}
	return a, nil
}

// EnrollmentQuizAttempts lists the quiz answers of an enrollment, oldest
// first.
func (q *Queries) EnrollmentQuizAttempts(ctx context.Context, orgID, enrollmentID int64) ([]QuizAttempt, error) {
	rs, err := q.query(ctx, `SELECT `+quizAttemptColumns+` FROM `+quizAttemptFrom+`
		WHERE a.organization_id = ? AND a.enrollment_id = ? ORDER BY a.created_at, a.id`, orgID, enrollmentID)
	if err != nil {
		return nil, fmt.Errorf("quiz answers of enrollment %d: %w", enrollmentID, err)
	}
	defer rs.Close()
	var list []QuizAttempt
	for rs.Next() {
		a, err := scanQuizAttempt(rs)
		if err != nil {
			return nil, fmt.Errorf("quiz answers of enrollment %d: %w", enrollmentID, err)
		}
		list = append(list, a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("quiz answers of enrollment %d: %w", enrollmentID, err)
	}
	return list, nil
}

// QuizAttemptFilter selects one page of a course's quiz attempts, newest
// first.
type QuizAttemptFilter struct {
	OrganizationID int64
	CourseID       int64
	ContentID      int64 // one quiz's attempts; 0 for every quiz
	EnrollmentID   int64 // one enrollment's attempts; 0 for every one
	Before         int64 // the attempts older than this id; 0 from the newest
	Limit          int
}

// courseQuizAttempts is the query of CourseQuizAttempts and its arguments.
// Each filter adds its condition rather than a "? = 0 OR" one, so that the
// plan fits what it selects: a range of quiz_attempts_course_idx, or of
// quiz_attempts_content_idx for one quiz, from the cursor down.
func courseQuizAttempts(f QuizAttemptFilter) (string, []any) {
	before := f.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	query := `SELECT ` + quizAttemptColumns + `, l.email FROM ` + quizAttemptFrom + `
		JOIN enrollments e ON e.id = a.enrollment_id AND e.organization_id = a.organization_id
		JOIN learners l ON l.id = e.learner_id
		WHERE a.organization_id = ? AND a.course_id = ? AND a.id < ?`
	args := []any{f.OrganizationID, f.CourseID, before}
	if f.ContentID != 0 {
		query += ` AND a.content_id = ?`
		args = append(args, f.ContentID)
	}
	if f.EnrollmentID != 0 {
		query += ` AND a.enrollment_id = ?`
		args = append(args, f.EnrollmentID)
	}
	return query + ` ORDER BY a.id DESC LIMIT ?`, append(args, f.Limit)
}

// CourseQuizAttempts lists a course's quiz attempts, newest first, with
// their learner's address.
func (q *Queries) CourseQuizAttempts(ctx context.Context, f QuizAttemptFilter) ([]QuizAttempt, error) {
	query, args := courseQuizAttempts(f)
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("quiz attempts of course %d: %w", f.CourseID, err)
	}
	defer rs.Close()
	var list []QuizAttempt
	for rs.Next() {
		var email string
		a, err := scanQuizAttempt(rs, &email)
		if err != nil {
			return nil, fmt.Errorf("quiz attempts of course %d: %w", f.CourseID, err)
		}
		a.LearnerEmail = email
		list = append(list, a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("quiz attempts of course %d: %w", f.CourseID, err)
	}
	return list, nil
}

// CountFailedQuizAttempts counts the failed answers of an enrollment to a
// quiz recorded at or after since.
func (q *Queries) CountFailedQuizAttempts(ctx context.Context, orgID, enrollmentID, contentID int64, since time.Time) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM quiz_attempts
		WHERE organization_id = ? AND enrollment_id = ? AND content_id = ? AND NOT passed AND created_at >= ?`,
		orgID, enrollmentID, contentID, dbTime(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("failed answers of enrollment %d to quiz %d: %w", enrollmentID, contentID, err)
	}
	return n, nil
}
