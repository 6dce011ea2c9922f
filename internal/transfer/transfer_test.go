package transfer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/transfer"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var platformAdmin = &store.User{ID: 1 << 40, Email: "admin@example.com", IsActive: true, IsPlatformAdmin: true}

// adminOf creates a platform admin in db, who imports: the audit entry
// of the import names them.
func adminOf(tb testing.TB, db *store.DB) *store.User {
	tb.Helper()
	var u store.User
	err := db.InTx(context.Background(), func(q *store.Queries) error {
		var err error
		u, err = q.CreateUser(context.Background(), store.NewUser{Email: "admin@example.com", IsPlatformAdmin: true})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &u
}

// seed makes an organization with a course of three lessons and n
// learners enrolled in it, each with a lesson sent and the next
// scheduled, written 1,000 rows a transaction. It returns the
// organization's id.
func seed(tb testing.TB, db *store.DB, name string, n int) int64 {
	tb.Helper()
	ctx := context.Background()
	var orgID, courseID int64
	var lessons []int64
	err := db.InTx(ctx, func(q *store.Queries) error {
		org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: name, NameKey: name, NameSkeleton: names.Key(name), Slug: orgs.Slugify(name)})
		if err != nil {
			return err
		}
		orgID = org.ID
		if courseID, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: orgID, Title: "Go basics", TitleKey: "go basics",
			TitleSkeleton: names.Key("Go basics"), Slug: "go-basics", Enabled: true, Public: true}); err != nil {
			return err
		}
		for i := range 3 {
			id, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: orgID, CourseID: courseID, Kind: store.KindLesson,
				Title: fmt.Sprintf("Lesson %d", i+1), Body: "Some *Markdown*.", Published: true, WaitingPeriodSeconds: 86400})
			if err != nil {
				return err
			}
			lessons = append(lessons, id)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	for start := 0; start < n; start += 1000 {
		err := db.InTx(ctx, func(q *store.Queries) error {
			for i := start; i < min(start+1000, n); i++ {
				l, err := q.SaveLearner(ctx, orgID, fmt.Sprintf("learner%d@example.com", i))
				if err != nil {
					return err
				}
				e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: orgID, CourseID: courseID, LearnerID: l.ID,
					Status: store.EnrollmentActive, At: now, RequestedIP: "192.0.2.1"})
				if err != nil {
					return err
				}
				if _, _, err := q.ScheduleDelivery(ctx, orgID, e.ID, lessons[0], 1, now.Add(-time.Hour)); err != nil {
					return err
				}
				if _, _, err := q.ScheduleDelivery(ctx, orgID, e.ID, lessons[1], 1, now.Add(24*time.Hour)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return orgID
}

func exportTo(tb testing.TB, db *store.DB, orgID int64, w io.Writer) {
	tb.Helper()
	s := transfer.NewService(db, "test", learning.NewService(db, learning.Config{BaseURL: "http://localhost"}))
	if err := s.Export(context.Background(), platformAdmin, orgID, func(store.Organization) io.Writer { return w }); err != nil {
		tb.Fatal(err)
	}
}

// count reads how many rows of each kind an organization has, through
// the export's own reader.
func count(t *testing.T, db *store.DB, orgID int64) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, k := range store.TransferKinds {
		for after := int64(0); ; {
			last, n, err := db.Read().ExportRows(context.Background(), k, orgID, after, 500, func([]any) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			counts[k.Name] += n
			if n < 500 {
				break
			}
			after = last
		}
	}
	return counts
}

// TestExportPagesThroughEveryRow: an organization of more rows than a
// page exports every row once and imports into another database whole.
func TestExportPagesThroughEveryRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		other := seed(t, db, "Before", 10) // rows of another organization around it
		orgID := seed(t, db, "Exported", 2500)
		seed(t, db, "After", 10)
		var buf bytes.Buffer
		exportTo(t, db, orgID, &buf)

		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if f.Name != "enrollments.jsonl" {
				continue
			}
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			if lines := bytes.Count(b, []byte("\n")); lines != 2500 {
				t.Errorf("enrollments.jsonl has %d lines", lines)
			}
		}

		target := storetest.New(t, db.Dialect())
		imported, err := transfer.NewService(target, "test", learning.NewService(target, learning.Config{BaseURL: "http://localhost"})).Import(context.Background(), adminOf(t, target), bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		want, got := count(t, db, orgID), count(t, target, imported.ID)
		got["audit"]-- // the import's own entry
		if fmt.Sprint(want) != fmt.Sprint(got) || want["deliveries"] != 5000 {
			t.Errorf("imported %v, exported %v", got, want)
		}
		if fmt.Sprint(count(t, db, other)) == fmt.Sprint(want) {
			t.Error("the other organization has the exported one's rows")
		}
		// Every delivery due already is due here too, for the pass.
		due, err := target.Read().DueDeliveries(context.Background(), time.Now(), store.DueRef{}, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 2500 {
			t.Errorf("%d deliveries due after the import, want 2500", len(due))
		}
	})
}

// countingWriter counts what is written through it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// peakHeap samples the heap in use while fn runs and returns its highest
// value above the heap in use before.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak.Load()
}

// BenchmarkExport exports an organization of 10,000 and of 100,000
// enrollments (MAILSCHOOL_EXPORT_BENCH_ENROLLMENTS sets the second) on
// both databases, and reports rows (learners, enrollments, deliveries)
// a second, the file's size and the heap the export held at its peak.
func BenchmarkExport(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if v, err := strconv.Atoi(os.Getenv("MAILSCHOOL_EXPORT_BENCH_ENROLLMENTS")); err == nil && v > 0 {
		sizes[1] = v
	}
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", dialect, n), func(b *testing.B) {
				db := storetest.New(b, dialect)
				orgID := seed(b, db, "Benchmark", n)
				rows := float64(4 * n) // a learner, an enrollment and two deliveries each
				var size int64
				var peak uint64
				b.ResetTimer()
				for b.Loop() {
					w := &countingWriter{}
					p := peakHeap(func() { exportTo(b, db, orgID, w) })
					size, peak = w.n, max(peak, p)
				}
				b.ReportMetric(rows*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(size)/(1<<20), "MiB-file")
				b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-heap")
			})
		}
	}
}

// BenchmarkImport imports the export of an organization of 10,000
// enrollments into a fresh database each time.
func BenchmarkImport(b *testing.B) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			const n = 10_000
			source := storetest.New(b, dialect)
			var buf bytes.Buffer
			exportTo(b, source, seed(b, source, "Benchmark", n), &buf)
			var peak uint64
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				target := storetest.New(b, dialect)
				admin := adminOf(b, target)
				b.StartTimer()
				p := peakHeap(func() {
					if _, err := transfer.NewService(target, "test", learning.NewService(target, learning.Config{BaseURL: "http://localhost"})).Import(context.Background(), admin,
						bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
						b.Fatal(err)
					}
				})
				peak = max(peak, p)
			}
			b.ReportMetric(float64(4*n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-heap")
		})
	}
}
