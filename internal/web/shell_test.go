package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// staffIn makes a user with a password and the given roles in organizations
// (id to role), and logs them in.
func staffIn(t *testing.T, app *testApp, email string, roles map[int64]access.Role) *client {
	t.Helper()
	hash, err := auth.HashPassword(context.Background(), authzPassword)
	if err != nil {
		t.Fatal(err)
	}
	err = app.db.InTx(context.Background(), func(q *store.Queries) error {
		u, err := q.CreateUser(context.Background(), store.NewUser{Email: email, PasswordHash: hash})
		if err != nil {
			return err
		}
		for orgID, role := range roles {
			if err := q.AddMembership(context.Background(), orgID, u.ID, string(role)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return app.loggedIn(email, authzPassword)
}

var switcherOption = regexp.MustCompile(`<option value="([^"]*)"[^>]*>`)

// switcherOptions returns the values of the switcher's options, and the
// one selected.
func switcherOptions(t *testing.T, body string) (values []string, selected string) {
	t.Helper()
	start := strings.Index(body, `<select id="org-switcher"`)
	if start < 0 {
		t.Fatalf("no organization switcher:\n%s", body)
	}
	end := strings.Index(body[start:], "</select>")
	for _, m := range switcherOption.FindAllStringSubmatch(body[start:start+end], -1) {
		if strings.Contains(m[0], " disabled") {
			continue // a placeholder the browser does not send
		}
		values = append(values, m[1])
		if strings.Contains(m[0], " selected") {
			selected = m[1]
		}
	}
	return values, selected
}

func TestOrganizationSwitcherGoesToTheChosenOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		acme, _ := storetest.NewOrganization(t, db, "Acme Academy")
		other, _ := storetest.NewOrganization(t, db, "Other School")
		c := staffIn(t, app, "staff@example.com", map[int64]access.Role{1: access.Viewer, acme: access.Editor})

		// Before any organization was visited, nothing is chosen, and
		// nothing that could be sent leads nowhere.
		home := c.get(platformHome)
		values, selected := switcherOptions(t, home.body)
		if selected != "" || slices.Contains(values, "") {
			t.Errorf("before any visit the switcher offers %q, selected %q; want no empty choice and nothing selected", values, selected)
		}
		if res := c.post(organizationsPath+"switch", url.Values{"organization_id": {""}}); res.status != http.StatusSeeOther || res.header.Get("Location") != organizationsPath {
			t.Errorf("switch without a choice: %d to %q, want 303 to the list", res.status, res.header.Get("Location"))
		}

		// Every choice offered goes to that organization's page.
		for _, v := range values {
			res := c.post(organizationsPath+"switch", url.Values{"organization_id": {v}})
			if want := organizationsPath + v + "/"; res.status != http.StatusSeeOther || res.header.Get("Location") != want {
				t.Errorf("switch to %s: %d to %q, want 303 to %s", v, res.status, res.header.Get("Location"), want)
			}
		}

		// The select follows the organization being viewed, and stays on
		// the one last visited elsewhere.
		for _, id := range []int64{acme, 1, acme} {
			page := c.get(organizationPath(id))
			if page.status != http.StatusOK {
				t.Fatalf("GET %s: %d", organizationPath(id), page.status)
			}
			if _, selected := switcherOptions(t, page.body); selected != itoa(id) {
				t.Errorf("on the page of organization %d the switcher shows %q", id, selected)
			}
			for _, path := range []string{platformHome, organizationsPath} {
				if _, selected := switcherOptions(t, c.get(path).body); selected != itoa(id) {
					t.Errorf("after visiting organization %d, %s shows %q in the switcher", id, path, selected)
				}
			}
		}
		if home := c.get(platformHome); !strings.Contains(home.body, "Continue in Acme Academy") {
			t.Errorf("the platform home does not offer the last organization visited:\n%s", home.body)
		}

		// One the user cannot see, or that does not exist, is not found.
		for _, id := range []string{itoa(other), "999", "x"} {
			if res := c.post(organizationsPath+"switch", url.Values{"organization_id": {id}}); res.status != http.StatusNotFound {
				t.Errorf("switch to organization %s: %d, want 404", id, res.status)
			}
		}
		if _, selected := switcherOptions(t, c.get(platformHome).body); selected != itoa(acme) {
			t.Errorf("a refused switch changed the organization remembered: %q", selected)
		}
	})
}

var (
	orgNavLink = regexp.MustCompile(`<li><a href="([^"]*)"( aria-current="[a-z]+")?[^>]*>([^<]*)</a></li>`)
	orgNavPart = regexp.MustCompile(`(?s)<nav class="org-nav"[^>]*>(.*?)</nav>`)
)

// orgNav returns the labels of an organization page's section links, the
// link of each, and the section marked current.
func orgNav(t *testing.T, body string) (labels []string, links map[string]string, current string) {
	t.Helper()
	part := orgNavPart.FindStringSubmatch(body)
	if part == nil {
		t.Fatalf("no organization navigation:\n%s", body)
	}
	links = map[string]string{}
	for _, m := range orgNavLink.FindAllStringSubmatch(part[1], -1) {
		labels = append(labels, m[3])
		links[m[3]] = m[1]
		if m[2] != "" {
			current = m[3]
		}
	}
	return labels, links, current
}

func TestOrganizationNavigationShowsAllowedSections(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	everything := []string{"Overview", "Courses", "Learners", "Certificates", "Reports", "Members", "Settings", "API keys", "Webhooks", "Audit log"}
	viewing := []string{"Overview", "Courses", "Learners", "Certificates", "Reports", "Members"}
	for _, tc := range []struct {
		role access.Role
		want []string
	}{
		{access.Owner, everything},
		{access.Admin, everything},
		{access.Editor, viewing},
		{access.Viewer, viewing},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			c := staffIn(t, app, "nav-"+string(tc.role)+"@example.com", map[int64]access.Role{1: tc.role})
			page := c.get(organizationPath(1))
			labels, links, current := orgNav(t, page.body)
			if !slices.Equal(labels, append(slices.Clone(tc.want), "Public page")) {
				t.Errorf("sections = %q, want %q and the public page", labels, tc.want)
			}
			if current != "Overview" {
				t.Errorf("on the organization's page the current section is %q", current)
			}
			// Every section offered opens, and is marked current there.
			for _, label := range tc.want {
				path, _, _ := strings.Cut(links[label], "#")
				res := c.get(path)
				if res.status != http.StatusOK {
					t.Errorf("%s (%s): %d", label, path, res.status)
					continue
				}
				if _, _, current := orgNav(t, res.body); label != "Members" && current != label {
					t.Errorf("on %s the current section is %q", path, current)
				}
			}
		})
	}
}

