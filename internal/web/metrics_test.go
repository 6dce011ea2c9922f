package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/metrics"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

const testMetricsToken = "metrics-token-0123456789"

// withMetrics gives the app metrics, with the token, and an SMTP
// transport to sink that reports to them.
func withMetrics(t *testing.T, sink *smtptest.Server, token string, m **metrics.Metrics) func(*Options) {
	return func(o *Options) {
		var err error
		*m, err = metrics.New(metrics.Options{DB: o.DB, Queues: []string{mail.Queue, delivery.Queue}, Logger: o.Logger})
		if err != nil {
			t.Fatal(err)
		}
		o.Metrics, o.MetricsToken = *m, token
		transport, err := mail.NewSMTP(mail.SMTPConfig{URL: sink.URL(), TLSConfig: sink.ClientTLSConfig()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { transport.Close() })
		o.Mail, err = mail.NewService(o.DB, mail.Config{From: "mailschool <noreply@localhost>", BaseURL: o.BaseURL,
			Transport: transport, TransportName: "smtp", Logger: o.Logger, Observer: *m})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// scrape reads /metrics with the token and parses it as Prometheus does.
func scrape(t *testing.T, app *testApp, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, app.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /metrics: %d\n%s", res.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// value is the value of the series of a family whose labels include
// these, and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := families[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// TestMetrics scrapes /metrics after real requests and real emails sent
// through SMTP: every series listed in the README is there, requests
// count under their route pattern and status, emails under their kind.
func TestMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sink := smtptest.Start(t, smtptest.Options{})
		var m *metrics.Metrics
		app := newTestApp(t, db, withMetrics(t, sink, testMetricsToken, &m))
		c := app.client()
		for range 3 {
			if res := c.get("/accounts/login/"); res.status != http.StatusOK {
				t.Fatalf("login page: %d", res.status)
			}
		}
		// Unknown paths count under the catch-all pattern, never their own.
		c.get("/no/such/page")
		c.get("/no/such/page/either")
		// A learner enrolls and confirms: emails of two kinds, through SMTP.
		sc := newSchool(t, app)
		sc.enrollConfirmed("ada@example.com")
		sink.Wait(t, 1, 10*time.Second)

		families := scrape(t, app, testMetricsToken)
		for _, name := range []string{
			"mailschool_http_requests_total", "mailschool_http_request_duration_seconds",
			"mailschool_jobs_available", "mailschool_jobs_oldest_available_age_seconds",
			"mailschool_deliveries_due", "mailschool_deliveries_overdue",
			"mailschool_emails_sent_total", "mailschool_emails_failed_total", "mailschool_emails_retried_total",
			"mailschool_smtp_send_duration_seconds",
			"go_sql_open_connections", "go_sql_in_use_connections", "go_sql_max_open_connections", "go_sql_wait_count_total",
			"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total",
		} {
			if _, ok := families[name]; !ok {
				t.Errorf("no %s in /metrics", name)
			}
		}
		if n, _ := value(families, "mailschool_http_requests_total", map[string]string{"method": "GET", "route": "/accounts/login/", "status": "200"}); n != 3 {
			t.Errorf("GET /accounts/login/ 200 counted %v times, want 3", n)
		}
		if n, _ := value(families, "mailschool_http_request_duration_seconds", map[string]string{"method": "GET", "route": "/accounts/login/"}); n != 3 {
			t.Errorf("GET /accounts/login/ timed %v times, want 3", n)
		}
		if n, _ := value(families, "mailschool_http_requests_total", map[string]string{"route": "/", "status": "404"}); n != 2 {
			t.Errorf("unknown paths counted %v times under the catch-all pattern, want 2", n)
		}
		for _, m := range families["mailschool_http_requests_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "no/such") {
					t.Errorf("a path became a label: %v", m)
				}
			}
		}
		if n, _ := value(families, "mailschool_emails_sent_total", map[string]string{"kind": string(mail.KindEnrollmentConfirm)}); n != 1 {
			t.Errorf("enrollment confirmations sent: %v, want 1", n)
		}
		if _, ok := value(families, "mailschool_emails_failed_total", map[string]string{"kind": string(mail.KindLesson)}); !ok {
			t.Error("no failed lessons series before the first failure")
		}
		if n, _ := value(families, "mailschool_smtp_send_duration_seconds", nil); n < 1 {
			t.Errorf("SMTP sends timed: %v", n)
		}
		if _, ok := value(families, "mailschool_jobs_available", map[string]string{"queue": mail.Queue}); !ok {
			t.Error("no job backlog of the mail queue")
		}
		pool := "read"
		if db.Dialect() == store.Postgres {
			pool = "postgres"
		}
		if n, ok := value(families, "go_sql_max_open_connections", map[string]string{"db_name": pool}); !ok || n < 1 {
			t.Errorf("pool %s: max open connections %v", pool, n)
		}
	})
}

