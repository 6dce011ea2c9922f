package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserShellFitsPhones opens the pages of an organization with a
// name of 195 characters, a long unbroken word in it and in its
// description, on a phone's screen and a wide one: no page may scroll
// sideways, and the organization's full name stays in a title.
func TestBrowserShellFitsPhones(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	long := "Acme Academy of Continuing Professional Education " + strings.Repeat("Supercalifragilistic", 4) + " "
	long += strings.Repeat("and Training ", 20)
	long = strings.TrimSpace(long[:195])
	var orgID int64
	err := db.InTx(t.Context(), func(q *store.Queries) error {
		org, err := q.CreateOrganization(t.Context(), store.OrganizationFields{Name: long, NameKey: strings.ToLower(long), NameSkeleton: names.Key(long),
			Slug: "acme-academy", Description: "About us: " + strings.Repeat("unbroken", 40)})
		if err != nil {
			return err
		}
		orgID = org.ID
		title := "A course with a long title " + strings.Repeat("Longwordwithoutspaces", 5)
		_, err = q.CreateCourse(t.Context(), store.NewCourse{OrganizationID: orgID, Title: title, TitleKey: strings.ToLower(title),
			TitleSkeleton: names.Key(title), Slug: "long-course", Description: strings.Repeat("x", 300)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	staffIn(t, app, "owner-of-a-long-named-organization@example.com", map[int64]access.Role{1: access.Viewer, orgID: access.Owner})

	tab := newBrowserTab(t, app, "shell")
	tab.follow("open the login form", http.StatusOK, chromedp.Navigate(app.srv.URL+"/accounts/login/"))
	tab.do("log in",
		chromedp.SendKeys(chromedp.ID("email"), "owner-of-a-long-named-organization@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), authzPassword),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header .who`)),
	)
	pages := []struct{ name, path string }{
		{"organizations", organizationsPath},
		{"organization", organizationPath(orgID)},
		{"courses", coursesPath(orgID)},
		{"course", coursesPath(orgID) + "1/"},
		{"learners", organizationPath(orgID) + "learners/"},
		{"audit", organizationPath(orgID) + "audit/"},
		{"platform", platformHome},
	}
	for _, size := range []struct{ w, h int64 }{{390, 844}, {1280, 900}, {360, 740}} {
		tab.do("resize", chromedp.EmulateViewport(size.w, size.h))
		for _, p := range pages {
			tab.follow("open "+p.name, http.StatusOK, chromedp.Navigate(app.srv.URL+p.path))
			tab.screenshot(fmt.Sprintf("%d-%s", size.w, p.name))
			if w := tab.eval(`document.documentElement.scrollWidth + " > " + window.innerWidth`); tab.eval(`String(document.documentElement.scrollWidth > window.innerWidth)`) == "true" {
				t.Errorf("at %d px %s scrolls sideways: %s", size.w, p.path, w)
			}
			if p.name != "organizations" && p.name != "platform" {
				if got := tab.eval(`document.querySelector(".org-name a")?.title ?? ""`); got != long {
					t.Errorf("at %d px the organization bar of %s has the title %q", size.w, p.path, got)
				}
			}
		}
	}

	// Choosing an organization in the switcher goes to its page at once.
	tab.eval(`(() => { const s = document.getElementById("org-switcher"); s.value = "1"; s.dispatchEvent(new Event("change")); return ""; })()`)
	tab.do("wait for the organization chosen", chromedp.WaitVisible(chromedp.CSS(`.org-name a[href="/email-learning/platform/organizations/1/"]`)))
	if got := tab.location(); got != organizationPath(1) {
		t.Errorf("after choosing My Organization the browser is at %s", got)
	}
}
