package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
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

// TestReportSeriesFromCounters reads the reports API over three days of
// counters set by hand: each day's enrollments and emails (every kind
// together, bounces apart from complaints), the totals against the three
// days before, and the emails by kind; counters outside both ranges, and
// metrics the series does not show, count for nothing.
func TestReportSeriesFromCounters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		day := func(d string) time.Time {
			at, err := time.Parse(time.DateOnly, d)
			if err != nil {
				t.Fatal(err)
			}
			return at.Add(13 * time.Hour)
		}
		counters := []struct {
			day, metric string
			n           int
		}{
			{"2026-03-06", "started", 100}, // before the range before
			{"2026-03-08", "started", 2}, {"2026-03-08", "completed", 1}, {"2026-03-08", "mail_sent:lesson", 50},
			{"2026-03-10", "started", 3}, {"2026-03-10", "confirmed", 2}, {"2026-03-10", "mail_sent:lesson", 4},
			{"2026-03-10", "mail_sent:quiz", 1}, {"2026-03-10", "mail_failed:lesson", 1},
			{"2026-03-10", "bounce:hard", 2}, {"2026-03-10", "bounce:soft", 1}, {"2026-03-10", "bounce:complaint", 1},
			{"2026-03-12", "unsubscribed", 1}, {"2026-03-12", "mail_retried:quiz", 2}, {"2026-03-12", "cancelled", 5},
			{"2026-03-13", "started", 7}, // after the range
		}
		err := db.InTx(ctx, func(q *store.Queries) error {
			for _, c := range counters {
				if err := q.CountDaily(ctx, 1, day(c.day), c.metric, c.n); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		admin := app.loggedIn(adminEmail, adminPassword)
		res, _ := admin.api(http.MethodGet, "/api/v1/organizations/1/reports?from=2026-03-10&to=2026-03-12", nil)
		var got struct {
			Series activityJSON `json:"series"`
		}
		if err := json.Unmarshal([]byte(res.body), &got); err != nil || res.status != http.StatusOK {
			t.Fatalf("reports: %d %v\n%s", res.status, err, res.body)
		}
		counts := func(started, confirmed, completed, unsubscribed int) activityCountsJSON {
			return activityCountsJSON{Started: started, Confirmed: confirmed, Completed: completed, Unsubscribed: unsubscribed}
		}
		want := activityJSON{From: "2026-03-10", To: "2026-03-12",
			Days:   []activityDayJSON{{"2026-03-10", counts(3, 2, 0, 0)}, {"2026-03-11", counts(0, 0, 0, 0)}, {"2026-03-12", counts(0, 0, 0, 1)}},
			Totals: counts(3, 2, 0, 1), PreviousTotals: counts(2, 0, 1, 0),
			Emails: []emailDayJSON{{Day: "2026-03-10", Sent: 5, Failed: 1, Bounced: 3, Complaints: 1}, {Day: "2026-03-11"},
				{Day: "2026-03-12", Retried: 2}},
			EmailsByKind: []emailKindJSON{{Kind: "lesson", Sent: 4, Failed: 1}, {Kind: "quiz", Sent: 1, Retried: 2}},
		}
		if !reflect.DeepEqual(got.Series, want) {
			t.Errorf("the series\n%+v\nwant\n%+v", got.Series, want)
		}
	})
}
