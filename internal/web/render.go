package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one parsed template set per page, each with both layouts:
// the staff one and the learners' one (see renderPublic).
type pages struct {
	byName      map[string]*template.Template
	staticHash  map[string]string // file name -> short content hash for cache busting
	memberRows  fragmentCache[memberRow]
	courseCards fragmentCache[courseCard]
	siteHeaders fragmentCache[siteHeaderKey]
	orgBars     fragmentCache[orgBarKey]
	orgRows     fragmentCache[organizationRow]
}

func parsePages(version string) (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}, staticHash: map[string]string{}}
	err := fs.WalkDir(staticFS, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		p.staticHash[path.Base(name)] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash static files: %w", err)
	}
	funcs := template.FuncMap{
		"static":    func(name string) string { return "/static/" + name + "?v=" + p.staticHash[name] },
		"version":   func() string { return version },
		"logoURL":   func(id int64, etag string) string { return logoURL(id, etag, false) },
		"logoThumb": func(id int64, etag string) string { return logoURL(id, etag, true) },
		"excerpt":   excerpt,
		"icon":      icon,
		"add":       func(a, b int) int { return a + b },
		"roles":     func() []access.Role { return access.AssignableRoles },
		"waiting":   learning.DescribeWaitingPeriod,
		"until":     untilWords,
		// Audit actions and email kinds as people name them; the labels
		// live with the constants.
		"auditLabel":    orgs.EventLabel,
		"mailKindLabel": mail.KindLabel,
		// Bounce kinds, likewise.
		"bounceKindLabel": bounces.KindLabel,
		// The rows of the member table, each rendered once per distinct row.
		"memberRows": p.memberRowsHTML,
		// The rows of the organization list, likewise.
		"organizationRows": p.organizationRowsHTML,
		// The course cards of a public page, likewise.
		"courseCards": p.courseCardsHTML,
		// The site's header, rendered once per distinct header.
		"siteHeader": p.siteHeaderHTML,
		// The bar of an organization's pages, likewise.
		"orgBar": p.orgBarHTML,
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" || base == "public_layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/public_layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", base, err)
		}
		p.byName[base] = t
	}
	return p, nil
}

// page is what every template gets: the layout's data and the page's own.
type page struct {
	Title         string
	User          *store.User
	Nav           navigation
	Organizations []store.OrganizationName // the switcher's choices
	// CurrentOrganization is the organization the switcher shows: the one
	// of the page, or else the one last visited; 0 for none.
	CurrentOrganization int64
	// LastOrganization is the organization last visited, when it is among
	// the switcher's choices.
	LastOrganization *store.OrganizationName
	// Shell is the frame of a page inside an organization; nil elsewhere.
	Shell       *shell
	CurrentPath string
	Flashes     []flash
	Data        any
}

// navigation says which platform pages the user may open, and which one
// the page is.
type navigation struct {
	Outbox        bool
	BlockedEmails bool
	Signups       bool   // platform admins, while sign-up is open
	SignupOpen    bool   // anyone may sign up: the login page says so
	Current       string // "platform", "organizations", "outbox", "blocked", "signups" or ""
}

type flash struct {
	Kind    string // "info" or "error"
	Message string
}

// render writes a page with the layout. Rendering goes to a buffer first so
// a template error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer putPageBuffer(buf)
	if err := s.renderPage(buf, r, name, title, data); err != nil {
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The whole page is at hand: its length lets it go out in one piece
	// rather than in chunks.
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageBuffers hold rendered pages until they are written: a page of a
// table is tens of kilobytes, which a new buffer grows to by copying.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putPageBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 1<<20 {
		return // an unusually large page: not kept
	}
	buf.Reset()
	pageBuffers.Put(buf)
}

