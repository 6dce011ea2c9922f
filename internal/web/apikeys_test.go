package web

import (
	"bytes"
	"context"
	"encoding/json"
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

// keyCall is a request of a script: net/http alone, no cookie, the key in
// the Authorization header.
func keyCall(t *testing.T, base, key, method, path string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// A foreign Origin: a key's requests skip the cross-origin check.
	req.Header.Set("Origin", "https://crm.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{"raw": string(b)}
	}
	return res.StatusCode, res.Header, out
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func idOf(body map[string]any) int64 {
	f, _ := body["id"].(float64)
	return int64(f)
}

// TestAPIKeyEndToEnd: an admin creates an editor key; a script with only
// that key creates a course, adds a lesson, enrolls a learner and reads the
// enrollment; the key's use shows in the list; the creator's removal is
// shown on the key and changes nothing; once revoked, the next call is
// refused.
func TestAPIKeyEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		f := newAuthzFixture(t, app)
		o := f.newOrg()
		admin := f.clients[orgAdmin]
		keysPath := fmt.Sprintf("/api/v1/organizations/%d/api-keys", o.id)

		res, created := admin.api(http.MethodPost, keysPath, map[string]any{"name": "HR system", "role": "editor"})
		if res.status != http.StatusCreated {
			t.Fatalf("create key: %d %s", res.status, res.body)
		}
		var fields []string
		for k := range created {
			fields = append(fields, k)
		}
		slices.Sort(fields)
		if want := []string{"created_at", "expires_at", "id", "key", "last_used_at", "name", "role"}; !slices.Equal(fields, want) {
			t.Errorf("created key fields %v, want %v", fields, want)
		}
		key, _ := created["key"].(string)
		if !strings.HasPrefix(key, "msk_") || created["role"] != "editor" || res.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("created key %v, Cache-Control %q", created, res.header.Get("Cache-Control"))
		}

		base := app.srv.URL
		org := fmt.Sprintf("/api/v1/organizations/%d", o.id)
		status, _, course := keyCall(t, base, key, "POST", org+"/courses", map[string]any{"title": "Onboarding"})
		if status != http.StatusCreated {
			t.Fatalf("create course with the key: %d %v", status, course)
		}
		status, _, lesson := keyCall(t, base, key, "POST", fmt.Sprintf("%s/courses/%d/contents", org, idOf(course)),
			map[string]any{"kind": "lesson", "title": "Welcome", "body": "Hello.", "published": true})
		if status != http.StatusCreated {
			t.Fatalf("add lesson with the key: %d %v", status, lesson)
		}
		if status, _, body := keyCall(t, base, key, "PATCH", fmt.Sprintf("%s/courses/%d", org, idOf(course)), map[string]any{"enabled": true}); status != http.StatusOK {
			t.Fatalf("enable the course with the key: %d %v", status, body)
		}
		status, _, enrollment := keyCall(t, base, key, "POST", org+"/enrollments",
			map[string]any{"email": "new.hire@example.com", "course_id": idOf(course)})
		if status != http.StatusCreated {
			t.Fatalf("enroll with the key: %d %v", status, enrollment)
		}
		status, _, list := keyCall(t, base, key, "GET", fmt.Sprintf("%s/enrollments?course_id=%d", org, idOf(course)), nil)
		items, _ := list["items"].([]any)
		if status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["learner_email"] != "new.hire@example.com" {
			t.Fatalf("read the enrollment with the key: %d %v", status, list)
		}
		// Nothing beyond its role, nothing in another organization.
		if status, _, body := keyCall(t, base, key, "PATCH", org, map[string]any{"description": "x"}); status != http.StatusForbidden {
			t.Errorf("an editor key edits the organization: %d %v", status, body)
		}
		if status, _, body := keyCall(t, base, key, "GET", fmt.Sprintf("/api/v1/organizations/%d/courses", f.other), nil); status != http.StatusNotFound {
			t.Errorf("the key reads another organization: %d %v", status, body)
		}
		if status, _, body := keyCall(t, base, key, "GET", "/api/v1/organizations", nil); status != http.StatusOK || len(body["items"].([]any)) != 1 {
			t.Errorf("the key lists organizations: %d %v", status, body)
		}

		res, listed := admin.api(http.MethodGet, keysPath, nil)
		keys, _ := listed["items"].([]any)
		var mine map[string]any
		for _, k := range keys {
			if k := k.(map[string]any); idOf(k) == idOf(created) {
				mine = k
			}
		}
		if res.status != http.StatusOK || mine == nil || mine["key"] != nil || mine["last_used_at"] == nil ||
			mine["last_used_ip"] != "127.0.0.1" || mine["creator_email"] != f.users[orgAdmin].Email || mine["creator_removed"] != false {
			t.Fatalf("listed key %v (%d)", mine, res.status)
		}

		// The owner removes the creator: the key stays as it was, and says so.
		if res, _ := f.clients[owner].api(http.MethodDelete, fmt.Sprintf("%s/members/%d", org, f.users[orgAdmin].ID), nil); res.status != http.StatusNoContent {
			t.Fatalf("remove the creator: %d %s", res.status, res.body)
		}
		_, listed = f.clients[owner].api(http.MethodGet, keysPath, nil)
		for _, k := range listed["items"].([]any) {
			if k := k.(map[string]any); idOf(k) == idOf(created) && k["creator_removed"] != true {
				t.Errorf("the creator's removal is not shown: %v", k)
			}
		}
		if status, _, body := keyCall(t, base, key, "GET", org+"/courses", nil); status != http.StatusOK {
			t.Errorf("the key stopped working when its creator left: %d %v", status, body)
		}
		if status, _, body := keyCall(t, base, key, "PATCH", org, map[string]any{"description": "x"}); status != http.StatusForbidden {
			t.Errorf("after its creator left, the key edits the organization: %d %v", status, body)
		}

		if res, _ := f.clients[owner].api(http.MethodDelete, fmt.Sprintf("%s/%d", keysPath, idOf(created)), nil); res.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", res.status, res.body)
		}
		status, _, body := keyCall(t, base, key, "GET", org+"/enrollments", nil)
		if status != http.StatusUnauthorized || errorCode(body) != "api_key_revoked" {
			t.Errorf("after revocation: %d %v", status, body)
		}
		audit, err := db.Read().AuditLog(context.Background(), o.id, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range audit {
			kinds = append(kinds, e.Action)
		}
		for _, want := range []string{"api_key.created", "api_key.revoked", "api_key.revoked_use"} {
			if !slices.Contains(kinds, want) {
				t.Errorf("audit log %v has no %s", kinds, want)
			}
		}
	})
}

