package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/csvout"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// jsonCell writes a number of a decoded JSON answer as the CSV files
// write it; null is an empty cell.
func jsonCell(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func TestExportReports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		sc := newSchool(t, app)
		ctx := t.Context()
		first := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		third := first.AddDate(0, 0, 2)
		err := db.InTx(ctx, func(q *store.Queries) error {
			lesson, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID, Kind: "lesson", Title: "=Intro", Published: true})
			if err != nil {
				return err
			}
			quiz, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID, Kind: "quiz", Title: "Check", Published: true, RequiredScore: 60})
			if err != nil {
				return err
			}
			if _, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID, Kind: "quiz", Title: "Last", Published: true, RequiredScore: 60}); err != nil {
				return err
			}
			for _, c := range []struct {
				at     time.Time
				metric string
				n      int
			}{
				{first, learning.MetricStarted, 3}, {first, learning.MetricConfirmed, 2},
				{third, string(store.EnrollmentCompleted), 1}, {third, string(store.EnrollmentUnsubscribed), 1},
				{first, store.MailMetricSent + "lesson", 4}, {third, store.MailMetricSent + "quiz", 2},
				{third, store.MailMetricFailed + "lesson", 1}, {third, store.MailMetricRetried + "confirmation", 2},
			} {
				if err := q.CountDaily(ctx, sc.orgID, c.at, c.metric, c.n); err != nil {
					return err
				}
			}
			for _, c := range []struct {
				item   int64
				metric string
				n      int
			}{
				{lesson, learning.ItemReceived, 3}, {lesson, learning.ItemUnsubscribed, 1},
				{quiz, learning.ItemReceived, 2}, {quiz, learning.ItemAnswered, 2}, {quiz, learning.ItemAttempts, 3},
				{quiz, learning.ItemPassed, 2}, {quiz, learning.ItemFailed, 1},
			} {
				if err := q.CountItem(ctx, sc.orgID, sc.courseID, c.item, c.metric, c.n); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		viewer := sc.member("viewer@example.com", access.Viewer)
		base := fmt.Sprintf("/api/v1/organizations/%d", sc.orgID)

		// The organization's series: the JSON API's numbers, day by day.
		const rng = "from=2026-02-28&to=2026-03-03"
		res, body := viewer.api(http.MethodGet, base+"/reports?"+rng, nil)
		if res.status != http.StatusOK {
			t.Fatalf("reports: %d %s", res.status, res.body)
		}
		series := body["series"].(map[string]any)
		emails := series["emails"].([]any)
		want := [][]string{reportExportHeader}
		for i, d := range series["days"].([]any) {
			day, mail := d.(map[string]any), emails[i].(map[string]any)
			want = append(want, []string{day["day"].(string), jsonCell(day["started"]), jsonCell(day["confirmed"]),
				jsonCell(day["completed"]), jsonCell(day["unsubscribed"]), jsonCell(mail["sent"]), jsonCell(mail["failed"]), jsonCell(mail["retried"])})
		}
		rows := readCSV(t, viewer.get(base+"/exports/report.csv?"+rng), "report")
		if !slices.EqualFunc(rows, want, slices.Equal) {
			t.Errorf("rows\n%q\nwant the API's\n%q", rows, want)
		}
		if !slices.Equal(rows[0], []string{"day", "started", "confirmed", "completed", "unsubscribed", "sent", "failed", "retried"}) || len(rows) != 5 ||
			!slices.Equal(rows[2], []string{"2026-03-01", "3", "2", "0", "0", "4", "0", "0"}) ||
			!slices.Equal(rows[4], []string{"2026-03-03", "0", "0", "1", "1", "2", "1", "2"}) ||
			!slices.Equal(rows[3], []string{"2026-03-02", "0", "0", "0", "0", "0", "0", "0"}) {
			t.Errorf("rows %q", rows)
		}
		// By default the last 30 days, as the API.
		if rows := readCSV(t, viewer.get(base+"/exports/report.csv"), "report"); len(rows) != 31 || rows[30][0] != time.Now().UTC().Format(time.DateOnly) {
			t.Errorf("the default range: %d rows, the last %q", len(rows), rows[len(rows)-1])
		}
		for query, field := range map[string]string{
			"from=2026-13-01":               "from",
			"to=yesterday":                  "to",
			"from=2025-01-01&to=2026-01-02": "to",
			"from=2026-02-01&to=2026-01-31": "to",
		} {
			res, body := viewer.api(http.MethodGet, base+"/exports/report.csv?"+query, nil)
			fields, _ := body["error"].(map[string]any)["fields"].(map[string]any)
			if res.status != http.StatusBadRequest || fields[field] == nil || res.header.Get("Content-Disposition") != "" {
				t.Errorf("?%s: %d %s, want 400 naming %s", query, res.status, res.body, field)
			}
		}

		// The course's items: the JSON API's numbers, item by item.
		res, body = viewer.api(http.MethodGet, fmt.Sprintf("%s/courses/%d/report", base, sc.courseID), nil)
		if res.status != http.StatusOK {
			t.Fatalf("course report: %d %s", res.status, res.body)
		}
		want = [][]string{courseReportExportHeader}
		for _, it := range body["items"].([]any) {
			item := it.(map[string]any)
			attempts, rate := "", ""
			if quiz, ok := item["quiz"].(map[string]any); ok {
				attempts, rate = jsonCell(quiz["attempts"]), jsonCell(quiz["pass_rate"])
			}
			want = append(want, []string{jsonCell(item["position"]), csvout.Escape(item["title"].(string)), item["kind"].(string),
				jsonCell(item["received"]), jsonCell(item["answered"]), jsonCell(item["passed"]), jsonCell(item["failed"]),
				jsonCell(item["unsubscribed"]), attempts, rate})
		}
		rows = readCSV(t, viewer.get(fmt.Sprintf("%s/courses/%d/report.csv", base, sc.courseID)), "go-basics-report")
		if !slices.EqualFunc(rows, want, slices.Equal) {
			t.Errorf("rows\n%q\nwant the API's\n%q", rows, want)
		}
		if len(rows) != 4 || !slices.Equal(rows[0], []string{"position", "title", "kind", "received", "answered", "passed", "failed", "unsubscribed", "attempts", "pass_rate"}) ||
			!slices.Equal(rows[1][1:], []string{"'=Intro", "lesson", "3", "0", "0", "0", "1", "", ""}) ||
			!slices.Equal(rows[2][1:], []string{"Check", "quiz", "2", "2", "2", "1", "0", "3", "0.6666666666666667"}) ||
			!slices.Equal(rows[3][1:], []string{"Last", "quiz", "0", "0", "0", "0", "0", "0", ""}) {
			t.Errorf("rows %q", rows)
		}

		// Another organization's admin: not found, and so is the course
		// through their own organization.
		other, _ := storetest.NewOrganization(t, db, "Third")
		outsider := school{app: app, orgID: other}.member("third@example.com", access.Admin)
		// A range that is not one says nothing either: the permission
		// comes first.
		for _, path := range []string{base + "/exports/report.csv?" + rng, base + "/exports/report.csv?from=2026-13-01",
			fmt.Sprintf("%s/courses/%d/report.csv", base, sc.courseID),
			fmt.Sprintf("/api/v1/organizations/%d/courses/%d/report.csv", other, sc.courseID)} {
			if res := outsider.get(path); res.status != http.StatusNotFound || !strings.Contains(res.header.Get("Content-Type"), "application/json") {
				t.Errorf("%s as another organization's admin: %d %s", path, res.status, res.body)
			}
		}

		// The pages link to the files, the Reports page with its range.
		pages := organizationPath(sc.orgID) + "reports/"
		r := learning.LastDays(90, time.Now())
		link := fmt.Sprintf(`<a href="%s/exports/report.csv?from=%s&to=%s" download>Download CSV</a>`, base, store.ReportDay(r.From), store.ReportDay(r.To))
		if page := viewer.get(pages + "?days=90"); page.status != http.StatusOK || !strings.Contains(page.body, link) {
			t.Errorf("the reports page lacks %s", link)
		}
		link = fmt.Sprintf(`<a href="%s/courses/%d/report.csv" download>Download CSV</a>`, base, sc.courseID)
		if page := viewer.get(fmt.Sprintf("%scourses/%d/", pages, sc.courseID)); page.status != http.StatusOK || !strings.Contains(page.body, link) {
			t.Errorf("the course report lacks %s", link)
		}
	})
}
