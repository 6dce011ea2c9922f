package store_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestExportPages reads an organization's enrollments and learners as the
// exports do, a page at a time, and finds each row once with its
// progress, quiz results, certificate and block, and nothing of another
// organization.
func TestExportPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollmentFixture(t, db)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var (
			lessons        [2]int64
			quiz, second   int64
			ada, bob, cara store.Learner
			adaE, bobE     store.Enrollment
			caraE          store.Enrollment
		)
		f.tx(t, func(q *store.Queries) error {
			var err error
			for i := range lessons {
				if lessons[i], err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: f.orgA, CourseID: f.courseA,
					Kind: "lesson", Title: fmt.Sprintf("Lesson %d", i), Published: true}); err != nil {
					return err
				}
			}
			if quiz, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: f.orgA, CourseID: f.courseA,
				Kind: "quiz", Title: "Quiz", Published: true, RequiredScore: 50}); err != nil {
				return err
			}
			if _, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: f.orgA, CourseID: f.courseA,
				Kind: "lesson", Title: "Draft"}); err != nil {
				return err
			}
			if second, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.orgA, Title: "Rust", TitleKey: "rust",
				TitleSkeleton: names.Key("Rust"), Slug: "rust"}); err != nil {
				return err
			}
			enroll := func(l *store.Learner, e *store.Enrollment, course int64, email string) error {
				if *l, err = q.SaveLearner(ctx, f.orgA, email); err != nil {
					return err
				}
				*e, _, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgA, CourseID: course, LearnerID: l.ID,
					Status: store.EnrollmentActive, At: at})
				return err
			}
			// Bob enrolls first, so that the learner order differs from the
			// address order.
			if err := enroll(&bob, &bobE, f.courseA, "bob@example.com"); err != nil {
				return err
			}
			if err := enroll(&ada, &adaE, f.courseA, "ada@example.com"); err != nil {
				return err
			}
			if err := enroll(&cara, &caraE, second, "cara@example.com"); err != nil {
				return err
			}
			// Ada got everything, failed the quiz once and passed it.
			for attempt, item := range []int64{lessons[0], lessons[1], quiz, quiz} {
				n := 1
				if attempt == 3 {
					n = 2
				}
				d, _, err := q.ScheduleDelivery(ctx, f.orgA, adaE.ID, item, n, at)
				if err != nil {
					return err
				}
				if err := q.MarkDeliverySent(ctx, d, mustMail(t, ctx, q, f.orgA)); err != nil {
					return err
				}
				if item == quiz {
					score := []int{40, 90}[n-1]
					if _, err := q.CreateQuizAttempt(ctx, store.NewQuizAttempt{OrganizationID: f.orgA, EnrollmentID: adaE.ID, DeliveryID: d,
						ContentID: quiz, Attempt: n, Score: score, Passed: score >= 50, Answers: map[int64][]int64{}, At: at}); err != nil {
						return err
					}
				}
			}
			if _, _, err := q.FinishEnrollment(ctx, f.orgA, adaE.ID, store.EnrollmentCompleted, at.Add(time.Hour)); err != nil {
				return err
			}
			c, _, err := q.CreateCertificate(ctx, store.NewCertificate{OrganizationID: f.orgA, EnrollmentID: adaE.ID, Number: "N-ADA",
				CourseTitle: "Go", OrganizationName: "Org 0", CompletedAt: at.Add(time.Hour)})
			if err != nil {
				return err
			}
			if _, err := q.ClaimCertificate(ctx, f.orgA, c.ID, "Ada Lovelace", nil, at.Add(2*time.Hour)); err != nil {
				return err
			}
			// Bob got the first lesson; a second is still scheduled.
			d, _, err := q.ScheduleDelivery(ctx, f.orgA, bobE.ID, lessons[0], 1, at)
			if err != nil {
				return err
			}
			if err := q.MarkDeliverySent(ctx, d, mustMail(t, ctx, q, f.orgA)); err != nil {
				return err
			}
			if _, _, err := q.ScheduleDelivery(ctx, f.orgA, bobE.ID, lessons[1], 1, at.Add(time.Hour)); err != nil {
				return err
			}
			if _, err := q.BlockEmail(ctx, f.orgA, "bob@example.com", 0); err != nil {
				return err
			}
			if _, err := q.BlockEmail(ctx, 0, "cara@example.com", 0); err != nil {
				return err
			}
			// Another organization's learner, enrolled and blocked there.
			other, err := q.SaveLearner(ctx, f.orgB, "ada@example.com")
			if err != nil {
				return err
			}
			if _, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgB, CourseID: f.other, LearnerID: other.ID,
				Status: store.EnrollmentActive, At: at}); err != nil {
				return err
			}
			_, err = q.BlockEmail(ctx, f.orgB, "ada@example.com", 0)
			return err
		})

		q := db.Read()
		courses, err := q.ExportCourses(ctx, f.orgA)
		if err != nil {
			t.Fatal(err)
		}
		if len(courses) != 2 || courses[0].ID != f.courseA || courses[0].PublishedItems != 3 || courses[1].ID != second || courses[1].PublishedItems != 0 {
			t.Errorf("courses %+v", courses)
		}

		// Pages of one enrollment: each continues after the last.
		var got []store.EnrollmentExportRow
		var after int64
		for {
			page, err := q.EnrollmentExportPage(ctx, f.orgA, f.courseA, after, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].LearnerID
		}
		if len(got) != 2 || got[0].ID != bobE.ID || got[1].ID != adaE.ID {
			t.Fatalf("enrollments of the course %+v, want bob's then ada's", got)
		}
		b, a := got[0], got[1]
		if b.LearnerEmail != "bob@example.com" || b.Status != store.EnrollmentActive || b.ItemsSent != 1 || len(b.Quizzes) != 0 ||
			b.CertificateNumber != "" || b.EndedAt != nil || b.ActivatedAt == nil || !b.CreatedAt.Equal(at) {
			t.Errorf("bob's enrollment %+v", b)
		}
		if a.LearnerEmail != "ada@example.com" || a.LearnerName != "Ada Lovelace" || a.Status != store.EnrollmentCompleted ||
			a.ItemsSent != 3 || a.CertificateNumber != "N-ADA" || a.CertificateRevoked || a.EndedAt == nil || !a.EndedAt.Equal(at.Add(time.Hour)) {
			t.Errorf("ada's enrollment %+v", a)
		}
		if len(a.Quizzes) != 1 || a.Quizzes[0] != (store.QuizResult{ContentID: quiz, BestScore: 90, Attempts: 2, Passed: true}) {
			t.Errorf("ada's quizzes %+v", a.Quizzes)
		}
		page, err := q.EnrollmentExportPage(ctx, f.orgA, second, 0, 1000, nil)
		if err != nil || len(page) != 1 || page[0].ID != caraE.ID {
			t.Errorf("enrollments of the second course %+v, %v", page, err)
		}
		if page, err := q.EnrollmentExportPage(ctx, f.orgA, f.other, 0, 1000, nil); err != nil || len(page) != 0 {
			t.Errorf("another organization's course gave %+v, %v", page, err)
		}

		var learners []store.LearnerExportRow
		afterEmail := ""
		for {
			page, err := q.LearnerExportPage(ctx, f.orgA, afterEmail, 2)
			if err != nil {
				t.Fatal(err)
			}
			learners = append(learners, page...)
			if len(page) < 2 {
				break
			}
			afterEmail = page[len(page)-1].Email
		}
		want := []store.LearnerExportRow{
			{ID: ada.ID, Email: "ada@example.com", Name: "Ada Lovelace", CreatedAt: ada.CreatedAt, Enrollments: 1},
			{ID: bob.ID, Email: "bob@example.com", CreatedAt: bob.CreatedAt, Enrollments: 1, Blocked: true},
			{ID: cara.ID, Email: "cara@example.com", CreatedAt: cara.CreatedAt, Enrollments: 1, Blocked: true},
		}
		if len(learners) != len(want) {
			t.Fatalf("learners %+v, want %+v", learners, want)
		}
		for i := range want {
			if learners[i] != want[i] {
				t.Errorf("learner %d: %+v, want %+v", i, learners[i], want[i])
			}
		}
	})
}