// renderPage renders a page with the layout for the request's user into buf.
func (s *Server) renderPage(buf *bytes.Buffer, r *http.Request, name, title string, data any) error {
	t, ok := s.pages.byName[name]
	if !ok {
		return fmt.Errorf("no template %s", name)
	}
	p := page{Title: title, User: currentUser(r.Context()), Data: data}
	if msg := s.sessions.PopString(r.Context(), sessionFlash); msg != "" {
		p.Flashes = append(p.Flashes, flash{Kind: "info", Message: msg})
	}
	p.Nav.SignupOpen = s.signup.Open
	if p.User != nil {
		p.Nav.Outbox = access.AllowedOnPlatform(p.User, access.ViewOutbox)
		p.Nav.BlockedEmails = access.AllowedOnPlatform(p.User, access.ManageBlockedEmails)
		p.Nav.Signups = s.signup.Open && access.AllowedOnPlatform(p.User, access.ViewAllOrganizations)
		p.Nav.Current = platformSection(r.URL.Path)
		orgs, err := s.orgs.Switchable(r.Context(), p.User)
		if err != nil {
			return err
		}
		p.Organizations = orgs
		last := s.sessions.GetInt64(r.Context(), sessionOrganization)
		if p.Shell, err = s.shellFor(r, p.User); err != nil {
			return err
		}
		if p.Shell != nil {
			p.CurrentOrganization = p.Shell.Org.ID
			if last != p.Shell.Org.ID {
				// The one session write of a visit to another organization.
				s.sessions.Put(r.Context(), sessionOrganization, p.Shell.Org.ID)
				last = p.Shell.Org.ID
			}
			if !slices.ContainsFunc(orgs, func(o store.OrganizationName) bool { return o.ID == p.Shell.Org.ID }) {
				// A platform admin visiting an organization they are not in.
				p.Organizations = append([]store.OrganizationName{{ID: p.Shell.Org.ID, Name: p.Shell.Org.Name}}, orgs...)
			}
		}
		for i, o := range p.Organizations {
			if o.ID == last {
				p.LastOrganization = &p.Organizations[i]
				if p.CurrentOrganization == 0 {
					p.CurrentOrganization = last
				}
			}
		}
		p.CurrentPath = r.URL.RequestURI()
	}
	if err := t.ExecuteTemplate(buf, "layout", p); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return nil
}

// flashNext stores a message to show on the next page.
func (s *Server) flashNext(r *http.Request, message string) {
	s.sessions.Put(r.Context(), sessionFlash, message)
}

type errorPage struct{ Message string }

// renderError writes an error page; learners' addresses get the public
// layout, neutral (see publicPageError for one that names its organization).
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	if strings.HasPrefix(r.URL.Path, publicPrefix) {
		s.renderPublicError(w, r, status, title, message, publicBrand{})
		return
	}
	s.render(w, r, status, "error.html", title, errorPage{Message: message})
}

// serverError logs err and answers 500 without details.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if s.clientGone(w, r, err) {
		return
	}
	s.logger.Error("internal error", "method", r.Method, "path", loggedPath(r), "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintln(w, "Something went wrong on our side. Please try again in a moment.")
}

// statusClientClosed is the status a request's log line shows when its
// client went away before the answer (nginx's 499): nobody was answered,
// so it is no server error.
const statusClientClosed = 499

// clientGone reports whether the request's client went away, which ends
// its context and so fails whatever the handler was doing (each database
// driver words that failure its own way). If so, it logs err at Info level
// and records the request as closed by the client: there is nobody left
// to answer.
func (s *Server) clientGone(w http.ResponseWriter, r *http.Request, err error) bool {
	if !errors.Is(r.Context().Err(), context.Canceled) {
		return false
	}
	s.logger.Info("client went away", "method", r.Method, "path", loggedPath(r), "err", err)
	w.WriteHeader(statusClientClosed)
	return true
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSONError(w, http.StatusForbidden, "forbidden", "You are not allowed to do this.")
		return
	}
	s.renderError(w, r, http.StatusForbidden, "Not allowed", "You are not allowed to see this page.")
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSONError(w, http.StatusNotFound, "not_found", "No such resource.")
		return
	}
	s.renderError(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		s.notFound(w, r)
		return
	}
	if r.URL.Query().Get("v") == s.pages.staticHash[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	w.Header().Set("ETag", `"`+s.pages.staticHash[name]+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type jsonError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// writeJSONError writes the API's error shape: {"error": {...}}.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]jsonError{"error": {Code: code, Message: message}})
}

// excerpt shortens text to at most n characters on one line.
func excerpt(text string, n int) string {
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	runes := []rune(text)
	return strings.TrimSpace(string(runes[:n-1])) + "…"
}

// icons are the inline SVG icons of the interface; each is decorative and
// sits next to a text label for screen readers.
var icons = map[string]string{
	"globe":  `<circle cx="12" cy="12" r="9"/><path d="M3 12h18M12 3c2.5 2.5 3.8 5.5 3.8 9s-1.3 6.5-3.8 9c-2.5-2.5-3.8-5.5-3.8-9S9.5 5.5 12 3z"/>`,
	"pencil": `<path d="M4 20h4L19 9l-4-4L4 16v4z"/><path d="M13.5 6.5l4 4"/>`,
	"bin":    `<path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6"/>`,
}

func icon(name string) template.HTML {
	return template.HTML(`<svg class="icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">` +
		icons[name] + `</svg>`)
}