// The deliveries due are read when scraped: content whose time has come
// and that waits for the delivery pass counts as due, and as overdue
// once it has waited past metrics.DefaultOverdueAfter.
func TestMetricsDeliveriesDue(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewSQLite(t)
	sink := smtptest.Start(t, smtptest.Options{})
	var m *metrics.Metrics
	app := newTestApp(t, db, withMetrics(t, sink, "", &m))
	sc := newSchool(t, app)
	now := time.Now()
	// No pass runs in the test app: the deliveries stay scheduled.
	err := db.InTx(ctx, func(q *store.Queries) error {
		contentID, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID,
			Kind: "lesson", Title: "One", Body: "Hello.", Published: true})
		if err != nil {
			return err
		}
		for i, due := range []time.Time{now.Add(-time.Hour), now.Add(-time.Minute), now.Add(time.Hour)} {
			learner, err := q.SaveLearner(ctx, sc.orgID, fmt.Sprintf("learner%d@example.com", i))
			if err != nil {
				return err
			}
			e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: sc.orgID, CourseID: sc.courseID,
				LearnerID: learner.ID, Status: store.EnrollmentActive, At: now})
			if err != nil {
				return err
			}
			if _, _, err := q.ScheduleDelivery(ctx, sc.orgID, e.ID, contentID, 1, due); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	families := scrape(t, app, "")
	if n, _ := value(families, "mailschool_deliveries_due", nil); n != 2 {
		t.Errorf("deliveries due: %v, want 2", n)
	}
	if n, _ := value(families, "mailschool_deliveries_overdue", nil); n != 1 {
		t.Errorf("deliveries overdue: %v, want 1", n)
	}
}

func TestMetricsToken(t *testing.T) {
	db := storetest.NewSQLite(t)
	sink := smtptest.Start(t, smtptest.Options{})
	var m *metrics.Metrics
	app := newTestApp(t, db, withMetrics(t, sink, testMetricsToken, &m))
	for _, tc := range []struct {
		authorization string
		want          int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong-token-0123456789", http.StatusUnauthorized},
		{"Bearer " + testMetricsToken[:len(testMetricsToken)-1], http.StatusUnauthorized},
		{"Basic " + testMetricsToken, http.StatusUnauthorized},
		{"Bearer " + testMetricsToken, http.StatusOK},
		{"bearer " + testMetricsToken, http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, app.srv.URL+"/metrics", nil)
		if tc.authorization != "" {
			req.Header.Set("Authorization", tc.authorization)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.authorization, res.StatusCode, tc.want)
		}
		if tc.want == http.StatusUnauthorized && (strings.Contains(string(body), "mailschool_") || res.Header.Get("WWW-Authenticate") == "") {
			t.Errorf("Authorization %q: refused with %s\n%s", tc.authorization, res.Header, body)
		}
	}
}

// Without metrics on, /metrics is a page like any missing one.
func TestMetricsOff(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	if res := app.client().get("/metrics"); res.status != http.StatusNotFound {
		t.Errorf("GET /metrics with metrics off: %d", res.status)
	}
}
