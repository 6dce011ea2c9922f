package web

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// items returns a list answer's items.
func items(t *testing.T, res response, list map[string]any) []map[string]any {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("list: %d %s", res.status, res.body)
	}
	raw, ok := list["items"].([]any)
	if !ok {
		t.Fatalf("list without items: %s", res.body)
	}
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i] = it.(map[string]any)
	}
	return out
}

// list returns the items of a list the API answers at path.
func (c *client) list(path string) []map[string]any {
	c.t.Helper()
	res, list := c.api(http.MethodGet, path, nil)
	return items(c.t.(*testing.T), res, list)
}

// TestOrganizationCountsAPI: the organization's numbers in the API are
// those of its page, and agree with its lists; pending invitations only
// for those who manage members.
func TestOrganizationCountsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		f := newAuthzFixture(t, app)
		o := f.newOrg()
		base := fmt.Sprintf("/api/v1/organizations/%d", o.id)
		admin, viewerC := f.clients[orgAdmin], f.clients[viewer]

		res, got := admin.api(http.MethodGet, base, nil)
		if res.status != http.StatusOK {
			t.Fatalf("get: %d %s", res.status, res.body)
		}
		for _, field := range []string{"id", "name", "slug", "description", "logo_url", "public_url", "created_at", "updated_at", "sender_name", "reply_to", "postal_address"} {
			if _, ok := got[field]; !ok {
				t.Errorf("the organization lost its field %q: %s", field, res.body)
			}
		}
		counts, _ := got["counts"].(map[string]any)
		members := len(admin.list(base + "/members"))
		courses := len(admin.list(base + "/courses"))
		learners := len(admin.list(base + "/learners"))
		pending := 0
		for _, inv := range admin.list(base + "/invitations") {
			if inv["status"] == "pending" {
				pending++
			}
		}
		byStatus := map[string]any{}
		for _, st := range learning.EnrollmentStatuses {
			byStatus[st] = float64(0)
		}
		for _, e := range admin.list(base + "/enrollments") {
			byStatus[e["status"].(string)] = byStatus[e["status"].(string)].(float64) + 1
		}
		want := map[string]any{"members": float64(members), "pending_invitations": float64(pending), "courses": float64(courses),
			"learners": float64(learners), "enrollments": byStatus}
		if members == 0 || courses == 0 || learners == 0 || pending == 0 || fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Errorf("counts %v, want %v", counts, want)
		}

		// A viewer sees no invitations on the page, nor their number.
		res, got = viewerC.api(http.MethodGet, base, nil)
		if vc, _ := got["counts"].(map[string]any); res.status != http.StatusOK || vc["pending_invitations"] != nil ||
			vc["members"] != float64(members) {
			t.Errorf("the viewer's counts: %d %s", res.status, res.body)
		}
		page := viewerC.get(organizationPath(o.id))
		for _, frag := range []string{
			fmt.Sprintf("<dt>Users</dt><dd>%d</dd>", members), fmt.Sprintf("<dt>Courses</dt><dd>%d</dd>", courses),
			fmt.Sprintf("<dt>Learners</dt><dd>%d</dd>", learners),
			fmt.Sprintf("<dt>Active enrollments</dt><dd>%v</dd>", byStatus["active"]),
		} {
			if !strings.Contains(page.body, frag) {
				t.Errorf("the page lacks %q", frag)
			}
		}
		if strings.Contains(page.body, "Pending invitations") {
			t.Error("the viewer's page counts invitations")
		}
		if page := admin.get(organizationPath(o.id)); !strings.Contains(page.body, fmt.Sprintf("<dt>Pending invitations</dt><dd>%d</dd>", pending)) {
			t.Error("the admin's page does not count the pending invitations")
		}
		// Lists and writes answer as before, without counts.
		if _, list := admin.api(http.MethodGet, "/api/v1/organizations", nil); strings.Contains(fmt.Sprint(list), "counts") {
			t.Errorf("the list gives counts: %v", list)
		}
		if res, _ := f.clients[otherAdmin].api(http.MethodGet, base, nil); res.status != http.StatusNotFound {
			t.Errorf("another organization's admin: %d", res.status)
		}
	})
}

// auditFixture is an organization with a log written by two people, and
// the time between the first three entries and the last three.
type auditFixture struct {
	app          *testApp
	admin, other *client
	base         string // the organization's API path
	id           int64
	middle       time.Time
}

const secondAdmin = "second@example.com"

