package store_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// BenchmarkEnrollmentExportPages reads every page of an organization's
// enrollments as the export does, without HTTP or CSV: MAILSCHOOL_BENCH_EXPORT_ROWS
// enrollments (100,000) over four courses, a tenth of them with two items
// sent. It reports the CPU time of a row.
func BenchmarkEnrollmentExportPages(b *testing.B) {
	n := storetest.BenchSize(b, "MAILSCHOOL_BENCH_EXPORT_ROWS", 100_000)
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			db := storetest.New(b, dialect)
			ctx := context.Background()
			org, _ := storetest.NewOrganization(b, db, "Export Bench")
			courses, first := fourCourses(b, db, org)
			at := "'" + time.Now().UTC().Format("2006-01-02 15:04:05.999999999-07:00") + "'" // as the driver writes times
			for _, stmt := range []string{
				fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
					INSERT INTO learners (organization_id, email, created_at, updated_at)
					SELECT %d, 'learner' || i || '@example.com', %s, %s FROM n`, n, org, at, at),
				fmt.Sprintf(`INSERT INTO enrollments (organization_id, course_id, learner_id, status, link_key, created_at, updated_at, activated_at)
					SELECT %d, %d + (id %% 4), id, 'active', 'k' || id, %s, %s, %s FROM learners WHERE organization_id = %d`,
					org, courses[0], at, at, at, org),
				fmt.Sprintf(`INSERT INTO deliveries (organization_id, enrollment_id, content_id, attempt, due_at, status, created_at, updated_at)
					SELECT %d, id, %d, a, %s, 'sent', %s, %s FROM enrollments, (SELECT 1 AS a UNION ALL SELECT 2) x
					WHERE organization_id = %d AND id %% 10 = 0`, org, first, at, at, at, org),
			} {
				if err := db.Exec(ctx, stmt); err != nil {
					b.Fatalf("seed: %v\n%s", err, stmt)
				}
			}
			if dialect == store.Postgres {
				// As autovacuum would have after such a load: without
				// statistics the planner reads a course's enrollments whole
				// for every page.
				if err := db.Exec(ctx, `ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			q := db.Read()
			rows := 0
			cpu := processCPU()
			for b.Loop() {
				var (
					page []store.EnrollmentExportRow
					err  error
				)
				for _, c := range courses {
					var after int64
					for {
						if page, err = q.EnrollmentExportPage(ctx, org, c, after, 1000, page); err != nil {
							b.Fatal(err)
						}
						rows += len(page)
						if len(page) < 1000 {
							break
						}
						after = page[len(page)-1].LearnerID
					}
				}
			}
			if rows != n*b.N {
				b.Fatalf("read %d rows, want %d", rows, n*b.N)
			}
			b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(rows)/1000, "cpu-µs/row")
		})
	}
}

func processCPU() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
