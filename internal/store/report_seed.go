package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/names"
)

// SeedReports makes ReportSeedCourses courses of ReportSeedItems items
// each: lessons, then a quiz of ReportSeedQuestions questions that passes
// at reportSeedRequiredScore.
const (
	ReportSeedCourses       = 20
	ReportSeedItems         = 5
	ReportSeedQuestions     = 6
	reportSeedRequiredScore = 60
)

// ReportSeedSize is how much SeedReports writes into an organization.
type ReportSeedSize struct {
	Enrollments int // and as many learners, spread over the courses
	Deliveries  int // sent, ReportSeedItems per enrollment before a second attempt
	Days        int // of daily counters, ending today
	// ThroughTriggers writes the enrollments through the triggers that
	// keep their counts, row by row, as the product does. Otherwise, on
	// PostgreSQL, the rows are written with the triggers off
	// (session_replication_role) and the counts rebuilt with one grouped
	// INSERT: a million enrollments through the trigger update the same
	// hundred counter rows a million times in one transaction, which had
	// not finished after 35 minutes. SQLite always goes through its
	// triggers, which cost it little.
	ThroughTriggers bool
}

// ReportSeed is what SeedReports made.
type ReportSeed struct {
	Courses []int64 // by title
	Quizzes []int64 // the quiz of each course, in the same order
}

