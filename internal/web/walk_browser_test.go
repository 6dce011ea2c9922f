package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/browsertest"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// viewports are the widths every page must fit: a phone's and a laptop's.
var viewports = []struct {
	name          string
	width, height int64
}{{"phone", 390, 844}, {"desktop", 1280, 900}}

// TestBrowserEveryPage walks every HTML page of the authorization matrix
// that each role may open (the staff pages as owner, editor and viewer;
// the learner pages as a visitor) at a phone's and a laptop's width, and
// checks that the page does not scroll sideways and that every link and
// form on it leads somewhere the role may go: an action the role cannot
// take is not shown. Screenshots of each land in the screenshot directory.
func TestBrowserEveryPage(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	f := newAuthzFixture(t, app)
	o := f.newOrg()
	cases := authzCases(f.outboxID)
	// A name near the longest allowed, which every page must fit.
	res, _ := f.clients[owner].api(http.MethodPatch, fmt.Sprintf("/api/v1/organizations/%d", o.id), map[string]string{
		"name": "Acme Academy for Continuing Professional Development, Workplace Safety, Data Protection and Leadership " +
			"Training in Healthcare, Manufacturing and the Public Sector across Europe",
		"description": "Short courses by email, one lesson a day: https://acme.example/a-very-long-address-that-does-not-break-on-its-own-anywhere",
	})
	if res.status != http.StatusOK {
		t.Fatalf("rename the organization: %d %s", res.status, res.body)
	}

	// A mux of the real routes, to tell which route a link or form uses.
	var server Server
	mux := http.NewServeMux()
	for _, rt := range server.routes() {
		mux.HandleFunc(rt.pattern, func(http.ResponseWriter, *http.Request) {})
	}
	routeOf := func(method, target string) string {
		req, err := http.NewRequest(method, app.srv.URL+target, nil)
		if err != nil {
			return ""
		}
		_, pattern := mux.Handler(req)
		return pattern
	}

	for _, a := range []actor{owner, editor, viewer, anonymous} {
		t.Run(string(a), func(t *testing.T) {
			// Staff walk the staff pages; a visitor, the learner pages.
			patterns := pagePatterns(cases, a, a == anonymous)
			ctx := browsertest.NewFor(t, browsertest.Timeout+time.Duration(len(patterns))*browsertest.PageTimeout)
			if a != anonymous {
				logInBrowser(t, ctx, app.srv.URL, f.users[a].Email, authzPassword)
			}
			for _, pattern := range patterns {
				path := cases[pattern].path(o)
				for _, vp := range viewports {
					name := fmt.Sprintf("walk-%s-%s-%s", a, vp.name, strings.Trim(strings.TrimPrefix(pattern, "GET "), "/"))
					checkPage(t, ctx, app.srv.URL+path, name, vp.width, vp.height)
					if shot, ok := readmeShots[string(a)+" "+pattern]; ok && vp.name == "desktop" && os.Getenv("MAILSCHOOL_README_SCREENSHOTS") == "true" {
						saveReadmeShot(t, ctx, shot)
					}
				}
				for _, act := range pageActions(t, ctx) {
					target, err := url.Parse(act.target)
					if err != nil || (target.Host != "" && app.srv.URL != "http://"+target.Host) || !strings.HasPrefix(target.Path, "/") {
						continue // elsewhere, or a fragment
					}
					if act.method == http.MethodGet {
						// A link: followed as the role would.
						if res := f.clients[a].get(target.RequestURI()); res.status == http.StatusForbidden || res.status == http.StatusNotFound {
							t.Errorf("%s as %s links to %s (%q), which answers %d", path, a, target.Path, act.label, res.status)
						}
						continue
					}
					route := routeOf(act.method, target.Path)
					c, ok := cases[route]
					if !ok || route == "/" {
						t.Errorf("%s as %s: %s %s matches no route", path, a, act.method, target.Path)
						continue
					}
					if a != anonymous && strings.Contains(target.Path, fmt.Sprintf("/members/%d/", f.users[a].ID)) {
						continue // leaving: a member may remove themselves
					}
					if want := c.expected(route, a); want == http.StatusForbidden || want == http.StatusNotFound {
						t.Errorf("%s as %s shows %s %s (%q), which answers %d to a %s", path, a, act.method, target.Path, act.label, want, a)
					}
				}
			}
		})
	}
}

