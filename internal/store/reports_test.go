package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// reportSeed is an organization filled by store.SeedReports.
type reportSeed struct {
	org int64
	store.ReportSeed
}

const reportCourses = store.ReportSeedCourses

// seedReports makes an organization and fills it as store.SeedReports
// does, with enrollments and deliveries, and days of daily counters.
func seedReports(tb testing.TB, db *store.DB, name string, enrollments, deliveries, days int) reportSeed {
	tb.Helper()
	ctx := context.Background()
	org, _ := storetest.NewOrganization(tb, db, name)
	seed, err := db.SeedReports(ctx, org, store.ReportSeedSize{Enrollments: enrollments, Deliveries: deliveries, Days: days})
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Vacuum(ctx); err != nil {
		tb.Fatal(err)
	}
	return reportSeed{org: org, ReportSeed: seed}
}

// TestReportQueriesReadIndexes checks that the reports read the counters
// by their primary key, never the enrollments or deliveries nor a whole
// table (on PostgreSQL after VACUUM ANALYZE, as autovacuum keeps
// a live install; the planner is not forced).
func TestReportQueriesReadIndexes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Three organizations, and a few smaller ones, so that one's rows
		// are a small part of each table, as on any install with more
		// than a few.
		seedReports(t, db, "Busy", 2000, 10000, 366)
		s := seedReports(t, db, "Busier", 2000, 10000, 366)
		seedReports(t, db, "Busiest", 2000, 10000, 366)
		for i := range 5 {
			seedReports(t, db, fmt.Sprintf("Quiet %d", i), 100, 500, 30)
		}
		today := time.Now().UTC()
		// The page's default: 30 days, and the 30 before.
		plans, err := db.ReportPlans(ctx, s.org, s.Courses[3], store.ReportDay(today.AddDate(0, 0, -59)), store.ReportDay(today))
		if err != nil {
			t.Fatal(err)
		}
		read := map[string]bool{}
		for _, p := range plans {
			t.Log(p)
			text := strings.Join(p.Lines, "\n")
			// SQLite names a read of a whole table (or a whole index)
			// "SCAN <table or alias>", PostgreSQL "Seq Scan on <table>".
			// On PostgreSQL the few rows of the small tables of courses,
			// their items, questions and status counts may be read whole.
			for _, line := range p.Lines {
				if strings.HasPrefix(strings.TrimSpace(line), "SCAN ") {
					t.Errorf("%s reads a whole table: %s", p.Name, line)
				}
			}
			for _, table := range []string{"report_daily", "report_items", "enrollments", "deliveries", "quiz_attempts"} {
				if strings.Contains(text, "Seq Scan on "+table) {
					t.Errorf("%s reads the whole of %s", p.Name, table)
				}
			}
			for _, table := range []string{"enrollments", "deliveries", "quiz_attempts"} {
				if strings.Contains(text, " "+table+" ") || strings.HasSuffix(text, " "+table) {
					t.Errorf("%s reads %s", p.Name, table)
				}
			}
			name := strings.TrimPrefix(strings.TrimPrefix(p.Name, "SQLite query plan of "), "PostgreSQL plan of ")
			name = strings.TrimSuffix(strings.TrimPrefix(name, "PostgreSQL generic plan of "), " for these values")
			read[name] = true
			switch name {
			case "course reports":
				// A row per course and status: PostgreSQL may read the
				// few of this small table whole, SQLite reads them by
				// course (as "ec").
				if !strings.Contains(text, "enrollment_counts") && !strings.Contains(text, "SEARCH ec USING PRIMARY KEY") {
					t.Errorf("%s does not read enrollment_counts", p.Name)
				}
			case "daily sums", "metric totals", "item counts", "unsubscribes":
				// The counters are read by their primary key: SQLite's
				// tables without rowid say "USING PRIMARY KEY".
				if !strings.Contains(text, "_pkey") && !strings.Contains(text, "USING PRIMARY KEY") {
					t.Errorf("%s does not read the counters' primary key", p.Name)
				}
			}
		}
		// Every query of the three pages and the two API answers but the
		// permission's (a member's row by its key).
		for _, name := range []string{"daily sums", "metric totals", "item counts", "course reports", "unsubscribes", "course", "course contents", "course questions"} {
			if !read[name] {
				t.Errorf("no plan of %s", name)
			}
		}
		// The numbers: 2,000 enrollments over 20 courses.
		list, err := db.Read().CourseReports(ctx, s.org)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, c := range list {
			for _, n := range c.ByStatus {
				total += n
			}
		}
		if len(list) != reportCourses || total != 2000 {
			t.Errorf("%d courses, %d enrollments", len(list), total)
		}
		// The counts follow changes of status and deletes, whatever the
		// statement: they agree with a count of the rows.
		for _, stmt := range []string{
			`UPDATE enrollments SET status = 'active' WHERE organization_id = ? AND id % 7 = 0`,
			`UPDATE enrollments SET status = status WHERE organization_id = ? AND id % 5 = 0`,
			`DELETE FROM enrollments WHERE organization_id = ? AND id % 11 = 0`,
		} {
			if err := db.Exec(ctx, stmt, s.org); err != nil {
				t.Fatal(err)
			}
		}
		counted, err := db.QueryString(ctx, `SELECT COALESCE(string_agg(line, ' '), '') FROM (SELECT course_id || ':' || status || '=' || n AS line FROM enrollment_counts WHERE organization_id = ? AND n > 0 ORDER BY course_id, status) x`, s.org)
		if err != nil {
			t.Fatal(err)
		}
		want, err := db.QueryString(ctx, `SELECT string_agg(line, ' ') FROM (SELECT course_id || ':' || status || '=' || COUNT(*) AS line FROM enrollments WHERE organization_id = ? GROUP BY course_id, status ORDER BY course_id, status) x`, s.org)
		if err != nil {
			t.Fatal(err)
		}
		if counted != want {
			t.Errorf("the counters say\n%s\nthe rows\n%s", counted, want)
		}
	})
}

