package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// shell is the frame of every staff page inside one organization: its
// name, the sections the user may open, and where the page is among them.
type shell struct {
	Org      orgs.View
	Sections []section // those the user may open, in order
	// Current is the section the page belongs to.
	Current section
	// BelowSection is set when the page is not the section's own first
	// page, so the section is one of the breadcrumbs.
	BelowSection bool
}

// section is one part of an organization's pages, as the navigation shows it.
type section struct {
	Key   string
	Label string
	Path  string
}

// organizationSections are the sections in navigation order, each with the
// action that its pages' handlers require, so the navigation offers only
// what opens. The members are listed on the organization's own page.
var organizationSections = []struct {
	key, label, suffix string
	action             access.Action
}{
	{"overview", "Overview", "", access.ViewOrganization},
	{"courses", "Courses", "courses/", access.ViewOrganization},
	{"learners", "Learners", "learners/", access.ViewOrganization},
	{"certificates", "Certificates", "certificates/", access.ViewOrganization},
	{"reports", "Reports", "reports/", access.ViewOrganization},
	{"members", "Members", "#members", access.ViewOrganization},
	{"settings", "Settings", "edit", access.EditOrganization},
	{"api-keys", "API keys", "api-keys/", access.ManageAPIKeys},
	{"webhooks", "Webhooks", "webhooks/", access.ManageWebhooks},
	{"audit", "Audit log", "audit/", access.ViewAuditLog},
}

// sectionOf tells which section a path below an organization's address
// belongs to (rest is what follows "/organizations/{id}/"), and whether it
// is that section's first page.
func sectionOf(rest string) (key string, first bool) {
	head, tail, _ := strings.Cut(rest, "/")
	switch head {
	case "":
		return "overview", true
	case "edit":
		return "settings", true
	case "delete":
		return "settings", false
	case "courses":
		return "courses", tail == ""
	case "learners":
		return "learners", tail == ""
	case "enrollments", "blocked-emails", "bounces":
		return "learners", false
	case "certificates":
		return "certificates", tail == ""
	case "reports":
		return "reports", tail == ""
	case "audit":
		return "audit", tail == ""
	case "api-keys":
		return "api-keys", tail == ""
	case "webhooks":
		return "webhooks", tail == ""
	case "members", "invitations", "transfer":
		return "members", false
	}
	return "overview", false
}

// shellFor returns the shell of a page inside an organization the user
// may see, or nil for any other page. The sections' permissions are
// decided here, for every such page, by the same access rules as the
// handlers they lead to.
func (s *Server) shellFor(r *http.Request, user *store.User) (*shell, error) {
	rest, ok := strings.CutPrefix(r.URL.Path, organizationsPath)
	if !ok {
		return nil, nil
	}
	idText, rest, ok := strings.Cut(rest, "/")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || id <= 0 {
		return nil, nil
	}
	v, known := authorizedOrganization(r, id)
	if known {
		return s.shellOf(user, v, rest), nil
	}
	v, err = s.orgs.Get(r.Context(), user, id)
	if p, ok := problem.As(err); ok && (p.Kind == problem.NotFound || p.Kind == problem.Forbidden) {
		return nil, nil // the page says so; it has no frame
	}
	if err != nil {
		return nil, err
	}
	return s.shellOf(user, v, rest), nil
}

// shellOf returns the shell of the page at rest (what follows
// "/organizations/{id}/") inside an organization the user may see.
func (s *Server) shellOf(user *store.User, v orgs.View, rest string) *shell {
	sh := &shell{Org: v}
	current, first := sectionOf(rest)
	for _, sec := range organizationSections {
		if !access.Allowed(user, v.Role, sec.action) {
			continue
		}
		item := section{Key: sec.key, Label: sec.label, Path: organizationPath(v.ID) + sec.suffix}
		sh.Sections = append(sh.Sections, item)
		if sec.key == current {
			sh.Current, sh.BelowSection = item, !first
		}
	}
	return sh
}

type authorizedOrganizationKey struct{}

// withAuthorizedOrganization records on the request the organization its
// handler has just authorized for the request's user, so that the page's
// frame does not read and authorize it a second time.
func withAuthorizedOrganization(r *http.Request, v orgs.View) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), authorizedOrganizationKey{}, v))
}

// authorizedOrganization returns the organization the request's handler
// authorized, when it is the one with this id.
func authorizedOrganization(r *http.Request, id int64) (orgs.View, bool) {
	v, ok := r.Context().Value(authorizedOrganizationKey{}).(orgs.View)
	return v, ok && v.ID == id
}

// platformSection tells which of the platform's own pages a path is on.
func platformSection(path string) string {
	switch {
	case path == platformHome:
		return "platform"
	case strings.HasPrefix(path, organizationsPath):
		return "organizations"
	case strings.HasPrefix(path, "/email-learning/platform/outbox/"):
		return "outbox"
	case strings.HasPrefix(path, "/email-learning/platform/blocked-emails/"):
		return "blocked"
	case strings.HasPrefix(path, "/email-learning/platform/signups/"):
		return "signups"
	}
	return ""
}
