package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestServeMetrics runs serve with metrics on and a token: a lesson due
// at start is delivered by the node's workers, and a scrape with the
// token shows the lesson sent under its kind; one without is refused.
func TestServeMetrics(t *testing.T) {
	dir := t.TempDir()
	const token = "serve-metrics-token-0123456789"
	env := map[string]string{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_METRICS": "on", "MAILSCHOOL_METRICS_TOKEN": token}
	if r := runCommand(t, env, "", "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	scheduleDueLesson(t, dir)
	base, stop := startServer(t, env)
	defer stop()
	db := openData(t, env)
	storetest.Eventually(t, 10*time.Second, "the due lesson stored in the outbox", func() bool {
		list, err := db.Read().ListMailMessages(context.Background(), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			if m.Kind == "lesson" && m.Status == store.MailStored {
				return true
			}
		}
		return false
	})

	get := func(authorization string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := get("")
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", res.StatusCode)
	}
	res = get("Bearer " + token)
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("/metrics with the token: %d\n%s", res.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	sent := false
	for _, m := range families["mailschool_emails_sent_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			sent = sent || l.GetName() == "kind" && l.GetValue() == "lesson" && m.GetCounter().GetValue() == 1
		}
	}
	if !sent {
		t.Errorf("the lesson is not counted as sent: %v", families["mailschool_emails_sent_total"])
	}
	for _, name := range []string{"mailschool_jobs_available", "mailschool_deliveries_due", "mailschool_http_requests_total", "go_sql_open_connections"} {
		if families[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if out := stop(); strings.Contains(out, "status=500") {
		t.Errorf("serve answered 500:\n%s", out)
	}
}