func TestOrganizationPagesHaveBreadcrumbs(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	c := app.loggedIn(adminEmail, adminPassword)
	org := organizationPath(1)
	course := coursePath(1, newSchool(t, app).courseID)
	for _, tc := range []struct{ path, crumbs string }{
		{course, "Organizations › My Organization › Courses"},
		{course + "delete", "Organizations › My Organization › Courses › Go basics"},
		{course + "contents/new?kind=lesson", "Organizations › My Organization › Courses › Go basics"},
		{org, "Organizations"},
		{org + "learners/", "Organizations › My Organization"},
		{org + "certificates/", "Organizations › My Organization"},
		{org + "reports/", "Organizations › My Organization"},
		{org + "audit/", "Organizations › My Organization"},
		{org + "blocked-emails/", "Organizations › My Organization › Learners"},
		{org + "members/new", "Organizations › My Organization › Members"},
		{org + "courses/new", "Organizations › My Organization › Courses"},
		{org + "edit", "Organizations › My Organization"},
	} {
		res := c.get(tc.path)
		if res.status != http.StatusOK {
			t.Errorf("GET %s: %d", tc.path, res.status)
			continue
		}
		if got := breadcrumbs(res.body); got != tc.crumbs {
			t.Errorf("breadcrumbs of %s = %q, want %q", tc.path, got, tc.crumbs)
		}
		if strings.Contains(res.body, "Back to") {
			t.Errorf("%s still has a Back to link", tc.path)
		}
	}
	// Platform pages have no organization, and no breadcrumbs.
	if got := breadcrumbs(c.get(organizationsPath).body); got != "" {
		t.Errorf("the organization list has breadcrumbs %q", got)
	}
}

var (
	breadcrumbPart = regexp.MustCompile(`(?s)<nav class="breadcrumbs"[^>]*>(.*?)</nav>`)
	breadcrumbLink = regexp.MustCompile(`<a [^>]*>([^<]*)</a>`)
)

// breadcrumbs returns the labels of a page's breadcrumbs joined by " › ".
func breadcrumbs(body string) string {
	part := breadcrumbPart.FindStringSubmatch(body)
	if part == nil {
		return ""
	}
	var labels []string
	for _, m := range breadcrumbLink.FindAllStringSubmatch(part[1], -1) {
		labels = append(labels, m[1])
	}
	return strings.Join(labels, " › ")
}

func TestOrganizationListShowsOnlyAllowedActions(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	for _, tc := range []struct {
		role           access.Role
		edit, deletion bool
	}{
		{access.Owner, true, true},
		{access.Admin, true, false},
		{access.Editor, false, false},
		{access.Viewer, false, false},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			c := staffIn(t, app, "list-"+string(tc.role)+"@example.com", map[int64]access.Role{1: tc.role})
			list := c.get(organizationsPath)
			if !strings.Contains(list.body, `href="/email-learning/platform/organizations/1/"`) {
				t.Fatalf("the list does not show the organization:\n%s", list.body)
			}
			for action, want := range map[string]bool{"edit": tc.edit, "delete": tc.deletion} {
				link := fmt.Sprintf(`href="/email-learning/platform/organizations/1/%s"`, action)
				if got := strings.Contains(list.body, link); got != want {
					t.Errorf("a %s sees the %s link: %v, want %v", tc.role, action, got, want)
				}
				// What is shown opens; what is not would not.
				status := c.get(organizationPath(1) + action).status
				if (status == http.StatusOK) != want {
					t.Errorf("a %s opening %s: %d", tc.role, action, status)
				}
			}
		})
	}
	// Platform admins may do everything to every organization.
	list := app.loggedIn(adminEmail, adminPassword).get(organizationsPath)
	for _, action := range []string{"edit", "delete"} {
		if !strings.Contains(list.body, fmt.Sprintf(`href="/email-learning/platform/organizations/1/%s"`, action)) {
			t.Errorf("the platform admin does not see the %s link", action)
		}
	}
}