// TestReportSeedCountsAsTheTriggers checks that the enrollments' status
// counts SeedReports writes without the triggers (PostgreSQL, for speed)
// are the ones the triggers write, and that both agree with the rows: the
// benchmarks read what the product would.
func TestReportSeedCountsAsTheTriggers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		counts := map[bool]string{}
		for _, triggers := range []bool{false, true} {
			org, _ := storetest.NewOrganization(t, db, fmt.Sprintf("Triggers %v", triggers))
			seed, err := db.SeedReports(ctx, org, store.ReportSeedSize{Enrollments: 600, Deliveries: 3000, ThroughTriggers: triggers})
			if err != nil {
				t.Fatal(err)
			}
			// By the course's place, so that the two organizations compare.
			counted, err := db.QueryString(ctx, `SELECT COALESCE(string_agg(line, ' '), '') FROM (SELECT (course_id - ?) || ':' || status || '=' || n AS line
				FROM enrollment_counts WHERE organization_id = ? AND n > 0 ORDER BY course_id, status) x`, seed.Courses[0], org)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := db.QueryString(ctx, `SELECT string_agg(line, ' ') FROM (SELECT (course_id - ?) || ':' || status || '=' || COUNT(*) AS line
				FROM enrollments WHERE organization_id = ? GROUP BY course_id, status ORDER BY course_id, status) x`, seed.Courses[0], org)
			if err != nil {
				t.Fatal(err)
			}
			if counted != rows || counted == "" {
				t.Errorf("through the triggers %v, the counters say\n%s\nthe rows\n%s", triggers, counted, rows)
			}
			counts[triggers] = counted
			// The quiz answers' counters are those of the rows too.
			attempts, err := db.QueryInt(ctx, `SELECT COUNT(*) FROM quiz_attempts WHERE organization_id = ?`, org)
			if err != nil {
				t.Fatal(err)
			}
			counted2, err := db.QueryInt(ctx, `SELECT COALESCE(SUM(n), 0) FROM report_items WHERE organization_id = ? AND metric = 'attempts'`, org)
			if err != nil || attempts == 0 || counted2 != attempts {
				t.Errorf("%d quiz answers, %d counted: %v", attempts, counted2, err)
			}
			// Every unsubscribed enrollment (each was sent something) counts
			// once after an item, every failed one with an answer after a quiz.
			for _, c := range []struct{ metric, rows string }{
				{"unsubscribed", `SELECT COUNT(*) FROM enrollments WHERE organization_id = ? AND status = 'unsubscribed'`},
				{"failed", `SELECT COUNT(*) FROM enrollments e WHERE organization_id = ? AND status = 'failed' AND EXISTS (SELECT 1 FROM quiz_attempts a WHERE a.enrollment_id = e.id)`},
			} {
				rows, err := db.QueryInt(ctx, c.rows, org)
				if err != nil {
					t.Fatal(err)
				}
				counted, err := db.QueryInt(ctx, `SELECT COALESCE(SUM(n), 0) FROM report_items WHERE organization_id = ? AND metric = ?`, org, c.metric)
				if err != nil || rows == 0 || counted != rows {
					t.Errorf("%d enrollments %s, %d counted: %v", rows, c.metric, counted, err)
				}
			}
			// Each answer's score is what the quiz's scoring gives its
			// answers, in every course.
			for _, course := range seed.Courses {
				contents, err := db.Read().CourseContents(ctx, org, course)
				if err != nil {
					t.Fatal(err)
				}
				quiz := contents[len(contents)-1]
				list, err := db.Read().CourseQuizAttempts(ctx, store.QuizAttemptFilter{OrganizationID: org, CourseID: course, Limit: 100})
				if err != nil || len(list) == 0 {
					t.Fatalf("answers of course %d: %d, %v", course, len(list), err)
				}
				for _, a := range list {
					if score := learning.ScoreQuiz(quiz.Questions, a.Answers); a.Score != score || a.Passed != (score >= quiz.RequiredScore) {
						t.Fatalf("answer %d scored %d (passed %v), its answers score %d of %d required", a.ID, a.Score, a.Passed, score, quiz.RequiredScore)
					}
				}
			}
		}
		if counts[false] != counts[true] {
			t.Errorf("rebuilt\n%s\nthrough the triggers\n%s", counts[false], counts[true])
		}
	})
}

