package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// BenchmarkReportPages requests each report page of one organization with
// MAILSCHOOL_REPORT_ENROLLMENTS enrollments and MAILSCHOOL_REPORT_DELIVERIES
// deliveries (100,000 and 500,000 by default), quiz answers and two years
// of daily counters (store.SeedReports), from a real server over loopback,
// as a viewer of the organization, one request at a time, on both
// databases: ns/op is one page's time from request to its last byte read,
// p50-ms and p99-ms the median and the 99th percentile of the requests,
// cpu-ms/op the CPU the process (server and client) spent per page.
func BenchmarkReportPages(b *testing.B) {
	size := store.ReportSeedSize{
		Enrollments: storetest.BenchSize(b, "MAILSCHOOL_REPORT_ENROLLMENTS", 100_000),
		Deliveries:  storetest.BenchSize(b, "MAILSCHOOL_REPORT_DELIVERIES", 500_000),
		Days:        2 * 366,
	}
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			app := newTestApp(b, storetest.New(b, dialect))
			const viewerEmail, viewerPassword = "viewer@example.com", "viewer password 123"
			org := newReportBenchOrganization(b, app.db, viewerEmail, viewerPassword)
			start := time.Now()
			seed, err := app.db.SeedReports(context.Background(), org, size)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("seeded %d enrollments and %d deliveries in %s", size.Enrollments, size.Deliveries, time.Since(start).Round(time.Second))
			viewer := app.loggedIn(viewerEmail, viewerPassword)
			today := time.Now().UTC()
			pages := fmt.Sprintf("/email-learning/platform/organizations/%d/reports/", org)
			api := fmt.Sprintf("/api/v1/organizations/%d/", org)
			course := seed.Courses[3]
			for _, page := range []struct{ name, path, want string }{
				{"OrganizationReport365", pages + "?days=365", `<title id="activity-title">Enrollments per day, last 365 days</title>`},
				{"CourseReport", fmt.Sprintf("%scourses/%d/", pages, course), "Questions most often answered wrong"},
				{"EmailReport365", pages + "email/?days=365", `<title id="emails-title">Emails per day, last 365 days</title>`},
				{"ReportsAPI365", fmt.Sprintf("%sreports?from=%s&to=%s", api, store.ReportDay(today.AddDate(0, 0, -364)), store.ReportDay(today)), `"series":`},
				{"CourseReportAPI", fmt.Sprintf("%scourses/%d/report", api, course), `"most_wrong":[{`},
			} {
				b.Run(page.name, func(b *testing.B) {
					url := app.srv.URL + page.path
					// Once whole, to check it is the page it should be.
					if res := viewer.get(page.path); res.status != http.StatusOK || !strings.Contains(res.body, page.want) {
						b.Fatalf("GET %s: %d, without %s\n%.2000s", page.path, res.status, page.want, res.body)
					}
					var times []time.Duration
					cpu := processCPU()
					for b.Loop() {
						t0 := time.Now()
						res, err := viewer.http.Get(url)
						if err != nil {
							b.Fatal(err)
						}
						_, err = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if err != nil || res.StatusCode != http.StatusOK {
							b.Fatalf("GET %s: %d %v", page.path, res.StatusCode, err)
						}
						times = append(times, time.Since(t0))
					}
					b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
					slices.Sort(times)
					b.ReportMetric(float64(times[len(times)/2])/1e6, "p50-ms")
					b.ReportMetric(float64(times[len(times)*99/100])/1e6, "p99-ms")
				})
			}
		})
	}
}

// newReportBenchOrganization creates an empty organization with a viewer
// who can log in, and returns its id.
func newReportBenchOrganization(b *testing.B, db *store.DB, email, password string) int64 {
	ctx := context.Background()
	hash, err := auth.HashPassword(ctx, password)
	if err != nil {
		b.Fatal(err)
	}
	org, _ := storetest.NewOrganization(b, db, "Busy Academy")
	err = db.InTx(ctx, func(q *store.Queries) error {
		u, err := q.CreateUser(ctx, store.NewUser{Email: email, Name: "Vera Viewer", PasswordHash: hash})
		if err != nil {
			return err
		}
		return q.AddMembership(ctx, org, u.ID, "viewer")
	})
	if err != nil {
		b.Fatal(err)
	}
	return org
}