func newAuditFixture(t *testing.T, db *store.DB) *auditFixture {
	t.Helper()
	app := newTestApp(t, db)
	if _, _, err := auth.NewAccounts(db, nil).CreateSuperuser(context.Background(), secondAdmin, adminPassword, ""); err != nil {
		t.Fatal(err)
	}
	a := &auditFixture{app: app, admin: app.loggedIn(adminEmail, adminPassword), other: app.loggedIn(secondAdmin, adminPassword)}
	res, org := a.admin.api(http.MethodPost, "/api/v1/organizations", map[string]string{"name": "Acme"}) // organization.created
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	a.id = idOf(org)
	a.base = fmt.Sprintf("/api/v1/organizations/%d", a.id)
	a.must(t, a.admin, http.MethodPatch, "", map[string]string{"description": "One"})                              // organization.updated
	a.must(t, a.admin, http.MethodPost, "/members", map[string]string{"email": "a@example.com", "role": "viewer"}) // invitation.created
	time.Sleep(20 * time.Millisecond)
	a.middle = time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	a.must(t, a.other, http.MethodPatch, "", map[string]string{"description": "Two"})
	a.must(t, a.other, http.MethodPost, "/members", map[string]string{"email": "b@example.com", "role": "viewer"})
	a.must(t, a.admin, http.MethodPost, "/members", map[string]string{"email": "c@example.com", "role": "viewer"})
	return a
}

func (a *auditFixture) must(t *testing.T, c *client, method, suffix string, body any) {
	t.Helper()
	if res, _ := c.api(method, a.base+suffix, body); res.status >= 300 {
		t.Fatalf("%s %s: %d %s", method, suffix, res.status, res.body)
	}
}

// log reads one page of the audit log with this query, as "kind by actor
// (target)" lines, and its next cursor.
func (a *auditFixture) log(t *testing.T, query string) ([]string, string) {
	t.Helper()
	res, list := a.admin.api(http.MethodGet, a.base+"/audit-log?"+query, nil)
	var lines []string
	for _, e := range items(t, res, list) {
		lines = append(lines, fmt.Sprintf("%s by %s (%s)", e["kind"], e["actor_email"], e["target"]))
	}
	next, _ := list["next_cursor"].(string)
	return lines, next
}

// TestAuditLogAPIFilters selects entries by kind (repeated and
// comma-separated), actor and time, alone and together.
func TestAuditLogAPIFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newAuditFixture(t, db)
		all, next := a.log(t, "")
		want := []string{
			"invitation.created by admin@example.com (c@example.com)",
			"invitation.created by second@example.com (b@example.com)",
			"organization.updated by second@example.com (settings)",
			"invitation.created by admin@example.com (a@example.com)",
			"organization.updated by admin@example.com (settings)",
			"member.added by admin@example.com (admin@example.com)",
			"organization.created by admin@example.com (Acme)",
		}
		if !slices.Equal(all, want) || next != "" {
			t.Fatalf("the whole log: %q (next %q), want %q", all, next, want)
		}
		res, list := a.admin.api(http.MethodGet, a.base+"/audit-log?kind=organization.updated&limit=1", nil)
		entry := items(t, res, list)[0]
		var fields []string
		for k := range entry {
			fields = append(fields, k)
		}
		slices.Sort(fields)
		if want := []string{"actor_email", "actor_id", "changes", "created_at", "id", "kind", "target", "target_user_id"}; !slices.Equal(fields, want) {
			t.Errorf("entry fields %v, want %v", fields, want)
		}
		if got := fmt.Sprint(entry["changes"]); got != "[map[field:description new:Two old:One]]" {
			t.Errorf("changes %s", got)
		}

		middle := url.QueryEscape(a.middle.Format(time.RFC3339Nano))
		day := a.middle.Format(time.DateOnly)
		dayBefore := a.middle.AddDate(0, 0, -1).Format(time.DateOnly)
		for _, tc := range []struct {
			query string
			want  []int // indexes in the whole log
		}{
			{"kind=invitation.created", []int{0, 1, 3}},
			{"kind=organization.updated,organization.created", []int{2, 4, 6}},
			{"kind=organization.updated&kind=invitation.created", []int{0, 1, 2, 3, 4}},
			{"kind=%20member.removed%20,,organization.created", []int{6}},
			{"actor=second@example.com", []int{1, 2}},
			{"actor=SECOND@example.com", []int{1, 2}},
			{"actor=nobody@example.com", nil},
			{"kind=invitation.created&actor=admin@example.com", []int{0, 3}},
			{"from=" + middle, []int{0, 1, 2}},
			{"to=" + middle, []int{3, 4, 5, 6}},
			{"from=" + middle + "&kind=invitation.created&actor=admin@example.com", []int{0}},
			{"from=" + day + "&to=" + day, []int{0, 1, 2, 3, 4, 5, 6}},
			{"to=" + dayBefore, nil},
		} {
			got, _ := a.log(t, tc.query)
			var wantLines []string
			for _, i := range tc.want {
				wantLines = append(wantLines, all[i])
			}
			if !slices.Equal(got, wantLines) {
				t.Errorf("%s: %q, want %q", tc.query, got, wantLines)
			}
		}
	})
}

