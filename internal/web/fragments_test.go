package web

import (
	"fmt"
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// TestFragmentCacheRendersEachValueOnce checks that a fragment is rendered
// once per distinct value, that any change to the value renders it again,
// and that the cache stays within its bound.
func TestFragmentCacheRendersEachValueOnce(t *testing.T) {
	var c fragmentCache[memberRow]
	renders := 0
	render := func(row memberRow) (template.HTML, error) {
		renders++
		return template.HTML(fmt.Sprintf("<tr>%s %s</tr>", row.Email, row.Role)), nil
	}
	row := memberRow{OrgID: 2, MemberView: orgs.MemberView{Member: store.Member{UserID: 7, Email: "ann@example.com", Role: "viewer",
		Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, CanChangeRole: true}}
	for range 3 {
		if h, err := c.get(row, render); err != nil || h != "<tr>ann@example.com viewer</tr>" {
			t.Fatalf("get = %q, %v", h, err)
		}
	}
	if renders != 1 {
		t.Fatalf("rendered %d times for one value, want 1", renders)
	}
	changed := row
	changed.Role = "editor"
	if h, _ := c.get(changed, render); h != "<tr>ann@example.com editor</tr>" {
		t.Fatalf("changed role: got %q", h)
	}
	removable := row
	removable.CanRemove = true
	c.get(removable, render)
	if renders != 3 {
		t.Fatalf("rendered %d times for three values, want 3", renders)
	}
	for i := range fragmentCacheSize + 10 {
		row.UserID = int64(100 + i)
		c.get(row, render)
	}
	if len(c.html) > fragmentCacheSize {
		t.Fatalf("the cache holds %d fragments, more than %d", len(c.html), fragmentCacheSize)
	}
}

// TestMemberRowsAreThePageTemplate renders the member table's rows through
// the page templates: escaped like the rest of the page, and the same
// whether rendered or taken from the cache.
func TestMemberRowsAreThePageTemplate(t *testing.T) {
	p, err := parsePages("test")
	if err != nil {
		t.Fatal(err)
	}
	memberRows := func(members []orgs.MemberView) string {
		t.Helper()
		h, err := p.memberRowsHTML(3, members)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	members := []orgs.MemberView{
		{Member: store.Member{UserID: 5, Email: "a+b@example.com", Name: `<Ann & "Bo">`, Role: "editor", Since: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)}, CanChangeRole: true, CanRemove: true},
		{Member: store.Member{UserID: 6, Email: "own@example.com", Name: "Own", Role: "owner", Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}, IsActor: true},
	}
	first, second := memberRows(members), memberRows(members)
	if first != second {
		t.Fatalf("cached rows differ from rendered ones:\n%s\n%s", first, second)
	}
	for _, want := range []string{
		`<tr data-user-id="5">`, `<td>a&#43;b@example.com</td>`, `<td>&lt;Ann &amp; &#34;Bo&#34;&gt;</td>`,
		`action="/email-learning/platform/organizations/3/members/5/role"`, `<option value="editor" selected>editor</option>`,
		`<td>2026-03-04</td>`, `href="/email-learning/platform/organizations/3/members/5/remove">Remove</a>`,
		`<td>own@example.com <span class="muted">(you)</span></td>`, `<td class="role">owner</td>`,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("rows lack %s:\n%s", want, first)
		}
	}
}

// TestSiteHeaderFollowsItsPage renders the header of pages that differ in
// one thing each, twice over: every header is the one its page renders
// (nothing of another page's comes from the cache) and shows what the page
// says.
func TestSiteHeaderFollowsItsPage(t *testing.T) {
	p, err := parsePages("test")
	if err != nil {
		t.Fatal(err)
	}
	ann := &store.User{ID: 1, Email: "ann@example.com"}
	two := []store.OrganizationName{{ID: 1, Name: "Acme"}, {ID: 2, Name: `<Bo & "Co">`}}
	pages := map[string]page{
		"anonymous":     {},
		"ann":           {User: ann},
		"bob":           {User: &store.User{ID: 2, Email: "bob@example.com"}},
		"outbox":        {User: ann, Nav: navigation{Outbox: true, Current: "outbox"}},
		"organizations": {User: ann, Nav: navigation{Current: "organizations"}, Organizations: two},
		"second chosen": {User: ann, Nav: navigation{Current: "organizations"}, Organizations: two, CurrentOrganization: 2},
		"renamed":       {User: ann, Nav: navigation{Current: "organizations"}, Organizations: []store.OrganizationName{{ID: 1, Name: "Acme"}, {ID: 2, Name: "Bo"}}, CurrentOrganization: 2},
		// The same names split differently are other organizations.
		"split": {User: ann, Organizations: []store.OrganizationName{{ID: 1, Name: "Acme 2 7 <Bo & \"Co\">"}}},
	}
	want := make(map[string]string)
	for name, pg := range pages {
		h, err := renderFragment(p.byName["error.html"], "site_header", pg)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = string(h)
	}
	for range 2 {
		for name, pg := range pages {
			h, err := p.siteHeaderHTML(pg)
			if err != nil {
				t.Fatal(err)
			}
			if string(h) != want[name] {
				t.Errorf("%s: header\n%s\nwant\n%s", name, h, want[name])
			}
		}
	}
	for name, wants := range map[string][]string{
		"anonymous":     {`<a class="brand"`},
		"bob":           {`title="bob@example.com">bob@example.com</span>`},
		"outbox":        {`href="/email-learning/platform/outbox/" aria-current="page">Outbox</a>`},
		"organizations": {`<option value="" disabled selected>Choose an organization</option>`, `title="&lt;Bo &amp; &#34;Co&#34;&gt;">&lt;Bo &amp; &#34;Co&#34;&gt;</option>`},
		"second chosen": {`<option value="2" title="&lt;Bo &amp; &#34;Co&#34;&gt;" selected>`},
		"renamed":       {`<option value="2" title="Bo" selected>Bo</option>`},
	} {
		for _, w := range wants {
			if !strings.Contains(want[name], w) {
				t.Errorf("%s: header lacks %s:\n%s", name, w, want[name])
			}
		}
	}
	if strings.Contains(want["anonymous"], "Log out") {
		t.Error("the header of nobody logged in has a logout button")
	}
}

// TestOrgBarFollowsItsShell: the bar of an organization's pages is the one
// its shell renders, whatever was rendered before it.
func TestOrgBarFollowsItsShell(t *testing.T) {
	p, err := parsePages("test")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	admin := &store.User{ID: 1, Email: "admin@example.com", IsPlatformAdmin: true, IsActive: true}
	viewer := &store.User{ID: 2, Email: "viewer@example.com", IsActive: true}
	acme := orgs.View{Organization: store.Organization{ID: 7, Name: `Acme <& "Co">`}, Role: access.Owner}
	renamed := acme
	renamed.Name = "Acme"
	withLogo := acme
	withLogo.LogoETag = "abc123"
	asViewer := acme
	asViewer.Role = access.Viewer
	other := acme
	other.ID = 8
	shells := map[string]*shell{
		"overview":    s.shellOf(admin, acme, ""),
		"courses":     s.shellOf(admin, acme, "courses/"),
		"a course":    s.shellOf(admin, acme, "courses/3/"),
		"renamed":     s.shellOf(admin, renamed, ""),
		"logo":        s.shellOf(admin, withLogo, ""),
		"viewer":      s.shellOf(viewer, asViewer, ""),
		"other":       s.shellOf(admin, other, ""),
		"viewer role": s.shellOf(admin, asViewer, ""),
	}
	want := make(map[string]string)
	for name, sh := range shells {
		h, err := renderFragment(p.byName["error.html"], "org_bar", sh)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = string(h)
	}
	for range 2 {
		for name, sh := range shells {
			if h, err := p.orgBarHTML(sh); err != nil || string(h) != want[name] {
				t.Errorf("%s: bar %v\n%s\nwant\n%s", name, err, h, want[name])
			}
		}
	}
	for name, wants := range map[string][]string{
		"overview": {`title="Acme &lt;&amp; &#34;Co&#34;&gt;">Acme &lt;&amp; &#34;Co&#34;&gt;</a>`, `href="/email-learning/platform/organizations/7/" aria-current="page">Overview</a>`},
		"courses":  {`href="/email-learning/platform/organizations/7/courses/" aria-current="page">Courses</a>`},
		"a course": {`href="/email-learning/platform/organizations/7/courses/" aria-current="true">Courses</a>`},
		"logo":     {`<img src=`},
		"other":    {`/organizations/8/`},
		"viewer":   {`<span class="org-role">viewer</span>`},
	} {
		for _, w := range wants {
			if !strings.Contains(want[name], w) {
				t.Errorf("%s: bar lacks %s:\n%s", name, w, want[name])
			}
		}
	}
	if strings.Contains(want["viewer"], "Settings") || !strings.Contains(want["viewer role"], "Settings") {
		t.Error("the sections do not follow what the user may open")
	}
}

// TestOrganizationRowsAreThePageTemplate: the rows of the organization list
// are escaped like the page and the same from the cache, and a change to
// what a row shows renders it again.
func TestOrganizationRowsAreThePageTemplate(t *testing.T) {
	p, err := parsePages("test")
	if err != nil {
		t.Fatal(err)
	}
	suspended := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	items := []orgs.ListItem{
		{OrganizationSummary: store.OrganizationSummary{Organization: store.Organization{ID: 4, Name: `<Acme & "Co">`, Description: "Short."}, MemberCount: 12, CourseCount: 3}, CanEdit: true},
		{OrganizationSummary: store.OrganizationSummary{Organization: store.Organization{ID: 5, Name: "Beta", SuspendedAt: &suspended}}, CanDelete: true},
	}
	rows := func() string {
		t.Helper()
		h, err := p.organizationRowsHTML(items)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	first, second := rows(), rows()
	if first != second {
		t.Fatalf("cached rows differ from rendered ones:\n%s\n%s", first, second)
	}
	for _, want := range []string{
		`title="&lt;Acme &amp; &#34;Co&#34;&gt;">&lt;Acme &amp; &#34;Co&#34;&gt;</a></td>`, `<td>12</td>`, `<td>3</td>`,
		`href="/email-learning/platform/organizations/4/edit"`, `Beta</a> <span class="status status-revoked">suspended</span>`,
		`href="/email-learning/platform/organizations/5/delete"`,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("rows lack %s:\n%s", want, first)
		}
	}
	if strings.Contains(first, "organizations/4/delete") || strings.Contains(first, "organizations/5/edit") {
		t.Errorf("rows offer what the user may not do:\n%s", first)
	}
	items[0].MemberCount = 13
	if got := rows(); !strings.Contains(got, "<td>13</td>") {
		t.Errorf("a changed count is not shown:\n%s", got)
	}
}
