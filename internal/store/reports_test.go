package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// reportSeed is an organization with courses of five items each,
// enrollments and deliveries spread over them, and a year of counters.
type reportSeed struct {
	org     int64
	courses []int64
}

const reportCourses = 20

// seedReports fills a database with enrollments and deliveries in one
// organization, each table with one INSERT ... SELECT over a recursive
// series (no row by row), and a year of daily counters for every course.
func seedReports(tb testing.TB, db *store.DB, name string, enrollments, deliveries, days int) reportSeed {
	tb.Helper()
	ctx := context.Background()
	org, _ := storetest.NewOrganization(tb, db, name)
	s := reportSeed{org: org}
	var contents []int64 // of the last course
	err := db.InTx(ctx, func(q *store.Queries) error {
		for c := range reportCourses {
			title := fmt.Sprintf("Course %02d", c)
			id, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: org, Title: title, TitleKey: strings.ToLower(title),
				TitleSkeleton: names.Key(title), Slug: fmt.Sprintf("course-%02d", c), Enabled: true})
			if err != nil {
				return err
			}
			s.courses = append(s.courses, id)
			contents = contents[:0]
			for i := range 5 {
				item, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: org, CourseID: id, Kind: store.KindLesson,
					Title: fmt.Sprintf("Lesson %d", i+1), Published: true})
				if err != nil {
					return err
				}
				contents = append(contents, item)
				for _, m := range []string{"received", "unsubscribed"} {
					if err := q.CountItem(ctx, org, id, item, m, 100-10*i); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	at := "'" + time.Now().UTC().Format("2006-01-02 15:04:05") + "'"
	series := func(n int) string {
		return fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) `, n)
	}
	statuses := `CASE i % 6 WHEN 0 THEN 'unverified' WHEN 1 THEN 'active' WHEN 2 THEN 'completed' WHEN 3 THEN 'failed' WHEN 4 THEN 'cancelled' ELSE 'unsubscribed' END`
	for _, stmt := range []string{
		series(enrollments) + fmt.Sprintf(`INSERT INTO learners (organization_id, email, created_at, updated_at)
			SELECT %d, 'l' || i || '@example.com', %s, %s FROM n`, org, at, at),
		fmt.Sprintf(`INSERT INTO enrollments (organization_id, course_id, learner_id, status, link_key, created_at, updated_at)
			SELECT %d, %d + (l.id %% %d), l.id, %s, 'k' || l.id, %s, %s FROM (SELECT id, id AS i FROM learners WHERE organization_id = %d) l`,
			org, s.courses[0], reportCourses,
			strings.ReplaceAll(statuses, "i % 6", "l.i % 6"), at, at, org),
		series(deliveries) + fmt.Sprintf(`INSERT INTO deliveries (organization_id, enrollment_id, content_id, attempt, due_at, status, created_at, updated_at)
			SELECT %d, e.first + (i %% %d), %d + ((i / %d) %% 5), 1 + i / (%d * 5), %s, 'sent', %s, %s
			FROM n, (SELECT MIN(id) AS first FROM enrollments WHERE organization_id = %d) e`,
			org, enrollments, contents[0], enrollments, enrollments, at, at, at, org),
	} {
		if err := db.Exec(ctx, stmt); err != nil {
			tb.Fatalf("seed: %v\n%s", err, stmt)
		}
	}
	// Counters of every metric on every day.
	var rows []string
	flush := func() {
		if len(rows) == 0 {
			return
		}
		if err := db.Exec(ctx, `INSERT INTO report_daily (organization_id, day, metric, n) VALUES `+strings.Join(rows, ",")); err != nil {
			tb.Fatal(err)
		}
		rows = rows[:0]
	}
	today := time.Now().UTC()
	for d := range days {
		day := store.ReportDay(today.AddDate(0, 0, -d))
		for _, m := range []string{"started", "confirmed", "completed", "failed", "cancelled", "unsubscribed"} {
			rows = append(rows, fmt.Sprintf("(%d, '%s', '%s', %d)", org, day, m, 1+d%7))
		}
		for _, kind := range []string{"lesson", "quiz", "enrollment_confirm", "course_completed", "course_failed"} {
			for _, m := range []string{store.MailMetricSent, store.MailMetricFailed, store.MailMetricRetried} {
				rows = append(rows, fmt.Sprintf("(%d, '%s', '%s', %d)", org, day, m+kind, 3+d%5))
			}
		}
		if len(rows) > 1000 {
			flush()
		}
	}
	flush()
	if err := db.Vacuum(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestReportQueriesReadIndexes checks that the reports read the counters
// by their primary key, never the enrollments or deliveries nor a whole
// table (on PostgreSQL after VACUUM ANALYZE, as autovacuum keeps
// a live install; the planner is not forced).
func TestReportQueriesReadIndexes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Three organizations, so that one's rows are a part of each
		// table, as on any install with more than one.
		seedReports(t, db, "Busy", 2000, 4000, 366)
		s := seedReports(t, db, "Busier", 2000, 4000, 366)
		seedReports(t, db, "Busiest", 2000, 4000, 366)
		today := time.Now().UTC()
		// The page's default: 30 days, and the 30 before.
		plans, err := db.ReportPlans(ctx, s.org, s.courses[3], store.ReportDay(today.AddDate(0, 0, -59)), store.ReportDay(today))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range plans {
			t.Log(p)
			text := strings.Join(p.Lines, "\n")
			// SQLite names a read of a whole table "SCAN <table>" without an
			// index (courses is small and read by its organization's
			// index), PostgreSQL "Seq Scan".
			for _, table := range []string{"report_daily", "report_items", "enrollments", "deliveries"} {
				if strings.Contains(text, "Seq Scan on "+table) || strings.Contains(text, "SCAN "+table) && !strings.Contains(text, "SCAN "+table+" USING") {
					t.Errorf("%s reads the whole of %s", p.Name, table)
				}
			}
			if strings.Contains(text, "deliveries") {
				t.Errorf("%s reads deliveries", p.Name)
			}
			if strings.Contains(p.Name, "course reports") {
				// A row per course and status: PostgreSQL may read the
				// few of this small table whole, SQLite reads them by
				// course (as "ec").
				if !strings.Contains(text, "enrollment_counts") && !strings.Contains(text, "SEARCH ec USING PRIMARY KEY") {
					t.Errorf("%s does not read enrollment_counts", p.Name)
				}
				continue
			}
			// The other counters are read by their primary key: SQLite's
			// tables without rowid say "USING PRIMARY KEY".
			if !strings.Contains(text, "_pkey") && !strings.Contains(text, "USING PRIMARY KEY") {
				t.Errorf("%s does not read the counters' primary key", p.Name)
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
				for b.Loop() {
					// The range and the year before it, as the page reads them.
					list, err := db.Read().DailyCounts(ctx, s.org, store.ReportDay(today.AddDate(0, 0, -729)), store.ReportDay(today))
					if err != nil || len(list) == 0 {
						b.Fatal(len(list), err)
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
					if list, err := db.Read().ItemCounts(ctx, s.org, s.courses[3]); err != nil || len(list) != 10 {
						b.Fatal(len(list), err)
					}
				}
			})
			b.Run("unsubscribes", func(b *testing.B) {
				for b.Loop() {
					if list, err := db.Read().Unsubscribes(ctx, s.org); err != nil || len(list) != 5*reportCourses {
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
		var ids []int64
		err := db.InTx(ctx, func(q *store.Queries) error {
			for i, owner := range []*int64{&org, &org, &org, nil} {
				m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: owner, Kind: "lesson", Sender: "a@example.com",
					Recipient: "b@example.com", Subject: "Hi", MessageID: fmt.Sprintf("m%d@example.com", i), Raw: []byte("x")})
				if err != nil {
					return err
				}
				ids = append(ids, m.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
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
		today := store.ReportDay(time.Now())
		counts, err := db.Read().DailyCounts(ctx, org, today, today)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range counts {
			got = append(got, fmt.Sprintf("%s=%d", c.Metric, c.N))
		}
		if want := "mail_failed:lesson=1 mail_retried:lesson=1 mail_sent:lesson=2"; strings.Join(got, " ") != want {
			t.Errorf("counts %q, want %q", strings.Join(got, " "), want)
		}
	})
}
