package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// publicPrefix starts the address of every page learners see: they get
// the public layout, which speaks for the organization and offers nothing
// of the staff interface.
const publicPrefix = "/email-learning/public/"

// publicBrand is the organization a learner-facing page speaks for. The
// zero value is neutral: a page whose organization is not known (a link
// that never worked, an address that leads nowhere).
type publicBrand struct {
	Name    string
	LogoURL string // the logo's thumbnail; empty without a logo
	Home    string // the organization's public page; empty when it has none (switched off)
}

func organizationPage(orgID int64) string { return publicPrefix + "organization/" + itoa(orgID) + "/" }

func brandFor(org store.Organization) publicBrand {
	b := publicBrand{Name: org.Name, LogoURL: logoURL(org.ID, org.LogoETag, true)}
	if org.IsActive {
		b.Home = organizationPage(org.ID)
	}
	return b
}

// brandOf returns the brand of an organization, neutral when it is gone.
// A failure to read it is logged and the page goes out neutral: it may be
// telling a learner that an unsubscription worked.
func (s *Server) brandOf(ctx context.Context, orgID int64) publicBrand {
	org, err := s.orgs.Branding(ctx, orgID)
	if err != nil {
		if !errors.Is(err, orgs.ErrNotFound) {
			s.logger.Error("read the organization of a public page", "organization", orgID, "err", err)
		}
		return publicBrand{}
	}
	return brandFor(org)
}

// publicPage is what the public layout gets.
type publicPage struct {
	Title   string
	Brand   publicBrand
	Flashes []flash
	Data    any
}

// renderPublic writes a learner-facing page with the public layout.
func (s *Server) renderPublic(w http.ResponseWriter, r *http.Request, status int, name, title string, brand publicBrand, data any) {
	body, err := s.renderPublicPage(r, name, title, brand, data)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) renderPublicPage(r *http.Request, name, title string, brand publicBrand, data any) ([]byte, error) {
	t, ok := s.pages.byName[name]
	if !ok {
		return nil, fmt.Errorf("no template %s", name)
	}
	p := publicPage{Title: title, Brand: brand, Data: data}
	if msg := s.sessions.PopString(r.Context(), sessionFlash); msg != "" {
		p.Flashes = append(p.Flashes, flash{Kind: "info", Message: msg})
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "public_layout", p); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// publicError is the error page of a learner-facing address.
type publicError struct {
	Message string
	Home    string // where to go from here: the organization's page, if known
}

func (s *Server) renderPublicError(w http.ResponseWriter, r *http.Request, status int, title, message string, brand publicBrand) {
	s.renderPublic(w, r, status, "public_error.html", title, brand, publicError{Message: message, Home: brand.Home})
}

// publicPageError answers a failed learner-facing request like pageError,
// with the public layout.
func (s *Server) publicPageError(w http.ResponseWriter, r *http.Request, err error, brand publicBrand) {
	p, ok := problem.As(err)
	if !ok {
		s.serverError(w, r, err)
		return
	}
	status := statusOf(p.Kind)
	s.renderPublicError(w, r, status, errorTitle(status), p.Message, brand)
}
