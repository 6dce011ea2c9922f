package web

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testReportSeries reads the per-day series of an organization where
// three learners were enrolled directly in a course today and one was
// cancelled, and the ranges the API refuses.
func testReportSeries(t *testing.T, admin *client, base string, courseID int64) {
	t.Helper()
	today := time.Now().UTC().Format(time.DateOnly)
	res, body := admin.api(http.MethodGet, base+"/reports?from="+today+"&to="+today, nil)
	if res.status != http.StatusOK {
		t.Fatalf("reports of today: %d %s", res.status, res.body)
	}
	series := body["series"].(map[string]any)
	wantDay := fmt.Sprintf(`{"day":%q,"started":3,"confirmed":3,"completed":0,"unsubscribed":0}`, today)
	if !strings.Contains(res.body, `"days":[`+wantDay+`]`) || fmt.Sprint(series["totals"]) != "map[completed:0 confirmed:3 started:3 unsubscribed:0]" {
		t.Errorf("the series of today:\n%s", res.body)
	}
	// By default the last 30 days, today the last.
	res, body = admin.api(http.MethodGet, base+"/reports", nil)
	days := body["series"].(map[string]any)["days"].([]any)
	if res.status != http.StatusOK || len(days) != 30 || days[29].(map[string]any)["day"] != today {
		t.Errorf("the default series: %d days\n%s", len(days), res.body)
	}
	for query, field := range map[string]string{
		"from=2026-13-01":                 "from",
		"to=yesterday":                    "to",
		"from=2025-01-01&to=2026-01-02":   "to", // 367 days
		"from=2026-02-01&to=2026-01-31":   "to",
		"from=2026-01-01&to=2026-01-01T0": "to",
	} {
		res, body := admin.api(http.MethodGet, base+"/reports?"+query, nil)
		fields, _ := body["error"].(map[string]any)["fields"].(map[string]any)
		if res.status != http.StatusBadRequest || fields[field] == nil {
			t.Errorf("?%s: %d %s, want 400 naming %s", query, res.status, res.body, field)
		}
	}
	if res, _ := admin.api(http.MethodGet, base+"/reports?from=2025-01-01&to=2025-12-31", nil); res.status != http.StatusOK {
		t.Errorf("a year of 365 days: %d %s", res.status, res.body)
	}

	// The course report: both lessons' funnel (the first was sent to the
	// three, by the engine's own job, or not yet).
	res, body = admin.api(http.MethodGet, fmt.Sprintf("%s/courses/%d/report", base, courseID), nil)
	if res.status != http.StatusOK || len(body["items"].([]any)) != 2 || body["title"] != "Alpha" {
		t.Errorf("the course report: %d %s", res.status, res.body)
	}
	if res, _ := admin.api(http.MethodGet, fmt.Sprintf("/api/v1/organizations/1/courses/%d/report", courseID), nil); res.status != http.StatusNotFound {
		t.Errorf("the course through another organization: %d %s", res.status, res.body)
	}

	// The page: the totals, a chart with the numbers, and the table.
	orgPage := strings.Replace(base, "/api/v1/organizations/", "/email-learning/platform/organizations/", 1) + "/reports/"
	page := admin.get(orgPage + "?days=90")
	if page.status != http.StatusOK {
		t.Fatalf("reports page: %d", page.status)
	}
	for _, want := range []string{`<svg class="chart" role="img" aria-labelledby="activity-title activity-desc"`,
		`<title id="activity-title">Enrollments per day, last 90 days</title>`, `<strong aria-current="page">Last 90 days</strong>`,
		fmt.Sprintf(`<th scope="row">%s</th><td class="num">3</td><td class="num">3</td><td class="num">0</td><td class="num">0</td>`, today),
		fmt.Sprintf(`reports/courses/%d/">Alpha</a>`, courseID), "Days are UTC days."} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the reports page lacks %s", want)
		}
	}
	// html/template writes "+" as "&#43;".
	if !regexp.MustCompile(`<span class="label">Started</span> <strong class="total">3</strong> <span class="change muted">(\+|&#43;)3 against the 90 days before</span>`).MatchString(page.body) {
		t.Errorf("the reports page lacks the total of started enrollments and its change")
	}
	if n := len(regexp.MustCompile(`<polyline `).FindAllString(page.body, -1)); n != 4 {
		t.Errorf("%d lines in the chart, want 4", n)
	}
	course := admin.get(fmt.Sprintf("%scourses/%d/", orgPage, courseID))
	if course.status != http.StatusOK || !strings.Contains(course.body, `<title id="funnel-title">Learners at each step of Alpha</title>`) ||
		!strings.Contains(course.body, `received “Welcome”`) {
		t.Errorf("course report page: %d\n%s", course.status, course.body)
	}
	if other := admin.get(fmt.Sprintf("/email-learning/platform/organizations/1/reports/courses/%d/", courseID)); other.status != http.StatusNotFound {
		t.Errorf("the course report through another organization: %d", other.status)
	}
	email := admin.get(orgPage + "email/")
	if email.status != http.StatusOK || !strings.Contains(email.body, `<title id="emails-title">Emails per day, last 30 days</title>`) {
		t.Errorf("email report page: %d\n%s", email.status, email.body)
	}
}