// BenchmarkReports reads each report's query in an organization with
// MAILSCHOOL_REPORT_ENROLLMENTS enrollments and MAILSCHOOL_REPORT_DELIVERIES
// deliveries (by default 1,000,000 and 1,000,000), 20 courses and two
// years of daily counters. The year's read covers the year before too, as
// the page does to compare.
func BenchmarkReports(b *testing.B) {
	size := func(name string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
			return n
		}
		return def
	}
	enrollments, deliveries := size("MAILSCHOOL_REPORT_ENROLLMENTS", 1000000), size("MAILSCHOOL_REPORT_DELIVERIES", 1000000)
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.New(b, dialect)
			start := time.Now()
			s := seedReports(b, db, "Busy", enrollments, deliveries, 2*366)
			b.Logf("seeded %d enrollments and %d deliveries in %s", enrollments, deliveries, time.Since(start).Round(time.Second))
			today := time.Now().UTC()
			b.Run("a year of days", func(b *testing.B) {
				sums := []store.DailySum{{Metric: "started"}, {Metric: "confirmed"}, {Metric: "completed"}, {Metric: "unsubscribed"},
					{Metric: store.MailMetricSent, Prefix: true}, {Metric: store.MailMetricFailed, Prefix: true},
					{Metric: store.MailMetricRetried, Prefix: true}, {Metric: store.BounceMetric, Prefix: true}, {Metric: store.BounceMetric + "complaint"}}
				for b.Loop() {
					// The range and the year before it by day, and the range's
					// metrics, as the page reads them.
					days, err := db.Read().DailySums(ctx, s.org, store.ReportDay(today.AddDate(0, 0, -729)), store.ReportDay(today), sums)
					if err != nil || len(days) != 730 {
						b.Fatal(len(days), err)
					}
					totals, err := db.Read().MetricTotals(ctx, s.org, store.ReportDay(today.AddDate(0, 0, -364)), store.ReportDay(today))
					if err != nil || len(totals) == 0 {
						b.Fatal(len(totals), err)
					}
				}
			})
			b.Run("courses by status", func(b *testing.B) {
				for b.Loop() {
					if list, err := db.Read().CourseReports(ctx, s.org); err != nil || len(list) != reportCourses {
						b.Fatal(len(list), err)
					}
				}
			})
			b.Run("a course's items", func(b *testing.B) {
				for b.Loop() {
					if list, err := db.Read().ItemCounts(ctx, s.org, s.Courses[3]); err != nil || len(list) == 0 {
						b.Fatal(len(list), err)
					}
				}
			})
			b.Run("unsubscribes", func(b *testing.B) {
				for b.Loop() {
					if list, err := db.Read().Unsubscribes(ctx, s.org); err != nil || len(list) == 0 {
						b.Fatal(len(list), err)
					}
				}
			})
		})
	}
}