// SeedReports fills an organization as a busy one looks to its reports,
// fast enough for a million enrollments and five million deliveries:
// learners, enrollments in every status, deliveries sent and quiz answers
// are written with one INSERT ... SELECT over a series each (never row by
// row); the enrollments' status counts are the triggers' (or rebuilt as
// they count them); the item counters are counted from those rows as
// migration 00029 counts an upgraded install's history, and the daily
// counters are Days days of every metric (the rows all date from today,
// so their history is made up). For benchmarks and the tests that check
// the reports' plans only, never a live install: on PostgreSQL it writes
// with the triggers and foreign-key checks off (which takes a superuser)
// and analyzes the whole database. It makes the organization's courses
// itself.
func (db *DB) SeedReports(ctx context.Context, orgID int64, size ReportSeedSize) (ReportSeed, error) {
	var s ReportSeed
	var items []int64 // every item of every course, in order
	err := db.InTx(ctx, func(q *Queries) error {
		for c := range ReportSeedCourses {
			title := fmt.Sprintf("Course %02d", c)
			id, err := q.CreateCourse(ctx, NewCourse{OrganizationID: orgID, Title: title, TitleKey: strings.ToLower(title),
				TitleSkeleton: names.Key(title), Slug: fmt.Sprintf("course-%02d", c), Enabled: true})
			if err != nil {
				return err
			}
			s.Courses = append(s.Courses, id)
			for i := range ReportSeedItems {
				item := NewContentItem{OrganizationID: orgID, CourseID: id, Kind: KindLesson, Title: fmt.Sprintf("Lesson %d", i+1), Published: true}
				if i == ReportSeedItems-1 {
					item.Kind, item.Title, item.RequiredScore = KindQuiz, "Quiz", reportSeedRequiredScore
				}
				content, err := q.CreateContentItem(ctx, item)
				if err != nil {
					return err
				}
				items = append(items, content)
				if item.Kind != KindQuiz {
					continue
				}
				s.Quizzes = append(s.Quizzes, content)
				var questions []QuizQuestion
				for j := range ReportSeedQuestions {
					questions = append(questions, QuizQuestion{Text: fmt.Sprintf("Question %d", j+1),
						Answers: []QuizAnswer{{Text: "Right", Correct: true}, {Text: "Wrong"}}})
				}
				if err := q.SaveQuizQuestions(ctx, orgID, content, questions); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("seed the courses of organization %d: %w", orgID, err)
	}
	// The statements below find a course's items by arithmetic on ids.
	for i, id := range items {
		if id != items[0]+int64(i) || s.Courses[i/ReportSeedItems] != s.Courses[0]+int64(i/ReportSeedItems) {
			return s, fmt.Errorf("seed organization %d: the courses' and items' ids are not consecutive", orgID)
		}
	}
	if err := db.seedReportRows(ctx, orgID, s, items[0], size); err != nil {
		return s, fmt.Errorf("seed the rows of organization %d: %w", orgID, err)
	}
	// The planner's statistics of the new rows, for the statements that
	// count them.
	if err := db.InTx(ctx, func(q *Queries) error { _, err := q.exec(ctx, `ANALYZE`); return err }); err != nil {
		return s, fmt.Errorf("seed organization %d: analyze: %w", orgID, err)
	}
	if err := db.seedReportCounters(ctx, orgID, size.Days); err != nil {
		return s, fmt.Errorf("seed the counters of organization %d: %w", orgID, err)
	}
	// The planner's statistics, as autovacuum would gather them after such
	// a load (SQLite's ANALYZE is what its query planner reads too).
	if err := db.InTx(ctx, func(q *Queries) error { _, err := q.exec(ctx, `ANALYZE`); return err }); err != nil {
		return s, fmt.Errorf("seed organization %d: analyze: %w", orgID, err)
	}
	return s, nil
}

func (db *DB) seedReportRows(ctx context.Context, orgID int64, s ReportSeed, firstItem int64, size ReportSeedSize) error {
	series := func(n int) string {
		if db.dialect == Postgres {
			return fmt.Sprintf(`WITH n(i) AS (SELECT generate_series(0, %d)) `, n-1)
		}
		return fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) `, n-1)
	}
	at := "'" + time.Now().UTC().Format("2006-01-02 15:04:05") + "'"
	e := size.Enrollments
	// The question at position p is answered wrong when the delivery's id
	// modulo 7 is below p: an answer gets id mod 7 of the six right, and
	// the score learning.ScoreQuiz gives k of six, floor(100 k / 6 + 1/2),
	// spreads evenly from 0 to 100.
	score := "(200 * (d.id % 7) + 6) / 12"
	statements := []string{
		series(e) + fmt.Sprintf(`INSERT INTO learners (organization_id, email, created_at, updated_at)
			SELECT %d, 'l' || i || '@example.com', %s, %s FROM n`, orgID, at, at),
		// Course and status by the learner's id: course number id mod 20,
		// status by id mod 6.
		fmt.Sprintf(`INSERT INTO enrollments (organization_id, course_id, learner_id, status, link_key, created_at, updated_at)
			SELECT %d, %d + (l.id %% %d), l.id, CASE l.id %% 6 WHEN 0 THEN 'unverified' WHEN 1 THEN 'active' WHEN 2 THEN 'completed'
				WHEN 3 THEN 'failed' WHEN 4 THEN 'cancelled' ELSE 'unsubscribed' END, 'k' || l.id, %s, %s
			FROM learners l WHERE l.organization_id = %d ORDER BY l.id`,
			orgID, s.Courses[0], ReportSeedCourses, at, at, orgID),
		// Delivery i (from 0) goes to the enrollment numbered i mod e, the
		// item numbered (i / e) mod 5 of the enrollment's course, attempt
		// 1 + i / 5e.
		series(size.Deliveries) + fmt.Sprintf(`INSERT INTO deliveries (organization_id, enrollment_id, content_id, attempt, due_at, status, attempts, sent_at, created_at, updated_at)
			SELECT %d, en.id, %d + %d * (en.course_id - %d) + (i / %d) %% %d, 1 + i / %d, %s, 'sent', 1, %s, %s, %s
			FROM n JOIN enrollments en ON en.organization_id = %d AND en.id = (SELECT MIN(id) FROM enrollments WHERE organization_id = %d) + i %% %d`,
			orgID, firstItem, ReportSeedItems, s.Courses[0], e, ReportSeedItems, ReportSeedItems*e, at, at, at, at, orgID, orgID, e),
	}
	// Every third quiz sent is answered (by a rule independent of the
	// course, which goes by the enrollment modulo 20).
	joins := ""
	for j := 1; j <= ReportSeedQuestions; j++ {
		joins += fmt.Sprintf(" JOIN quiz_questions qq%d ON qq%d.content_id = d.content_id AND qq%d.position = %d", j, j, j, j)
	}
	var chosen []string
	for j := 1; j <= ReportSeedQuestions; j++ {
		// Answers are positioned right (1) then wrong (2).
		chosen = append(chosen, fmt.Sprintf(`'"' || qq%d.id || '":[' || (SELECT a.id FROM quiz_answers a WHERE a.question_id = qq%d.id AND a.position = CASE WHEN d.id %% 7 < %d THEN 2 ELSE 1 END) || ']'`, j, j, j))
	}
	statements = append(statements, fmt.Sprintf(`INSERT INTO quiz_attempts (organization_id, course_id, enrollment_id, delivery_id, content_id, attempt, score, passed, answers, created_at)
		SELECT d.organization_id, %d + (d.content_id - %d) / %d, d.enrollment_id, d.id, d.content_id, d.attempt, %s, %s >= %d, '{' || %s || '}', %s
		FROM deliveries d %s
		WHERE d.organization_id = %d AND d.content_id >= %d AND (d.content_id - %d) %% %d = %d AND d.enrollment_id %% 3 = 0`,
		s.Courses[0], firstItem, ReportSeedItems, score, score, reportSeedRequiredScore, strings.Join(chosen, " || ',' || "), at,
		joins, orgID, firstItem, firstItem, ReportSeedItems, ReportSeedItems-1))
	return db.InTx(ctx, func(q *Queries) error {
		if db.dialect == Postgres && !size.ThroughTriggers {
			// Off for this transaction: the status-count triggers, and the
			// foreign keys' (the rows are made to match them).
			if _, err := q.exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
				return err
			}
		}
		for _, stmt := range statements {
			if _, err := q.exec(ctx, stmt); err != nil {
				return fmt.Errorf("%w\n%s", err, stmt)
			}
		}
		if db.dialect == Postgres && !size.ThroughTriggers {
			// What the triggers would have counted.
			if _, err := q.exec(ctx, `
				INSERT INTO enrollment_counts (organization_id, course_id, status, n)
				SELECT organization_id, course_id, status, COUNT(*) FROM enrollments WHERE organization_id = ? GROUP BY 1, 2, 3
				ON CONFLICT (organization_id, course_id, status) DO UPDATE SET n = enrollment_counts.n + excluded.n`, orgID); err != nil {
				return err
			}
		}
		return nil
	})
}

// seedReportCounters counts the item counters from the organization's
// rows as migration 00029 counts them, plus the questions missed (which
// the migration cannot read from JSON, and SeedReports chose by rule),
// and writes days days of daily counters.
func (db *DB) seedReportCounters(ctx context.Context, orgID int64, days int) error {
	statements := []string{
		`INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
		SELECT d.organization_id, ci.course_id, d.content_id, 'received', COUNT(*)
		FROM deliveries d JOIN content_items ci ON ci.id = d.content_id
		WHERE d.organization_id = ? AND d.status = 'sent' AND d.attempt = 1 GROUP BY 1, 2, 3`,
		`INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
		SELECT organization_id, course_id, content_id, 'attempts', COUNT(*) FROM quiz_attempts WHERE organization_id = ? GROUP BY 1, 2, 3`,
		`INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
		SELECT organization_id, course_id, content_id, 'answered', COUNT(*) FROM quiz_attempts WHERE organization_id = ? AND attempt = 1 GROUP BY 1, 2, 3`,
		`INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
		SELECT organization_id, course_id, content_id, 'passed', COUNT(*) FROM quiz_attempts WHERE organization_id = ? AND passed GROUP BY 1, 2, 3`,
		`INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
		SELECT organization_id, course_id, content_id, 'score:' || (score / 10), COUNT(*) FROM quiz_attempts WHERE organization_id = ? GROUP BY 1, 2, 3, 4`,
		`INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
		SELECT qa.organization_id, qa.course_id, qa.content_id, 'wrong:' || qq.id, COUNT(*)
		FROM quiz_attempts qa JOIN quiz_questions qq ON qq.content_id = qa.content_id
		WHERE qa.organization_id = ? AND qa.delivery_id % 7 < qq.position GROUP BY 1, 2, 3, 4`,
		// The item of an enrollment's last answer, and of its last email
		// (as LastSentContent reads it), from each enrollment's largest id
		// grouped in one pass: a subquery per enrollment (joined on MAX as
		// the migration counts, or ordered by id with LIMIT 1) had not
		// finished after minutes on PostgreSQL at a million enrollments.
		`INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
		SELECT e.organization_id, e.course_id, a.content_id, 'failed', COUNT(*)
		FROM (SELECT enrollment_id, MAX(id) AS id FROM quiz_attempts WHERE organization_id = ? GROUP BY enrollment_id) last
		JOIN enrollments e ON e.id = last.enrollment_id
		JOIN quiz_attempts a ON a.id = last.id
		WHERE e.organization_id = ? AND e.status = 'failed' GROUP BY 1, 2, 3`,
		`INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
		SELECT e.organization_id, e.course_id, d.content_id, 'unsubscribed', COUNT(*)
		FROM (SELECT enrollment_id, MAX(id) AS id FROM deliveries WHERE organization_id = ? AND status = 'sent' GROUP BY enrollment_id) last
		JOIN enrollments e ON e.id = last.enrollment_id
		JOIN deliveries d ON d.id = last.id
		WHERE e.organization_id = ? AND e.status = 'unsubscribed' GROUP BY 1, 2, 3`,
	}
	var rows []string
	today := time.Now().UTC()
	for d := range days {
		day := ReportDay(today.AddDate(0, 0, -d))
		for _, m := range []string{"started", "confirmed", "completed", "failed", "cancelled", "unsubscribed"} {
			rows = append(rows, fmt.Sprintf("(%d, '%s', '%s', %d)", orgID, day, m, 1+d%7))
		}
		for _, kind := range []string{"lesson", "quiz", "enrollment_confirm", "course_completed", "course_failed"} {
			for _, m := range []string{MailMetricSent, MailMetricFailed, MailMetricRetried} {
				rows = append(rows, fmt.Sprintf("(%d, '%s', '%s', %d)", orgID, day, m+kind, 3+d%5))
			}
		}
		for _, kind := range []string{"hard", "soft", "complaint"} {
			rows = append(rows, fmt.Sprintf("(%d, '%s', '%s', %d)", orgID, day, BounceMetric+kind, d%3))
		}
		if len(rows) > 1000 || d == days-1 {
			statements = append(statements, `INSERT INTO report_daily (organization_id, day, metric, n) VALUES `+strings.Join(rows, ","))
			rows = rows[:0]
		}
	}
	return db.InTx(ctx, func(q *Queries) error {
		for _, stmt := range statements {
			var args []any
			for range strings.Count(stmt, "?") {
				args = append(args, orgID)
			}
			if _, err := q.exec(ctx, stmt, args...); err != nil {
				return fmt.Errorf("%w\n%.300s", err, stmt)
			}
		}
		return nil
	})
}
