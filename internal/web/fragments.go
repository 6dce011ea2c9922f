package web

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"sync"

	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// fragmentCacheSize bounds each fragment cache: past it, the cache starts
// again empty. A member row or a course card is under a kilobyte.
const fragmentCacheSize = 4096

// fragmentCache keeps the rendered HTML of a repeated part of a page (a
// table row) by the value it is rendered from. That value is the whole of
// the fragment's template data, so an entry can never be stale: a change
// to what the row shows is a different key. Executing html/template costs
// about a microsecond per action, which for a table of fifty rows was most
// of the cost of a page.
type fragmentCache[K comparable] struct {
	mu   sync.Mutex
	html map[K]template.HTML
}

// get returns the fragment for key, rendering it with render on a miss.
func (c *fragmentCache[K]) get(key K, render func(K) (template.HTML, error)) (template.HTML, error) {
	c.mu.Lock()
	h, ok := c.html[key]
	c.mu.Unlock()
	if ok {
		return h, nil
	}
	h, err := render(key)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.html == nil || len(c.html) >= fragmentCacheSize {
		c.html = make(map[K]template.HTML)
	}
	c.html[key] = h
	c.mu.Unlock()
	return h, nil
}

// join returns the fragments of items one after the other, each item
// turned into its key by keyOf.
func join[K comparable, T any](c *fragmentCache[K], items []T, keyOf func(T) K, render func(K) (template.HTML, error)) (template.HTML, error) {
	parts := make([]template.HTML, len(items))
	size := 0
	for i, item := range items {
		h, err := c.get(keyOf(item), render)
		if err != nil {
			return "", err
		}
		parts[i], size = h, size+len(h)
	}
	var b strings.Builder
	b.Grow(size)
	for _, h := range parts {
		b.WriteString(string(h))
	}
	return template.HTML(b.String()), nil
}

// memberRow is everything a row of an organization's member table shows.
type memberRow struct {
	OrgID int64
	orgs.MemberView
}

// memberRowsHTML renders the rows of an organization's member table: the
// template member_row of organization.html for each member.
func (p *pages) memberRowsHTML(orgID int64, members []orgs.MemberView) (template.HTML, error) {
	return join(&p.memberRows, members, func(m orgs.MemberView) memberRow { return memberRow{OrgID: orgID, MemberView: m} },
		func(row memberRow) (template.HTML, error) {
			return renderFragment(p.byName["organization.html"], "member_row", row)
		})
}

// organizationRow is everything a row of the organization list shows.
type organizationRow struct {
	ID                       int64
	Name, LogoETag           string
	Description              string
	Suspended                bool
	MemberCount, CourseCount int
	CanEdit, CanDelete       bool
}

// organizationRowsHTML renders the rows of the organization list: the
// template organization_row of organizations.html for each organization.
func (p *pages) organizationRowsHTML(items []orgs.ListItem) (template.HTML, error) {
	return join(&p.orgRows, items, func(o orgs.ListItem) organizationRow {
		return organizationRow{ID: o.ID, Name: o.Name, LogoETag: o.LogoETag, Description: o.Description, Suspended: o.Suspended(),
			MemberCount: o.MemberCount, CourseCount: o.CourseCount, CanEdit: o.CanEdit, CanDelete: o.CanDelete}
	}, func(row organizationRow) (template.HTML, error) {
		return renderFragment(p.byName["organizations.html"], "organization_row", row)
	})
}

// courseCard is everything a course's card on the public page shows.
type courseCard struct {
	OrgID, ID                int64
	Slug, Title, Description string
}

// courseCardsHTML renders the course cards of an organization's public
// page: the template course_card of public_organization.html for each.
func (p *pages) courseCardsHTML(orgID int64, courses []store.Course) (template.HTML, error) {
	return join(&p.courseCards, courses, func(c store.Course) courseCard {
		return courseCard{OrgID: orgID, ID: c.ID, Slug: c.Slug, Title: c.Title, Description: c.Description}
	}, func(card courseCard) (template.HTML, error) {
		return renderFragment(p.byName["public_organization.html"], "course_card", card)
	})
}

// siteHeaderKey is everything the site's header (the template site_header
// of layout.html) shows of a page: who is logged in, the navigation and
// the organization switcher, whose choices are in switcher as
// id, name length and name one after the other.
type siteHeaderKey struct {
	LoggedIn bool
	Email    string
	Nav      navigation
	Current  int64
	Switcher string
}

// siteHeaderHTML renders the header of a page of the layout.
func (p *pages) siteHeaderHTML(pg page) (template.HTML, error) {
	key := siteHeaderKey{Nav: pg.Nav, Current: pg.CurrentOrganization}
	if pg.User != nil {
		key.LoggedIn, key.Email = true, pg.User.Email
	}
	if len(pg.Organizations) > 0 {
		var b []byte
		for _, o := range pg.Organizations {
			b = strconv.AppendInt(b, o.ID, 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(len(o.Name)), 10)
			b = append(b, ' ')
			b = append(b, o.Name...)
		}
		key.Switcher = string(b)
	}
	return p.siteHeaders.get(key, func(siteHeaderKey) (template.HTML, error) {
		return renderFragment(p.byName["error.html"], "site_header", pg)
	})
}

// orgBarKey is everything the bar of an organization's pages (the
// template org_bar of layout.html) shows of a page's shell. The sections
// are their keys, one after the other: a section's label and address
// follow from its key and the organization.
type orgBarKey struct {
	OrgID                int64
	Name, LogoETag, Role string
	Sections             string
	Current              string
	BelowSection         bool
}

// orgBarHTML renders the bar of a page inside an organization.
func (p *pages) orgBarHTML(sh *shell) (template.HTML, error) {
	key := orgBarKey{OrgID: sh.Org.ID, Name: sh.Org.Name, LogoETag: sh.Org.LogoETag, Role: string(sh.Org.Role),
		Current: sh.Current.Key, BelowSection: sh.BelowSection}
	var b strings.Builder
	for _, sec := range sh.Sections {
		b.WriteString(sec.Key)
		b.WriteByte(' ')
	}
	key.Sections = b.String()
	return p.orgBars.get(key, func(orgBarKey) (template.HTML, error) {
		return renderFragment(p.byName["error.html"], "org_bar", sh)
	})
}

// renderFragment executes the template name of set t with data, for a
// fragment cache.
func renderFragment(t *template.Template, name string, data any) (template.HTML, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return template.HTML(buf.String()), nil
}