// Recording an email's outcome counts it in the email report: sent (or
// stored), failed for good, and each try after the first as a retry; a
// platform email, or a second outcome of a finished one, counts nothing.
func TestMailOutcomesAreCounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, _ := storetest.NewOrganization(t, db, "Acme")
		lesson := queuedEmail{&org, "lesson"}
		ids := queueEmails(t, db, "a@example.com", lesson, lesson, lesson, queuedEmail{nil, "lesson"})
		for _, step := range []struct {
			id      int64
			status  string
			changed bool
		}{
			{ids[0], store.MailQueued, true}, {ids[0], store.MailSent, true}, // a retry, then sent
			{ids[1], store.MailFailed, true}, {ids[1], store.MailSent, false}, // failed for good
			{ids[2], store.MailStored, true},
			{ids[3], store.MailSent, true}, // the platform's
		} {
			var changed bool
			err := db.InTx(ctx, func(q *store.Queries) error {
				var err error
				changed, err = q.RecordMailAttempt(ctx, step.id, store.MailAttempt{Status: step.status, Transport: "smtp", RetryAt: time.Now()})
				return err
			})
			if err != nil || changed != step.changed {
				t.Fatalf("record %s of %d: changed %v, %v", step.status, step.id, changed, err)
			}
		}
		if got, want := todaysCounts(t, db, org), "mail_failed:lesson=1 mail_retried:lesson=1 mail_sent:lesson=2"; got != want {
			t.Errorf("counts %q, want %q", got, want)
		}
	})
}

// todaysCounts returns an organization's counters of the day, each as
// "metric=n", in the order DailyCounts reads them.
func todaysCounts(t *testing.T, db *store.DB, org int64) string {
	t.Helper()
	today := store.ReportDay(time.Now())
	counts, err := db.Read().DailyCounts(context.Background(), org, today, today)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range counts {
		got = append(got, fmt.Sprintf("%s=%d", c.Metric, c.N))
	}
	return strings.Join(got, " ")
}

// A request for daily sums without a sum is refused rather than sent to
// the database as a statement that cannot run.
func TestDailySumsWantsASum(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, _ := storetest.NewOrganization(t, db, "Sums")
		day := store.ReportDay(time.Now())
		if days, err := db.Read().DailySums(ctx, org, day, day, nil); err == nil || !strings.Contains(err.Error(), "no sum") {
			t.Errorf("no sums: %v, %v", days, err)
		}
	})
}

