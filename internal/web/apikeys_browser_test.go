package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserAPIKey: an admin creates an editor key on the API keys page
// and copies it from there; a script with nothing but that key builds a
// course, enrolls a learner and reads the enrollment; once the admin
// revokes the key in the browser, the script's next call answers 401.
func TestBrowserAPIKey(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	res, org := app.loggedIn(adminEmail, adminPassword).api(http.MethodPost, "/api/v1/organizations", map[string]any{"name": "Acme Academy"})
	if res.status != http.StatusCreated {
		t.Fatalf("create the organization: %d %s", res.status, res.body)
	}
	orgID := idOf(org)

	admin := newBrowserTab(t, app, "keys")
	admin.follow("open the organization", http.StatusOK, chromedp.Navigate(app.srv.URL+organizationPath(orgID)))
	admin.do("fill the login form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
	)
	admin.follow("log in", http.StatusOK, admin.submit())
	admin.follow("open the API keys section", http.StatusOK, chromedp.Click(linkBy("API keys")))
	admin.do("fill the key form",
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "HR system"),
		chromedp.SetValue(chromedp.ID("role"), "editor"),
	)
	// The key is shown in the answer to the form, never stored: 201, not
	// a redirect.
	admin.follow("create the key", http.StatusCreated, admin.submit())
	shown := admin.eval(`document.getElementById("new-key")?.value ?? ""`)
	if !strings.HasPrefix(shown, "msk_") {
		t.Fatalf("the page shows no key to copy:\n%s", admin.text("main"))
	}
	// The admin copies it with the Copy button; the script gets what the
	// clipboard holds.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(admin.ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: app.srv.URL,
		}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	admin.do("copy the key", chromedp.Click(chromedp.CSS(`button[data-copy="new-key"]`)))
	key, err := chromedp.Run(admin.ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil || key != shown {
		t.Fatalf("the clipboard holds %q (%v), want the key shown", key, err)
	}
	admin.screenshot("1-created")
	if got := admin.text(`button[data-copy="new-key"]`); got != "Copied" {
		t.Errorf("after copying, the button reads %q", got)
	}
	if got := admin.text("table.api-keys tbody tr td:nth-child(2)"); got != "editor" {
		t.Errorf("the listed key's role is %q, want editor", got)
	}

	base := app.srv.URL
	api := fmt.Sprintf("/api/v1/organizations/%d", orgID)
	status, _, course := keyCall(t, base, key, "POST", api+"/courses", map[string]any{"title": "Onboarding"})
	if status != http.StatusCreated {
		t.Fatalf("create a course with the key: %d %v", status, course)
	}
	coursePath := fmt.Sprintf("%s/courses/%d", api, idOf(course))
	status, _, lesson := keyCall(t, base, key, "POST", coursePath+"/contents",
		map[string]any{"kind": "lesson", "title": "Welcome", "body": "Hello.", "published": true})
	if status != http.StatusCreated {
		t.Fatalf("add a lesson with the key: %d %v", status, lesson)
	}
	if status, _, body := keyCall(t, base, key, "PATCH", coursePath, map[string]any{"enabled": true}); status != http.StatusOK {
		t.Fatalf("enable the course with the key: %d %v", status, body)
	}
	status, _, enrollment := keyCall(t, base, key, "POST", api+"/enrollments",
		map[string]any{"email": "new.hire@example.com", "course_id": idOf(course)})
	if status != http.StatusCreated {
		t.Fatalf("enroll a learner with the key: %d %v", status, enrollment)
	}
	status, _, list := keyCall(t, base, key, "GET", fmt.Sprintf("%s/enrollments?course_id=%d", api, idOf(course)), nil)
	items, _ := list["items"].([]any)
	if status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["learner_email"] != "new.hire@example.com" {
		t.Fatalf("read the enrollment with the key: %d %v", status, list)
	}

	admin.follow("open the keys again", http.StatusOK, chromedp.Navigate(app.srv.URL+organizationPath(orgID)+"api-keys/"))
	if got := admin.text("table.api-keys tbody tr td:nth-child(4)"); !strings.Contains(got, "127.0.0.1") {
		t.Errorf("the key's last use reads %q, want the script's address", got)
	}
	admin.follow("open the revoke page", http.StatusOK, chromedp.Click(linkBy("Revoke…")))
	admin.screenshot("2-revoke")
	admin.follow("revoke the key", http.StatusOK, admin.submit())
	admin.screenshot("3-revoked")
	if n := admin.count("table.api-keys tbody tr"); n != 0 {
		t.Errorf("after revoking, the page lists %d keys", n)
	}
	status, _, body := keyCall(t, base, key, "GET", api+"/enrollments", nil)
	if status != http.StatusUnauthorized || errorCode(body) != "api_key_revoked" {
		t.Errorf("the revoked key's next call: %d %v, want 401 api_key_revoked", status, body)
	}
}
