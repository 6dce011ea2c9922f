package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// exportBenchRows is how many enrollments, learners and audit entries
// BenchmarkExports seeds: MAILSCHOOL_BENCH_EXPORT_ROWS, or 20,000.
func exportBenchRows(b *testing.B) int {
	return storetest.BenchSize(b, "MAILSCHOOL_BENCH_EXPORT_ROWS", 20_000)
}

// BenchmarkExports downloads each export of an organization with many
// rows through the whole server, over loopback, reading the file as a
// client would, and reports the rows per second and the largest live
// heap and resident set seen while it ran (sampled every 2 ms).
func BenchmarkExports(b *testing.B) {
	n := exportBenchRows(b)
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			app := newTestApp(b, storetest.New(b, dialect))
			orgID := seedExportBench(b, app.db, n)
			admin := app.loggedIn(adminEmail, adminPassword)
			for _, kind := range []string{"enrollments", "learners", "audit"} {
				b.Run(kind, func(b *testing.B) {
					url := fmt.Sprintf("%s/api/v1/organizations/%d/exports/%s.csv", app.srv.URL, orgID, kind)
					runtime.GC()
					peak := sampleMemory()
					start, cpuStart := time.Now(), processCPU()
					rows := 0
					for b.Loop() {
						rows += downloadRows(b, admin.http, url)
					}
					elapsed, cpu := time.Since(start), processCPU()-cpuStart
					heap, rss := peak()
					b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
					// The process's CPU time, server and client together: on a
					// machine whose cores others share, the wall clock also
					// counts the time spent waiting for a core.
					b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
					b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
					b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
					b.ReportMetric(0, "ns/op") // one op is one whole file: rows/s says it
				})
			}
		})
	}
}

// downloadRows reads a CSV file from url and returns its rows but the
// header.
func downloadRows(b *testing.B, c *http.Client, url string) int {
	res, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		b.Fatalf("%s: %d %s", url, res.StatusCode, body)
	}
	lines := 0
	r := bufio.NewReaderSize(res.Body, 64<<10)
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			lines++
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			b.Fatal(err)
		}
	}
	return lines - 1
}

// sampleMemory samples the live heap and the resident set until the
// function it returns is called, which returns the largest of each.
func sampleMemory() func() (heap, rss uint64) {
	var (
		mu             sync.Mutex
		maxHeap, maxRS uint64
		done           = make(chan struct{})
		stopped        = make(chan struct{})
	)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(stopped)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			h, rs := sample[0].Value.Uint64(), residentSet()
			mu.Lock()
			maxHeap, maxRS = max(maxHeap, h), max(maxRS, rs)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-stopped
		return maxHeap, maxRS
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// residentSet is the process's resident set in bytes (Linux), or 0.
func residentSet() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// seedExportBench makes an organization with n learners enrolled in one
// of four courses of three published items, n audit entries, and for
// every tenth enrollment two items sent, a quiz answered twice and a
// claimed certificate; it returns the organization's id.
func seedExportBench(b *testing.B, db *store.DB, n int) int64 {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	orgID, _ := storetest.NewOrganization(b, db, "Export Bench")
	var courses, quizzes, lessons [4]int64
	err := db.InTx(ctx, func(q *store.Queries) error {
		for i := range courses {
			title := fmt.Sprintf("Course %d", i)
			var err error
			if courses[i], err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: orgID, Title: title, TitleKey: strings.ToLower(title),
				TitleSkeleton: names.Key(title), Slug: fmt.Sprintf("course-%d", i)}); err != nil {
				return err
			}
			for _, kind := range []string{"lesson", "quiz", "lesson"} {
				id, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: orgID, CourseID: courses[i], Kind: kind, Title: kind, Published: true})
				if err != nil {
					return err
				}
				if kind == "quiz" {
					quizzes[i] = id
				} else if lessons[i] == 0 {
					lessons[i] = id
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const batch = 2000
	for from := 0; from < n; from += batch {
		err := db.InTx(ctx, func(q *store.Queries) error {
			for i := from; i < min(from+batch, n); i++ {
				c := i % len(courses)
				l, err := q.SaveLearner(ctx, orgID, fmt.Sprintf("learner%07d@example.com", i))
				if err != nil {
					return err
				}
				e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: orgID, CourseID: courses[c], LearnerID: l.ID,
					Status: store.EnrollmentActive, At: at})
				if err != nil {
					return err
				}
				if err := q.AddAuditEntry(ctx, store.AuditEntry{OrganizationID: orgID, ActorEmail: "admin@example.com",
					Action: "member.added", Target: l.Email, NewValue: `{"role":"viewer"}`}); err != nil {
					return err
				}
				if i%10 != 0 {
					continue
				}
				for attempt, item := range []int64{lessons[c], quizzes[c]} {
					d, _, err := q.ScheduleDelivery(ctx, orgID, e.ID, item, 1, at)
					if err != nil {
						return err
					}
					m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: &orgID, Kind: "lesson", Sender: "a@example.com",
						Recipient: l.Email, Subject: "x", MessageID: fmt.Sprintf("bench-%d@example.com", d), Raw: []byte("x")})
					if err != nil {
						return err
					}
					if err := q.MarkDeliverySent(ctx, d, m.ID); err != nil {
						return err
					}
					if attempt == 1 {
						if _, err := q.CreateQuizAttempt(ctx, store.NewQuizAttempt{OrganizationID: orgID, EnrollmentID: e.ID, DeliveryID: d,
							ContentID: item, Attempt: 1, Score: 80, Passed: true, Answers: map[int64][]int64{}, At: at}); err != nil {
							return err
						}
					}
				}
				cert, _, err := q.CreateCertificate(ctx, store.NewCertificate{OrganizationID: orgID, EnrollmentID: e.ID,
					Number: fmt.Sprintf("N%07d", i), CourseTitle: "Course", OrganizationName: "Export Bench", CompletedAt: at})
				if err != nil {
					return err
				}
				if _, err := q.ClaimCertificate(ctx, orgID, cert.ID, "Learner "+strconv.Itoa(i), nil, at); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d enrollments, learners and audit entries on %s in %s", n, db.Dialect(), time.Since(start).Round(time.Second))
	return orgID
}
