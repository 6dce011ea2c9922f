package learning_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// BenchmarkImport times a learner import of a file of new addresses, from
// the upload (read, checked, spooled) to the last chunk, each address
// enrolled and its confirmation email rendered, recorded and queued for
// sending, as the job does it. MAILSCHOOL_BENCH_DB=postgres runs it on
// PostgreSQL; MAILSCHOOL_BENCH_ROWS sets the rows (100,000), and
// MAILSCHOOL_BENCH_CHUNK the rows per transaction.
func BenchmarkImport(b *testing.B) {
	rows := storetest.BenchSize(b, "MAILSCHOOL_BENCH_ROWS", 100_000)
	var csv strings.Builder
	csv.WriteString("email,name\n")
	for i := range rows {
		fmt.Fprintf(&csv, "learner%06d@example.com,Learner %d\n", i, i)
	}
	file := []byte(csv.String())
	ctx := context.Background()
	if v := os.Getenv("MAILSCHOOL_BENCH_CHUNK"); v != "" {
		var chunk int
		fmt.Sscan(v, &chunk)
		learning.SetImportPace(b, chunk, 20*time.Second)
	}
	for b.Loop() {
		b.StopTimer()
		var db *store.DB
		if os.Getenv("MAILSCHOOL_BENCH_DB") == "postgres" {
			db = storetest.NewPostgres(b)
		} else {
			db = storetest.NewSQLite(b)
		}
		mailer, err := mail.NewService(db, mail.Config{From: "mailschool <noreply@school.example>", BaseURL: baseURL,
			Transport: mail.Outbox{}, TransportName: "outbox"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.NewJobs(&river.Config{}); err != nil {
			b.Fatal(err)
		}
		s := learning.NewService(db, learning.Config{Mail: mailer, BaseURL: baseURL, SecretKey: "a secret key for the benchmark"})
		orgID, users := storetest.NewOrganization(b, db, "Import Academy", storetest.Member{Email: "editor@example.com", Role: "editor"})
		var courseID int64
		err = db.InTx(ctx, func(q *store.Queries) error {
			courseID, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: orgID, Title: "Go basics", TitleKey: "go basics",
				TitleSkeleton: names.Key("Go basics"), Slug: "go-basics", Enabled: true, Public: true})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		began, cpu := time.Now(), processCPU()
		li, err := s.StartImport(ctx, &users[0], orgID, courseID, file, false)
		if err != nil {
			b.Fatal(err)
		}
		upload := time.Since(began)
		for li.Status == store.ImportRunning { // each run goes on for a while, then hands on
			if err := s.WorkImport(ctx, li.ID); err != nil {
				b.Fatal(err)
			}
			v, err := s.Import(ctx, &users[0], orgID, courseID, li.ID, 1, 1)
			if err != nil {
				b.Fatal(err)
			}
			li = v.Import
		}
		elapsed, cpu := time.Since(began), processCPU()-cpu

		b.StopTimer()
		if li.Enrolled != rows {
			b.Fatalf("%d of %d rows enrolled: %+v", li.Enrolled, rows, li)
		}
		// A fresh database numbers its emails from 1: the newest is the
		// count, one confirmation per address.
		if list, err := db.Read().ListMailMessages(ctx, 0, 1); err != nil || len(list) == 0 || list[0].ID != int64(rows) {
			b.Fatalf("emails recorded: %v %v, want %d", list, err, rows)
		}
		b.ReportMetric(upload.Seconds()*1000, "upload-ms")
		b.ReportMetric(elapsed.Seconds(), "import-s")
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		// On a shared machine the clock counts the waits for a core too.
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		db.Close()
		b.StartTimer()
	}
}