// TestAuditLogAPIRefusals: a filter, limit or cursor the API cannot read
// is 400 with a plain message; another organization's log is 404.
func TestAuditLogAPIRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newAuditFixture(t, db)
		f := newAuthzFixture(t, a.app)
		otherCursor := base64.RawURLEncoding.EncodeToString([]byte("members:5"))
		for _, tc := range []struct{ query, code, message string }{
			{"kind=member.exploded", "unknown_kind", `There is no event kind "member.exploded".`},
			{"kind=invitation.created,Member.Added", "unknown_kind", `There is no event kind "Member.Added".`},
			{"from=2026-13-01", "invalid_time", ""},
			{"to=yesterday", "invalid_time", ""},
			{"from=2026-03-02&to=2026-03-01", "invalid_time_range", ""},
			{"from=2026-03-01T10:00:00Z&to=2026-03-01T10:00:00Z", "invalid_time_range", ""},
			{"limit=0", "invalid_limit", "The limit is a whole number from 1 to 200."},
			{"limit=201", "invalid_limit", ""},
			{"limit=ten", "invalid_limit", ""},
			{"cursor=2", "invalid_cursor", ""},
			{"cursor=%21%21", "invalid_cursor", ""},
			{"cursor=" + otherCursor, "invalid_cursor", ""},
		} {
			res, body := a.admin.api(http.MethodGet, a.base+"/audit-log?"+tc.query, nil)
			e, _ := body["error"].(map[string]any)
			if res.status != http.StatusBadRequest || errorCode(body) != tc.code || tc.message != "" && e["message"] != tc.message {
				t.Errorf("%s: %d %s, want 400 %s %s", tc.query, res.status, res.body, tc.code, tc.message)
			}
		}
		for _, path := range []string{a.base + "/audit-log", a.base + "/reports", "/api/v1/organizations/999999/audit-log"} {
			if res, body := f.clients[otherAdmin].api(http.MethodGet, path, nil); res.status != http.StatusNotFound {
				t.Errorf("%s by another organization's admin: %d %v", path, res.status, body)
			}
		}
		// A refused filter of someone who may not read the log says no
		// more than that.
		if res, _ := f.clients[otherAdmin].api(http.MethodGet, a.base+"/audit-log?kind=nope", nil); res.status != http.StatusNotFound {
			t.Errorf("a bad filter on another organization's log: %d", res.status)
		}
	})
}

// TestAuditLogAPIPages pages through the log, whole and filtered, while
// entries are added between the pages: every entry that was there at the
// start comes once, in order, and none added later.
func TestAuditLogAPIPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newAuditFixture(t, db)
		for i := range 5 {
			a.must(t, a.admin, http.MethodPatch, "", map[string]string{"description": fmt.Sprint("Before ", i)})
		}
		for _, filter := range []string{"", "kind=organization.updated&actor=admin@example.com&"} {
			ids := func(query string) ([]float64, string) {
				res, list := a.admin.api(http.MethodGet, a.base+"/audit-log?"+query, nil)
				var out []float64
				for _, e := range items(t, res, list) {
					out = append(out, e["id"].(float64))
				}
				next, _ := list["next_cursor"].(string)
				return out, next
			}
			atStart, _ := ids(filter + "limit=200")
			var paged []float64
			cursor, pages := "", 0
			for {
				page, next := ids(filter + "limit=2&cursor=" + url.QueryEscape(cursor))
				paged = append(paged, page...)
				pages++
				a.must(t, a.admin, http.MethodPatch, "", map[string]string{"description": fmt.Sprint("During ", pages)})
				if next == "" {
					break
				}
				cursor = next
			}
			if len(atStart) < 5 || !slices.Equal(paged, atStart) || pages != (len(atStart)+1)/2 {
				t.Errorf("%q: %d pages of %v, want the entries at the start %v", filter, pages, paged, atStart)
			}
		}
	})
}

