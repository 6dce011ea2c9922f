package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// courseQuizFixture is an organization's two courses with quizzes and
// learners, and another organization's course with an answered quiz.
type courseQuizFixture struct {
	enrollmentFixture
	second             int64 // orgA's second course
	quiz1, quiz2       int64 // quizzes of courseA
	quiz3              int64 // the quiz of second
	otherQuiz          int64 // of orgB's course
	ada, bob, adaOther store.Enrollment
}

func newCourseQuizFixture(t testing.TB, db *store.DB) courseQuizFixture {
	t.Helper()
	ctx := context.Background()
	f := courseQuizFixture{enrollmentFixture: newEnrollmentFixture(t, db)}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.tx(t, func(q *store.Queries) error {
		var err error
		if f.second, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.orgA, Title: "Rust", TitleKey: "rust", TitleSkeleton: names.Key("Rust"), Slug: "rust"}); err != nil {
			return err
		}
		for _, c := range []struct {
			org, course int64
			id          *int64
		}{{f.orgA, f.courseA, &f.quiz1}, {f.orgA, f.courseA, &f.quiz2}, {f.orgA, f.second, &f.quiz3}, {f.orgB, f.other, &f.otherQuiz}} {
			if *c.id, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: c.org, CourseID: c.course, Kind: store.KindQuiz,
				Title: fmt.Sprintf("Quiz %d", c.course), Published: true}); err != nil {
				return err
			}
		}
		for _, e := range []struct {
			org, course int64
			email       string
			dst         *store.Enrollment
		}{{f.orgA, f.courseA, "ada@example.com", &f.ada}, {f.orgA, f.courseA, "bob@example.com", &f.bob}, {f.orgA, f.second, "ada@example.com", &f.adaOther}} {
			l, err := q.SaveLearner(ctx, e.org, e.email)
			if err != nil {
				return err
			}
			if *e.dst, _, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: e.org, CourseID: e.course, LearnerID: l.ID,
				Status: store.EnrollmentActive, At: at}); err != nil {
				return err
			}
		}
		return nil
	})
	return f
}

// answer records an answer of an enrollment to a quiz, as its attempt.
func (f courseQuizFixture) answer(t *testing.T, org int64, e store.Enrollment, quiz int64, attempt int, passed bool) int64 {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	var id int64
	f.tx(t, func(q *store.Queries) error {
		d, _, err := q.ScheduleDelivery(ctx, org, e.ID, quiz, attempt, at)
		if err != nil {
			return err
		}
		if err := q.MarkDeliverySent(ctx, d, mustMail(t, ctx, q, org)); err != nil {
			return err
		}
		if _, err := q.CreateQuizAttempt(ctx, store.NewQuizAttempt{OrganizationID: org, EnrollmentID: e.ID, DeliveryID: d, ContentID: quiz,
			Attempt: attempt, Score: 50, Passed: passed, Answers: map[int64][]int64{}, At: at}); err != nil {
			return err
		}
		a, err := q.QuizAttemptByDelivery(ctx, org, d)
		id = a.ID
		return err
	})
	return id
}

func TestCourseQuizAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newCourseQuizFixture(t, db)
		adaFirst := f.answer(t, f.orgA, f.ada, f.quiz1, 1, false)
		bobFirst := f.answer(t, f.orgA, f.bob, f.quiz1, 1, true)
		adaSecond := f.answer(t, f.orgA, f.ada, f.quiz1, 2, true)
		adaQuiz2 := f.answer(t, f.orgA, f.ada, f.quiz2, 1, true)
		secondCourse := f.answer(t, f.orgA, f.adaOther, f.quiz3, 1, true)
		// Another organization's enrollment, written with orgB's ids.
		var otherEnrollment store.Enrollment
		f.tx(t, func(q *store.Queries) error {
			l, err := q.SaveLearner(ctx, f.orgB, "eve@example.com")
			if err != nil {
				return err
			}
			otherEnrollment, _, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgB, CourseID: f.other, LearnerID: l.ID,
				Status: store.EnrollmentActive, At: time.Now()})
			return err
		})
		otherAttempt := f.answer(t, f.orgB, otherEnrollment, f.otherQuiz, 1, true)

		ids := func(filter store.QuizAttemptFilter) []int64 {
			t.Helper()
			if filter.Limit == 0 {
				filter.Limit = 10
			}
			list, err := db.Read().CourseQuizAttempts(ctx, filter)
			if err != nil {
				t.Fatal(err)
			}
			out := []int64{}
			for _, a := range list {
				out = append(out, a.ID)
			}
			return out
		}
		all := store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA}
		for _, c := range []struct {
			name   string
			filter store.QuizAttemptFilter
			want   []int64
		}{
			{"a course's attempts, newest first", all, []int64{adaQuiz2, adaSecond, bobFirst, adaFirst}},
			{"the first page", store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, Limit: 2}, []int64{adaQuiz2, adaSecond}},
			{"the page after a cursor", store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, Before: adaSecond}, []int64{bobFirst, adaFirst}},
			{"one quiz", store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, ContentID: f.quiz1}, []int64{adaSecond, bobFirst, adaFirst}},
			{"one enrollment", store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, EnrollmentID: f.bob.ID}, []int64{bobFirst}},
			{"both", store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, ContentID: f.quiz2, EnrollmentID: f.ada.ID}, []int64{adaQuiz2}},
			{"the other course", store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.second}, []int64{secondCourse}},
			{"a quiz of another course", store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, ContentID: f.quiz3}, []int64{}},
			{"another organization's course", store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.other}, []int64{}},
			{"a course through another organization", store.QuizAttemptFilter{OrganizationID: f.orgB, CourseID: f.courseA}, []int64{}},
			{"the other organization's own", store.QuizAttemptFilter{OrganizationID: f.orgB, CourseID: f.other}, []int64{otherAttempt}},
		} {
			if got := ids(c.filter); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		list, err := db.Read().CourseQuizAttempts(ctx, store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if a := list[2]; a.LearnerEmail != "bob@example.com" || a.ContentID != f.quiz1 || a.ContentTitle != fmt.Sprintf("Quiz %d", f.courseA) ||
			!a.Passed || a.Score != 50 || a.Attempt != 1 || a.EnrollmentID != f.bob.ID {
			t.Errorf("bob's attempt: %+v", a)
		}
	})
}

// TestCourseQuizAttemptsReadTheIndex checks that a page of a course's
// attempts is read from the cursor down in quiz_attempts_course_idx (or,
// for one quiz, quiz_attempts_content_idx), among many attempts of other
// courses, rather than by reading every attempt from the newest (on
// PostgreSQL after ANALYZE, for the values given; the planner is not
// forced).
func TestCourseQuizAttemptsReadTheIndex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newCourseQuizFixture(t, db)
		seedCourseQuizAttempts(t, db, f)
		first, err := db.Read().CourseQuizAttempts(ctx, store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, Limit: 50})
		if err != nil || len(first) != 50 {
			t.Fatalf("first page: %d, %v", len(first), err)
		}
		for _, c := range []struct {
			filter store.QuizAttemptFilter
			index  string
		}{
			{store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, Before: first[49].ID, Limit: 50}, "quiz_attempts_course_idx"},
			{store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, ContentID: f.quiz1, Before: first[49].ID, Limit: 50}, "quiz_attempts_content_idx"},
		} {
			plans, err := db.CourseQuizAttemptsPlans(ctx, c.filter)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range plans {
				t.Log(p)
				if p.Name == "PostgreSQL generic plan" {
					// With few courses PostgreSQL's generic plan reads the
					// primary key from the cursor down; it is logged, not
					// required (see ARCHITECTURE.md).
					continue
				}
				text := strings.Join(p.Lines, "\n")
				if db.Dialect() == store.SQLite {
					if !strings.Contains(text, c.index+" (") || !strings.Contains(text, "id<?)") || strings.Contains(text, "TEMP B-TREE") {
						t.Errorf("%s: want a range of %s from the cursor down, without sorting", p.Name, c.index)
					}
					continue
				}
				// The course's (or the quiz's) index, or a bitmap of it and
				// another index of quiz_attempts: never every attempt.
				if !strings.Contains(text, c.index) && !strings.Contains(text, "quiz_attempts_course_idx") ||
					strings.Contains(text, "Seq Scan on quiz_attempts") || strings.Contains(text, "quiz_attempts_pkey") {
					t.Errorf("%s: want a scan of %s", p.Name, c.index)
				}
			}
		}
	})
}

