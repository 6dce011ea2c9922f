package web

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// BenchmarkPublicPage requests the public page of an organization with a
// logo and 100 public courses from 32 concurrent clients over loopback
// HTTP, against SQLite, and reports requests per second and the 99th
// percentile latency.
func BenchmarkPublicPage(b *testing.B) {
	db := storetest.NewSQLite(b)
	app := newTestApp(b, db)
	c := app.loggedIn(adminEmail, adminPassword)
	res := c.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": "Acme Academy",
		"description": "Courses by email, one lesson a day."}, upload{"logo", "logo.png", testPNG(200, 100)})
	if res.status != 303 {
		b.Fatalf("create organization: %d", res.status)
	}
	err := db.InTx(b.Context(), func(q *store.Queries) error {
		for i := range 100 {
			title := fmt.Sprintf("Course %03d", i)
			_, err := q.CreateCourse(b.Context(), store.NewCourse{OrganizationID: 2, Title: title, TitleKey: strings.ToLower(title), TitleSkeleton: names.Key(title),
				Slug: fmt.Sprintf("course-%03d", i), Description: "Learn something useful in ten short lessons.", Enabled: true, Public: true})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	url := app.srv.URL + "/email-learning/public/organization/2/"
	const clients = 32
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	get := func() (time.Duration, error) {
		start := time.Now()
		res, err := httpClient.Get(url)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return 0, fmt.Errorf("status %d", res.StatusCode)
		}
		return time.Since(start), err
	}
	if _, err := get(); err != nil {
		b.Fatal(err)
	}

	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				d, err := get()
				if err != nil {
					b.Error(err)
					return
				}
				latencies[i] = d
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
}