// TestAuditLogPageFilters: the audit page filters as the API does, keeps
// its filters in the link to older entries, and shows a filter it cannot
// read beside its field.
func TestAuditLogPageFilters(t *testing.T) {
	a := newAuditFixture(t, storetest.NewSQLite(t))
	for i := range 50 {
		a.must(t, a.admin, http.MethodPatch, "", map[string]string{"description": fmt.Sprint("Edit ", i)})
	}
	page := fmt.Sprintf("%s%d/audit/", organizationsPath, a.id)
	res := a.admin.get(page + "?kind=organization.updated&actor=admin%40example.com")
	if res.status != http.StatusOK || strings.Count(res.body, `<td class="action">Settings changed</td>`) != 50 ||
		!strings.Contains(res.body, `<option value="organization.updated" selected>Settings changed</option>`) ||
		!strings.Contains(res.body, `value="admin@example.com"`) {
		t.Fatalf("first page: %d\n%s", res.status, res.body)
	}
	m := regexp.MustCompile(`<a href="(\?[^"]+)">Older entries</a>`).FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("no link to older entries:\n%s", res.body)
	}
	older := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.Contains(older, "kind=organization.updated") || !strings.Contains(older, "actor=admin%40example.com") {
		t.Errorf("the older entries' link drops the filters: %s", older)
	}
	// Of 51 settings changes by admin, the second page has the last: the
	// first description, and not the second admin's.
	res = a.admin.get(page + older)
	if strings.Count(res.body, `<td class="action">Settings changed</td>`) != 1 || !strings.Contains(res.body, "Description: — → One") ||
		strings.Contains(res.body, "Older entries") {
		t.Errorf("second page:\n%s", res.body)
	}
	res = a.admin.get(page + "?kind=member.removed")
	if res.status != http.StatusOK || !strings.Contains(res.body, "No entry matches these filters.") {
		t.Errorf("no match: %d\n%s", res.status, res.body)
	}
	res = a.admin.get(page + "?from=someday&actor=x%40example.com")
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, `id="from-error"`) ||
		!strings.Contains(res.body, "neither a date") || !strings.Contains(res.body, `value="x@example.com"`) {
		t.Errorf("a bad date: %d\n%s", res.status, res.body)
	}
}

// TestReportsAPI gives the reports page's numbers: enrollments of each
// course by status, and of all courses, with the completion rate.
func TestReportsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		res, org := admin.api(http.MethodPost, "/api/v1/organizations", map[string]string{"name": "Acme"})
		if res.status != http.StatusCreated {
			t.Fatalf("create: %d %s", res.status, res.body)
		}
		base := fmt.Sprintf("/api/v1/organizations/%d", idOf(org))
		if _, course := admin.api(http.MethodPost, base+"/courses", map[string]any{"title": "Beta"}); idOf(course) == 0 {
			t.Fatalf("course: %v", course)
		}
		_, course := admin.api(http.MethodPost, base+"/courses", map[string]any{"title": "Alpha"})
		// A second lesson a day later keeps the enrollments active.
		for _, lesson := range []map[string]any{
			{"kind": "lesson", "title": "Welcome", "body": "Hello.", "published": true},
			{"kind": "lesson", "title": "Later", "body": "Again.", "published": true, "waiting_period_seconds": 86400},
		} {
			if res, _ := admin.api(http.MethodPost, fmt.Sprintf("%s/courses/%d/contents", base, idOf(course)), lesson); res.status != http.StatusCreated {
				t.Fatalf("lesson: %d %s", res.status, res.body)
			}
		}
		if res, _ := admin.api(http.MethodPatch, fmt.Sprintf("%s/courses/%d", base, idOf(course)), map[string]any{"enabled": true}); res.status != http.StatusOK {
			t.Fatalf("enable: %d %s", res.status, res.body)
		}
		var last int64
		for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			res, e := admin.api(http.MethodPost, base+"/enrollments", map[string]any{"email": email, "course_id": idOf(course)})
			if res.status != http.StatusCreated {
				t.Fatalf("enroll: %d %s", res.status, res.body)
			}
			last = idOf(e)
		}
		if res, _ := admin.api(http.MethodPost, fmt.Sprintf("%s/enrollments/%d/cancel", base, last), nil); res.status != http.StatusOK {
			t.Fatalf("cancel: %d %s", res.status, res.body)
		}
		res, _ = admin.api(http.MethodGet, base+"/reports", nil)
		zero := `"unverified":0,"active":0,"completed":0,"failed":0,"cancelled":0,"unsubscribed":0`
		alpha := `"enrollments":{"active":2,"cancelled":1,"completed":0,"failed":0,"unsubscribed":0,"unverified":0},"total":3,"confirmed":3,"completion_rate":0`
		want := `{"courses":[` +
			fmt.Sprintf(`{"course_id":%d,"title":"Alpha","enabled":true,%s},`, idOf(course), alpha) +
			fmt.Sprintf(`{"course_id":%d,"title":"Beta","enabled":false,"enrollments":{%s},"total":0,"confirmed":0,"completion_rate":null}],`, idOf(course)-1, sortedStatuses(zero)) +
			`"totals":{` + alpha + `},"series":{`
		if res.status != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(res.body), want) {
			t.Errorf("reports: %d\n%s\nwant it to start with\n%s", res.status, res.body, want)
		}
		testReportSeries(t, admin, base, idOf(course))
	})
}

// sortedStatuses is a JSON object's members with zeros, in the order
// encoding/json writes a map's keys.
func sortedStatuses(members string) string {
	list := strings.Split(members, ",")
	slices.Sort(list)
	return strings.Join(list, ",")
}