// seedCourseQuizAttempts adds ten courses of a quiz each, whose attempts
// lie among the course's in id order as they would over time: 300 of each
// quiz of courseA, 6,000 of each other quiz (courseA has 1% of the
// attempts), then ANALYZE.
func seedCourseQuizAttempts(t testing.TB, db *store.DB, f courseQuizFixture) {
	t.Helper()
	ctx := context.Background()
	others := []int64{f.quiz3}
	f.tx(t, func(q *store.Queries) error {
		for i := range 9 {
			title := fmt.Sprintf("Course %d", i)
			c, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.orgA, Title: title, TitleKey: strings.ToLower(title), TitleSkeleton: names.Key(title), Slug: fmt.Sprintf("c%d", i)})
			if err != nil {
				return err
			}
			quiz, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: f.orgA, CourseID: c, Kind: store.KindQuiz, Title: title, Published: true})
			if err != nil {
				return err
			}
			others = append(others, quiz)
		}
		return nil
	})
	deliveries := func(e store.Enrollment, quiz int64, n int) string {
		return fmt.Sprintf(`INSERT INTO deliveries (organization_id, enrollment_id, content_id, attempt, due_at, status, created_at, updated_at)
			WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
			SELECT %d, %d, %d, i, e.created_at, 'sent', e.created_at, e.created_at FROM n, enrollments e WHERE e.id = %d`,
			n, f.orgA, e.ID, quiz, e.ID)
	}
	stmts := []string{deliveries(f.ada, f.quiz1, 300), deliveries(f.bob, f.quiz2, 300)}
	for _, quiz := range others {
		stmts = append(stmts, deliveries(f.adaOther, quiz, 6000))
	}
	stmts = append(stmts, fmt.Sprintf(`INSERT INTO quiz_attempts (organization_id, enrollment_id, delivery_id, content_id, course_id, attempt, score, passed, answers, created_at)
		SELECT d.organization_id, d.enrollment_id, d.id, d.content_id, ci.course_id, d.attempt, 50, false, '{}', d.created_at
		FROM deliveries d JOIN content_items ci ON ci.id = d.content_id
		ORDER BY CASE WHEN ci.course_id = %d THEN d.attempt * 20 ELSE d.attempt END, d.id`, f.courseA))
	for _, s := range stmts {
		if err := db.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCourseQuizAttempts reads a page of a course's attempts at the
// start of the list and deep in it, among the seeded attempts of other
// courses: with the cursor in the index, both cost about the same.
func BenchmarkCourseQuizAttempts(b *testing.B) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.New(b, dialect)
			f := newCourseQuizFixture(b, db)
			seedCourseQuizAttempts(b, db, f)
			all, err := db.Read().CourseQuizAttempts(ctx, store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, Limit: 1000})
			if err != nil || len(all) != 600 {
				b.Fatalf("the course's attempts: %d, %v", len(all), err)
			}
			for name, before := range map[string]int64{"first page": 0, "last page": all[549].ID} {
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						page, err := db.Read().CourseQuizAttempts(ctx, store.QuizAttemptFilter{OrganizationID: f.orgA, CourseID: f.courseA, Before: before, Limit: 51})
						if err != nil || len(page) < 50 {
							b.Fatalf("page: %d, %v", len(page), err)
						}
					}
				})
			}
		})
	}
}