// readmeShots are the pages the README shows, by actor and route: with
// MAILSCHOOL_README_SCREENSHOTS=true the walk saves them, at the laptop's
// width, into docs/.
var readmeShots = map[string]string{
	"owner GET /email-learning/platform/organizations/{id}/":                         "screenshot-organization.png",
	"editor GET /email-learning/platform/organizations/{id}/courses/{course_id}/{$}": "screenshot-course.png",
	"anonymous GET /email-learning/public/organization/{id}/":                        "screenshot-public-page.png",
}

func saveReadmeShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pagePatterns are the GET routes of the matrix that render an HTML page
// the actor may open: the learner pages (under /email-learning/public/)
// or the others.
func pagePatterns(cases map[string]authzCase, a actor, learner bool) []string {
	var list []string
	for pattern, c := range cases {
		if !strings.HasPrefix(pattern, "GET ") || c.ok != http.StatusOK || c.expected(pattern, a) != http.StatusOK {
			continue
		}
		p := strings.TrimPrefix(pattern, "GET ")
		if strings.HasPrefix(p, "/email-learning/public/") != learner {
			continue
		}
		switch {
		case strings.HasPrefix(p, "/api/v1/"), strings.HasPrefix(p, "/static/"), p == "/healthz", p == "/readyz",
			strings.HasSuffix(p, "/logo"), strings.HasSuffix(p, "/thumb"), strings.HasSuffix(p, "/raw"),
			strings.HasSuffix(p, "/html"), strings.HasSuffix(p, "/export"), strings.HasSuffix(p, ".pdf"), strings.HasSuffix(p, ".csv"), strings.HasSuffix(p, ".png"):
			continue // not a page
		}
		list = append(list, pattern)
	}
	slices.Sort(list)
	return list
}

// checkPage opens a page at a width, saves its screenshot and checks it
// does not scroll sideways.
func checkPage(t *testing.T, ctx context.Context, url, name string, width, height int64) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, height),
		chromedp.Navigate(url),
		chromedp.WaitReady("body"),
	)
	if err != nil {
		t.Errorf("open %s: %v", url, err)
		return
	}
	scroll, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatalf("measure %s: %v", url, err)
	}
	inner, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.innerWidth`))
	if err != nil {
		t.Fatalf("measure %s: %v", url, err)
	}
	browsertest.Screenshot(t, ctx, name)
	if scroll > inner {
		t.Errorf("%s at %d px is %d px wide: it scrolls sideways", url, width, scroll)
	}
}

// action is a link or a form on a page.
type action struct {
	method, target, label string
}

// pageActions lists the links and forms of the page the browser shows.
func pageActions(t *testing.T, ctx context.Context) []action {
	t.Helper()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`[
		...[...document.querySelectorAll('a[href]')].map(a => ['GET', a.getAttribute('href'), a.textContent.trim()]),
		...[...document.querySelectorAll('form')].map(f => [(f.getAttribute('method') || 'GET').toUpperCase(), f.getAttribute('action') || location.pathname, (f.querySelector('button') || f).textContent.trim()]),
	]`))
	if err != nil {
		t.Fatalf("list the page's links and forms: %v", err)
	}
	list := make([]action, len(raw))
	for i, r := range raw {
		list[i] = action{method: r[0], target: r[1], label: r[2]}
	}
	return list
}

// logInBrowser logs the browser in through the login form.
func logInBrowser(t *testing.T, ctx context.Context, base, email, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/accounts/login/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header .who`)),
	)
	if err != nil {
		t.Fatalf("log in as %s: %v", email, err)
	}
}