// TestAPIKeyRefusals: each bad key gets 401 with its own code, a key is
// refused on pages, and too many requests get 429 with Retry-After.
func TestAPIKeyRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db, func(o *Options) { o.APIKeyLimit = auth.Limit{Every: time.Hour, Burst: 3} })
		f := newAuthzFixture(t, app)
		o := f.newOrg()
		good := o.keys[viewerKey]
		id, _, _ := auth.ParseAPIKey(good)
		secret, _, _ := auth.NewAPIKeySecret()
		flipped := []byte(good)
		flipped[len(flipped)-1] ^= 1
		path := fmt.Sprintf("/api/v1/organizations/%d/courses", o.id)
		cases := []struct{ name, key, code string }{
			{"malformed", "msk_not-a-key", "invalid_api_key"},
			{"wrong checksum", string(flipped), "invalid_api_key"},
			{"unknown id", auth.FormatAPIKey(id+100000, secret), "invalid_api_key"},
			{"wrong secret", auth.FormatAPIKey(id, secret), "invalid_api_key"},
			{"revoked", o.keys[revokedKey], "api_key_revoked"},
			{"expired", o.keys[expiredKey], "api_key_expired"},
		}
		for _, c := range cases {
			status, _, body := keyCall(t, app.srv.URL, c.key, "GET", path, nil)
			if status != http.StatusUnauthorized || errorCode(body) != c.code {
				t.Errorf("%s key: %d %v, want 401 %s", c.name, status, body, c.code)
			}
		}
		req, _ := http.NewRequest("GET", app.srv.URL+path, nil)
		// Another scheme (a proxy's) is not a key: the session decides.
		req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
			t.Errorf("another scheme on the API: %v %v", res, err)
		}
		pageReq, _ := http.NewRequest("GET", app.srv.URL+"/accounts/login/", nil)
		pageReq.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
		if res, err := http.DefaultClient.Do(pageReq); err != nil || res.StatusCode != http.StatusOK {
			t.Errorf("another scheme on a page: %v %v", res, err)
		}

		page := fmt.Sprintf(organizationsPath+"%d/courses/", o.id)
		if status, _, body := keyCall(t, app.srv.URL, good, "GET", page, nil); status != http.StatusBadRequest ||
			!strings.Contains(fmt.Sprint(body), "/api/v1") {
			t.Errorf("a key on a page: %d %v", status, body)
		}

		for i := range 3 {
			if status, _, body := keyCall(t, app.srv.URL, good, "GET", path, nil); status != http.StatusOK {
				t.Fatalf("request %d: %d %v", i+1, status, body)
			}
		}
		status, header, body := keyCall(t, app.srv.URL, good, "GET", path, nil)
		if status != http.StatusTooManyRequests || header.Get("Retry-After") == "" || errorCode(body) != "rate_limited" {
			t.Errorf("over the limit: %d Retry-After %q %v", status, header.Get("Retry-After"), body)
		}
		// Another key has its own budget.
		if status, _, body := keyCall(t, app.srv.URL, o.keys[editorKey], "GET", path, nil); status != http.StatusOK {
			t.Errorf("another key: %d %v", status, body)
		}
	})
}

