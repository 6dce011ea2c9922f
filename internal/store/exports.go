package store

import (
	"context"
	"fmt"
	"time"
)

// The exports read an organization's rows a page at a time, each page a
// range of an index from where the last one ended (keyset pagination), so
// that every page costs the same however far the export has gone and
// nothing is held from one page to the next.

// ExportCourse is a course as the enrollments export goes through them.
type ExportCourse struct {
	ID    int64
	Title string
	// PublishedItems counts the course's published lessons and quizzes:
	// what an enrollment's progress is measured against.
	PublishedItems int
}

// ExportCourses returns every course of an organization, by id, with its
// number of published items.
func (q *Queries) ExportCourses(ctx context.Context, orgID int64) ([]ExportCourse, error) {
	rs, err := q.query(ctx, `
		SELECT c.id, c.title,
			(SELECT COUNT(*) FROM content_items ci WHERE ci.course_id = c.id AND ci.published)
		FROM courses c WHERE c.organization_id = ? ORDER BY c.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("courses of organization %d to export: %w", orgID, err)
	}
	defer rs.Close()
	var list []ExportCourse
	for rs.Next() {
		var c ExportCourse
		if err := rs.Scan(&c.ID, &c.Title, &c.PublishedItems); err != nil {
			return nil, fmt.Errorf("courses of organization %d to export: %w", orgID, err)
		}
		list = append(list, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("courses of organization %d to export: %w", orgID, err)
	}
	return list, nil
}

// EnrollmentExportRow is an enrollment as the export writes it: the
// enrollment, its learner, its progress, its quiz results and its
// certificate.
type EnrollmentExportRow struct {
	ID           int64
	LearnerID    int64
	LearnerEmail string
	// LearnerName is the name the learner gave to be printed on this
	// enrollment's certificate: learners give no name otherwise.
	LearnerName string
	Status      EnrollmentStatus
	CreatedAt   time.Time
	ActivatedAt *time.Time // confirmed (or enrolled directly); nil while unverified
	EndedAt     *time.Time // completed, failed, cancelled or unsubscribed
	// ItemsSent counts the distinct lessons and quizzes emailed to the
	// enrollment (a quiz sent again counts once).
	ItemsSent int
	// Quizzes are the quizzes answered at least once, by content id.
	Quizzes []QuizResult
	// CertificateNumber is "" without a certificate.
	CertificateNumber  string
	CertificateRevoked bool
}

// QuizResult is how an enrollment did on one quiz, over all its answers.
type QuizResult struct {
	ContentID int64
	BestScore int // 0 to 100
	Attempts  int
	Passed    bool // one of the answers passed
}

// enrollmentExportQuery reads a page of enrollments with all a row needs
// in one statement: the learner and the certificate by key, and per
// enrollment the items sent and whether it answered any quiz, each a probe
// of an index on enrollment_id. The status is tested inside the count
// rather than in WHERE, so that no planner reads the sent deliveries of
// every organization along (status, due_at) instead of the enrollment's.
// The learners are bounded as the enrollments are (l.id > the same
// learner): PostgreSQL may join the two by merging index scans, and
// without it the learners' scan began at the first learner on every page.
func (q *Queries) enrollmentExportQuery() string {
	return `
	SELECT e.id, e.learner_id, l.email, COALESCE(ct.learner_name, ''), e.status, ` + q.asText("e.created_at") + `,
		` + q.asText("e.activated_at") + `, ` + q.asText("e.ended_at") + `, COALESCE(ct.number, ''),
		CASE WHEN ct.revoked_at IS NULL THEN 0 ELSE 1 END,
		(SELECT COUNT(DISTINCT CASE WHEN d.status = 'sent' THEN d.content_id END) FROM deliveries d
			WHERE d.enrollment_id = e.id AND d.organization_id = e.organization_id),
		(SELECT COUNT(*) FROM quiz_attempts qa WHERE qa.enrollment_id = e.id)
	FROM enrollments e
	JOIN learners l ON l.id = e.learner_id
	LEFT JOIN certificates ct ON ct.enrollment_id = e.id
	WHERE e.organization_id = ? AND e.course_id = ? AND e.learner_id > ? AND l.id > ?
	ORDER BY e.learner_id LIMIT ?`
}

// quizResultsQuery sums up the quiz answers of each enrollment whose id
// the condition in selects, per quiz.
func quizResultsQuery(in string) string {
	return `
	SELECT enrollment_id, content_id, MAX(score), COUNT(*), MAX(CASE WHEN passed THEN 1 ELSE 0 END)
	FROM quiz_attempts
	WHERE organization_id = ? AND ` + in + `
	GROUP BY enrollment_id, content_id
	ORDER BY enrollment_id, content_id`
}

// EnrollmentExportPage returns up to limit enrollments of a course of an
// organization whose learner id comes after afterLearner, by learner id:
// a range of the (course_id, learner_id) unique index. One statement reads
// the page; a second sums up the quiz answers of those of its enrollments
// that gave any, for all of them at once. The rows are appended to
// dst[:0], so that a caller that passes the last page back reads every
// page into the same memory.
func (q *Queries) EnrollmentExportPage(ctx context.Context, orgID, courseID, afterLearner int64, limit int, dst []EnrollmentExportRow) ([]EnrollmentExportRow, error) {
	what := fmt.Sprintf("enrollments of course %d of organization %d to export", courseID, orgID)
	rs, err := q.query(ctx, q.enrollmentExportQuery(), orgID, courseID, afterLearner, afterLearner, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rs.Close()
	list := dst[:0]
	var answered []int64 // the page's enrollments with quiz answers
	for rs.Next() {
		var (
			e                         EnrollmentExportRow
			status                    string
			created, activated, ended textTime
			revoked, attempts         int
		)
		if err := rs.Scan(&e.ID, &e.LearnerID, &e.LearnerEmail, &e.LearnerName, &status, &created, &activated,
			&ended, &e.CertificateNumber, &revoked, &e.ItemsSent, &attempts); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		e.Status, e.CreatedAt = EnrollmentStatus(status), created.Time
		e.ActivatedAt, e.EndedAt, e.CertificateRevoked = activated.ptr(), ended.ptr(), revoked == 1
		if attempts > 0 {
			answered = append(answered, e.ID)
		}
		list = append(list, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	rs.Close()
	if len(answered) == 0 {
		return list, nil
	}
	at := make(map[int64]int, len(answered))
	for i, e := range list {
		at[e.ID] = i
	}
	in, arg := q.idIn("enrollment_id", answered)
	quizzes, err := q.query(ctx, quizResultsQuery(in), orgID, arg)
	if err != nil {
		return nil, fmt.Errorf("%s: quiz results: %w", what, err)
	}
	defer quizzes.Close()
	for quizzes.Next() {
		var (
			id     int64
			r      QuizResult
			passed int
		)
		if err := quizzes.Scan(&id, &r.ContentID, &r.BestScore, &r.Attempts, &passed); err != nil {
			return nil, fmt.Errorf("%s: quiz results: %w", what, err)
		}
		r.Passed = passed == 1
		list[at[id]].Quizzes = append(list[at[id]].Quizzes, r)
	}
	if err := quizzes.Err(); err != nil {
		return nil, fmt.Errorf("%s: quiz results: %w", what, err)
	}
	return list, nil
}

// LearnerExportRow is a learner as the export writes it.
type LearnerExportRow struct {
	ID        int64
	Email     string
	Name      string // the name on their certificate claimed last; "" when none
	CreatedAt time.Time
	// Enrollments counts their enrollments, whatever their status.
	Enrollments int
	// Blocked tells whether their address is blocked, by the
	// organization or platform-wide.
	Blocked bool
}

// learnerExportQuery reads a page of learners with their name, number of
// enrollments and block.
func (q *Queries) learnerExportQuery() string {
	return `
	SELECT l.id, l.email, ` + q.asText("l.created_at") + `,
		COALESCE((SELECT ct.learner_name FROM enrollments e JOIN certificates ct ON ct.enrollment_id = e.id
			WHERE e.learner_id = l.id AND ct.learner_name IS NOT NULL
			ORDER BY ct.claimed_at DESC, ct.id DESC LIMIT 1), ''),
		(SELECT COUNT(*) FROM enrollments e WHERE e.learner_id = l.id),
		CASE WHEN EXISTS (SELECT 1 FROM blocked_emails b WHERE b.organization_id = l.organization_id AND b.email = l.email)
			OR EXISTS (SELECT 1 FROM blocked_emails b WHERE b.organization_id IS NULL AND b.email = l.email)
			THEN 1 ELSE 0 END
	FROM learners l
	WHERE l.organization_id = ? AND l.email > ?
	ORDER BY l.email LIMIT ?`
}

// LearnerExportPage returns up to limit learners of an organization whose
// address comes after afterEmail, by address: a range of the
// (organization_id, email) unique index, the order of the learners' list.
func (q *Queries) LearnerExportPage(ctx context.Context, orgID int64, afterEmail string, limit int) ([]LearnerExportRow, error) {
	what := fmt.Sprintf("learners of organization %d to export", orgID)
	rs, err := q.query(ctx, q.learnerExportQuery(), orgID, afterEmail, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rs.Close()
	list := make([]LearnerExportRow, 0, limit)
	for rs.Next() {
		var (
			l       LearnerExportRow
			created textTime
			blocked int
		)
		if err := rs.Scan(&l.ID, &l.Email, &created, &l.Name, &l.Enrollments, &blocked); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		l.CreatedAt, l.Blocked = created.Time, blocked == 1
		list = append(list, l)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return list, nil
}