// TestExportsReadTheirIndexes: each statement of an export page reads an
// index from where the page starts, never a table or another
// organization's rows in full, on both databases.
func TestExportsReadTheirIndexes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newEnrollmentFixture(t, db)
		plans, err := db.ExportPlans(context.Background(), f.orgA, f.courseA, []int64{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range plans {
			for _, line := range p.Lines {
				line = strings.TrimSpace(line)
				if strings.HasPrefix(line, "SCAN ") && !strings.HasPrefix(line, "SCAN json_each") || strings.Contains(line, "Seq Scan") {
					t.Errorf("%s reads a whole table:\n%s", p.Name, p)
				}
			}
		}
	})
}

// A page of the enrollments export far into the file reads about a page
// of rows on PostgreSQL, not everything before it: joined by a merge of
// two index scans, the learners' scan started at the first learner on
// every page unless the statement bounds it too.
func TestEnrollmentExportPageReadsOnlyItsRows(t *testing.T) {
	db := storetest.NewPostgres(t)
	ctx := context.Background()
	org, _ := storetest.NewOrganization(t, db, "Export")
	courses, _ := fourCourses(t, db, org)
	for _, stmt := range []string{
		fmt.Sprintf(`INSERT INTO learners (organization_id, email, created_at, updated_at)
			SELECT %d, 'learner' || i || '@example.com', now(), now() FROM generate_series(1, 8000) i`, org),
		fmt.Sprintf(`INSERT INTO enrollments (organization_id, course_id, learner_id, status, link_key, created_at, updated_at)
			SELECT %d, %d + (id %% 4), id, 'active', 'k' || id, now(), now() FROM learners WHERE organization_id = %d`, org, courses[0], org),
		`ANALYZE`,
	} {
		if err := db.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	after, err := db.QueryInt(ctx, `SELECT MAX(id) - 800 FROM learners WHERE organization_id = ?`, org)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := db.AnalyzedEnrollmentExportPage(ctx, org, courses[0], after, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Newer servers print the rows with decimals (rows=100.00).
	rowsRead := regexp.MustCompile(`rows=(\d+)(?:\.\d+)? loops=(\d+)`)
	steps := 0
	for _, line := range plan {
		m := rowsRead.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		steps++
		rows, _ := strconv.Atoi(m[1])
		loops, _ := strconv.Atoi(m[2])
		if rows*loops > 1000 {
			t.Errorf("a page of 100 read %d rows in one step:\n%s", rows*loops, strings.Join(plan, "\n"))
			break
		}
	}
	if steps == 0 {
		t.Errorf("no step of the plan says how many rows it read:\n%s", strings.Join(plan, "\n"))
	}
}

// fourCourses makes four courses in an organization, each with a
// published lesson, and returns them and the first course's lesson.
func fourCourses(tb testing.TB, db *store.DB, org int64) (courses [4]int64, firstLesson int64) {
	tb.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(q *store.Queries) error {
		for i := range courses {
			title := fmt.Sprintf("Course %d", i)
			var err error
			if courses[i], err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: org, Title: title, TitleKey: strings.ToLower(title),
				TitleSkeleton: names.Key(title), Slug: fmt.Sprintf("course-%d", i)}); err != nil {
				return err
			}
			lesson, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: org, CourseID: courses[i], Kind: "lesson", Title: "Lesson", Published: true})
			if err != nil {
				return err
			}
			if i == 0 {
				firstLesson = lesson
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return courses, firstLesson
}