// TestAPIKeysPage: admins find the page in the navigation, create a key
// that is shown once, and revoke it after a confirmation; editors see no
// such section.
func TestAPIKeysPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		f := newAuthzFixture(t, app)
		o := f.newOrg()
		page := apiKeysPath(o.id)
		if res := f.clients[orgAdmin].get(organizationPath(o.id)); !strings.Contains(res.body, `href="`+page+`"`) {
			t.Error("the admin's navigation has no API keys section")
		}
		if res := f.clients[editor].get(organizationPath(o.id)); strings.Contains(res.body, page) {
			t.Error("an editor's navigation offers the API keys")
		}
		res := f.clients[orgAdmin].post(page, map[string][]string{"name": {"Payroll"}, "role": {"editor"}, "expires": {"2099-12-31"}})
		if res.status != http.StatusCreated || !strings.Contains(res.body, "will not be shown again") {
			t.Fatalf("create: %d\n%s", res.status, excerpt(res.body, 400))
		}
		start := strings.Index(res.body, `value="msk_`)
		if start < 0 {
			t.Fatal("the new key is not on the page")
		}
		key := res.body[start+len(`value="`):]
		key = key[:strings.IndexByte(key, '"')]
		if status, _, body := keyCall(t, app.srv.URL, key, "GET", fmt.Sprintf("/api/v1/organizations/%d/courses", o.id), nil); status != http.StatusOK {
			t.Fatalf("the key from the page: %d %v", status, body)
		}
		if again := f.clients[orgAdmin].get(page); strings.Contains(again.body, key) || !strings.Contains(again.body, "Payroll") {
			t.Error("the key is shown again, or not listed")
		}
		if res := f.clients[orgAdmin].post(page, map[string][]string{"name": {"Too much"}, "role": {"owner"}}); res.status != http.StatusUnprocessableEntity {
			t.Errorf("an owner key: %d", res.status)
		}
		id, _, _ := auth.ParseAPIKey(key)
		revoke := fmt.Sprintf("%s%d/revoke", page, id)
		if res := f.clients[orgAdmin].get(revoke); res.status != http.StatusOK || !strings.Contains(res.body, "Revoke the key") {
			t.Fatalf("confirmation: %d", res.status)
		}
		if res := f.clients[orgAdmin].post(revoke, nil); res.status != http.StatusSeeOther {
			t.Fatalf("revoke: %d", res.status)
		}
		if status, _, body := keyCall(t, app.srv.URL, key, "GET", fmt.Sprintf("/api/v1/organizations/%d/courses", o.id), nil); status != http.StatusUnauthorized || errorCode(body) != "api_key_revoked" {
			t.Errorf("the revoked key: %d %v", status, body)
		}
	})
}