// Outcomes recorded together count as the same outcomes recorded one by
// one, per organization and kind; an email no longer queued changes
// nothing.
func TestMailOutcomesRecordedTogetherAreCounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		acme, _ := storetest.NewOrganization(t, db, "Acme")
		globex, _ := storetest.NewOrganization(t, db, "Globex")
		ids := queueEmails(t, db, "a@example.com", queuedEmail{&acme, "lesson"}, queuedEmail{&acme, "lesson"},
			queuedEmail{&acme, "certificate"}, queuedEmail{&acme, "lesson"}, queuedEmail{&globex, "lesson"},
			queuedEmail{&globex, "lesson"}, queuedEmail{nil, "invitation"}, queuedEmail{&acme, "lesson"})
		err := db.InTx(ctx, func(q *store.Queries) error {
			// The first was tried before and is retried; the last is
			// already sent.
			if _, err := q.RecordMailAttempt(ctx, ids[0], store.MailAttempt{Status: store.MailQueued, Transport: "smtp", RetryAt: time.Now()}); err != nil {
				return err
			}
			_, err := q.RecordMailAttempt(ctx, ids[7], store.MailAttempt{Status: store.MailSent, Transport: "smtp"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		statuses := []string{store.MailSent, store.MailSent, store.MailSent, store.MailFailed,
			store.MailStored, store.MailQueued, store.MailSent, store.MailFailed}
		var group []store.RecordedAttempt
		for i, status := range statuses {
			group = append(group, store.RecordedAttempt{MessageID: ids[i], Attempt: store.MailAttempt{Status: status, Transport: "smtp", RetryAt: time.Now()}})
		}
		var changed []bool
		err = db.InTx(ctx, func(q *store.Queries) error {
			var err error
			changed, err = q.RecordMailAttempts(ctx, group)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, true, true, true, true, true, true, false}; !slices.Equal(changed, want) {
			t.Errorf("changed %v, want %v", changed, want)
		}
		for org, want := range map[int64]string{
			acme:   "mail_failed:lesson=1 mail_retried:lesson=1 mail_sent:certificate=1 mail_sent:lesson=3",
			globex: "mail_sent:lesson=1",
		} {
			if got := todaysCounts(t, db, org); got != want {
				t.Errorf("organization %d: counts %q, want %q", org, got, want)
			}
		}
		if m, err := db.Read().MailMessageByID(ctx, ids[5]); err != nil || m.Status != store.MailQueued || m.Attempts != 1 {
			t.Errorf("the email to retry: %+v, %v", m, err)
		}
	})
}

// Two transactions that complete enrollments of the same course, and
// count the completions, do not run in turn on PostgreSQL: the counters
// they share (the course's enrollments by status, the day's completions)
// are written as each commits, so the second commits while the first is
// still at work. (SQLite has one writer: there they always run in turn.)
// Both counts are there in the end.
func TestSharedCountersWaitOnlyForCommits(t *testing.T) {
	db := storetest.New(t, store.Postgres)
	ctx := context.Background()
	org, _ := storetest.NewOrganization(t, db, "Acme")
	courses, _ := fourCourses(t, db, org)
	at := time.Now()
	enrollments := activeEnrollments(t, db, org, at, courses[0], courses[0])
	complete := func(ctx context.Context, q *store.Queries, id int64) error {
		if _, ok, err := q.FinishEnrollment(ctx, org, id, store.EnrollmentCompleted, at); err != nil || !ok {
			return fmt.Errorf("complete enrollment %d: %v, %w", id, ok, err)
		}
		return q.CountDaily(ctx, org, at, "completed", 1)
	}

	counted, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.InTx(ctx, func(q *store.Queries) error {
			if err := complete(ctx, q, enrollments[0]); err != nil {
				return err
			}
			close(counted)
			<-release // still at work
			return nil
		})
	}()
	select {
	case <-counted:
	case err := <-first:
		t.Fatalf("the first transaction: %v", err)
	}
	second, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := db.InTx(second, func(q *store.Queries) error { return complete(second, q, enrollments[1]) })
	close(release)
	if err != nil {
		t.Fatalf("the second transaction, while the first was at work: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	day := store.ReportDay(at)
	for query, want := range map[string]int64{
		`SELECT n FROM enrollment_counts WHERE organization_id = ? AND status = 'completed'`:                    2,
		`SELECT n FROM enrollment_counts WHERE organization_id = ? AND status = 'active'`:                       0,
		`SELECT n FROM report_daily WHERE organization_id = ? AND metric = 'completed' AND day = '` + day + `'`: 2,
	} {
		if n, err := db.QueryInt(ctx, query, org); err != nil || n != want {
			t.Errorf("%s: %d, %v; want %d", query, n, err, want)
		}
	}
}

// Counts are written as their transaction commits, so a transaction may
// count something and then delete it (its course, its organization),
// which takes its counters along: it commits, and counts nothing of what
// is gone.
func TestCountsOfWhatTheTransactionDeleted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, _ := storetest.NewOrganization(t, db, "Acme")
		courses, lesson := fourCourses(t, db, org)
		at := time.Now()
		enrollments := activeEnrollments(t, db, org, at, courses[0], courses[1])
		count := func(q *store.Queries, enrollment int64) error {
			if _, _, err := q.FinishEnrollment(ctx, org, enrollment, store.EnrollmentCompleted, at); err != nil {
				return err
			}
			if err := q.CountItem(ctx, org, courses[0], lesson, "received", 1); err != nil {
				return err
			}
			return q.CountDaily(ctx, org, at, "completed", 1)
		}
		err := db.InTx(ctx, func(q *store.Queries) error {
			if err := count(q, enrollments[0]); err != nil {
				return err
			}
			return q.DeleteCourse(ctx, org, courses[0])
		})
		if err != nil {
			t.Fatalf("count, then delete the course: %v", err)
		}
		for query, want := range map[string]int64{
			`SELECT COUNT(*) FROM enrollment_counts WHERE organization_id = ? AND course_id = ` + fmt.Sprint(courses[0]): 0,
			`SELECT COUNT(*) FROM report_items WHERE organization_id = ?`:                                                0,
			`SELECT COALESCE(SUM(n), 0) FROM report_daily WHERE organization_id = ? AND metric = 'completed'`:            1,
		} {
			if n, err := db.QueryInt(ctx, query, org); err != nil || n != want {
				t.Errorf("%s: %d, %v; want %d", query, n, err, want)
			}
		}
		err = db.InTx(ctx, func(q *store.Queries) error {
			if _, _, err := q.FinishEnrollment(ctx, org, enrollments[1], store.EnrollmentCompleted, at); err != nil {
				return err
			}
			if err := q.CountDaily(ctx, org, at, "completed", 1); err != nil {
				return err
			}
			return q.DeleteOrganization(ctx, org)
		})
		if err != nil {
			t.Fatalf("count, then delete the organization: %v", err)
		}
		for _, table := range []string{"enrollment_counts", "report_daily", "report_items"} {
			if n, err := db.QueryInt(ctx, `SELECT COUNT(*) FROM `+table+` WHERE organization_id = ?`, org); err != nil || n != 0 {
				t.Errorf("%s of the deleted organization: %d, %v", table, n, err)
			}
		}
	})
}

// activeEnrollments enrolls a new learner in each course, active from at,
// and returns the enrollments.
func activeEnrollments(t *testing.T, db *store.DB, org int64, at time.Time, courses ...int64) []int64 {
	t.Helper()
	ctx := context.Background()
	var enrollments []int64
	err := db.InTx(ctx, func(q *store.Queries) error {
		for i, course := range courses {
			l, err := q.SaveLearner(ctx, org, fmt.Sprintf("learner%d@example.com", i))
			if err != nil {
				return err
			}
			e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: org, CourseID: course, LearnerID: l.ID,
				Status: store.EnrollmentActive, At: at})
			if err != nil {
				return err
			}
			enrollments = append(enrollments, e.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return enrollments
}
