package web

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/store"
)

type publicOrganizationPage struct {
	Organization store.Organization
	LogoURL      string
	Courses      []store.Course
}

// publicOrganization is an organization's public page: no login, its
// branding and the courses anyone may enroll in. Anonymous visitors, who
// are nearly all of its traffic, get the page from a short-lived cache.
func (s *Server) publicOrganization(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	anonymous := currentUser(r.Context()) == nil && !s.sessions.Exists(r.Context(), sessionFlash)
	if anonymous {
		if p, ok := s.publicPages.get(id); ok {
			writeCachedPage(w, r, p)
			return
		}
	}
	org, courses, err := s.orgs.Public(r.Context(), id)
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	data := publicOrganizationPage{Organization: org, LogoURL: logoURL(org.ID, org.LogoETag, false), Courses: courses}
	if !anonymous {
		s.renderPublic(w, r, http.StatusOK, "public_organization.html", "Courses", brandFor(org), data)
		return
	}
	body, err := s.renderPublicPage(r, "public_organization.html", "Courses", brandFor(org), data)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	writeCachedPage(w, r, s.publicPages.put(id, body))
}

// writeCachedPage serves a cached page, or 304 when the browser has it.
func writeCachedPage(w http.ResponseWriter, r *http.Request, p cachedPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("ETag", p.etag)
	h.Set("Cache-Control", "public, no-cache")
	if r.Header.Get("If-None-Match") == p.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(p.body)
}

// publicOrganizationBySlug sends /email-learning/public/@slug/ to the
// organization's page. The redirect is temporary: an admin may change the
// slug.
func (s *Server) publicOrganizationBySlug(w http.ResponseWriter, r *http.Request) {
	slug, ok := strings.CutPrefix(r.PathValue("handle"), "@")
	if !ok {
		s.notFound(w, r)
		return
	}
	id, err := s.orgs.IDBySlug(r.Context(), slug)
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	http.Redirect(w, r, organizationPage(id), http.StatusFound)
}

// organizationLogo serves a logo or its thumbnail. A request carrying the
// current version (?v=) may be cached for a year; others revalidate with
// the ETag.
func (s *Server) organizationLogo(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	l, err := s.orgs.Logo(r.Context(), id)
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	contentType, data, etag := l.ContentType, l.Data, l.ETag
	if strings.HasSuffix(r.URL.Path, "/thumb") {
		contentType, data, etag = l.ThumbContentType, l.Thumb, l.ThumbETag
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if v := r.URL.Query().Get("v"); v != "" && v == trimQuotes(l.ETag) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300, must-revalidate")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }
