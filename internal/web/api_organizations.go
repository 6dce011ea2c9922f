package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// organizationJSON is an organization in the API.
type organizationJSON struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Slug        string    `json:"slug"`
	Description string    `json:"description"`
	LogoURL     string    `json:"logo_url"`
	PublicURL   string    `json:"public_url"`
	MemberCount *int      `json:"member_count,omitempty"`
	CourseCount *int      `json:"course_count,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// The sender identity of course emails; empty for the defaults.
	SenderName    string `json:"sender_name"`
	ReplyTo       string `json:"reply_to"`
	PostalAddress string `json:"postal_address"`
	// SuspendedAt is when a platform admin suspended it; null while it
	// is active.
	SuspendedAt *time.Time `json:"suspended_at"`
	// The numbers of the organization's page; only when one organization
	// is read.
	Counts *organizationCountsJSON `json:"counts,omitempty"`
}

func (s *Server) organizationJSON(o store.Organization) organizationJSON {
	j := organizationJSON{ID: o.ID, Name: o.Name, Slug: o.Slug, Description: o.Description,
		SenderName: o.Sender.Name, ReplyTo: o.Sender.ReplyTo, PostalAddress: o.Sender.PostalAddress,
		PublicURL: s.baseURL + "/email-learning/public/organization/" + itoa(o.ID) + "/",
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, SuspendedAt: o.SuspendedAt}
	if u := logoURL(o.ID, o.LogoETag, false); u != "" {
		j.LogoURL = s.baseURL + u
	}
	return j
}

func (s *Server) apiOrganizationList(w http.ResponseWriter, r *http.Request) error {
	page, err := cursorPage(r)
	if err != nil {
		return err
	}
	p, err := s.orgs.List(r.Context(), currentUser(r.Context()), r.URL.Query().Get("q"), page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(p.Items, p.Page, p.Pages, func(o orgs.ListItem) organizationJSON {
		j := s.organizationJSON(o.Organization)
		j.MemberCount, j.CourseCount = &o.MemberCount, &o.CourseCount
		return j
	}))
	return nil
}

// organizationInput is the body of POST and PATCH; absent fields are nil.
type organizationInput struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Slug        *string `json:"slug"`
	OwnerEmail  *string `json:"owner_email"` // create only
	// The sender identity; "" restores a default.
	SenderName    *string `json:"sender_name"`
	ReplyTo       *string `json:"reply_to"`
	PostalAddress *string `json:"postal_address"`
}

func (s *Server) apiOrganizationCreate(w http.ResponseWriter, r *http.Request) error {
	var in organizationInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if in.Slug != nil {
		return problem.Field("slug", "slug_not_settable", "The slug is made from the name at creation; change it afterwards.")
	}
	org, err := s.orgs.Create(r.Context(), currentUser(r.Context()), orgs.Fields{Name: in.Name, Description: in.Description, OwnerEmail: deref(in.OwnerEmail),
		SenderName: in.SenderName, ReplyTo: in.ReplyTo, PostalAddress: in.PostalAddress})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.organizationJSON(org))
	return nil
}

func (s *Server) apiOrganizationGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, err := s.orgs.GetDetail(r.Context(), currentUser(r.Context()), id, 1)
	if err != nil {
		return err
	}
	j := s.organizationJSON(d.Organization)
	j.Counts = organizationCounts(d.Counts)
	writeJSON(w, http.StatusOK, j)
	return nil
}

func (s *Server) apiOrganizationUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in organizationInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if in.OwnerEmail != nil {
		return problem.Field("owner_email", "owner_not_settable", "Ownership moves by a transfer: POST /api/v1/organizations/{id}/transfer-ownership.")
	}
	org, err := s.orgs.Update(r.Context(), currentUser(r.Context()), id, orgs.Fields{Name: in.Name, Description: in.Description, Slug: in.Slug,
		SenderName: in.SenderName, ReplyTo: in.ReplyTo, PostalAddress: in.PostalAddress})
	if err != nil {
		return err
	}
	s.publicPages.forget(id)
	writeJSON(w, http.StatusOK, s.organizationJSON(org))
	return nil
}

// apiOrganizationDelete needs {"confirm_name": "<the organization's name>"}
// in the body, as the delete page needs the name typed.
func (s *Server) apiOrganizationDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		ConfirmName string `json:"confirm_name"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.orgs.Delete(r.Context(), currentUser(r.Context()), id, in.ConfirmName); err != nil {
		return err
	}
	s.publicPages.forget(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiOrganizationLogoPut replaces the logo with the request body.
func (s *Server) apiOrganizationLogoPut(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	// The body is read only for someone who may edit, and whole before it
	// is decoded.
	if _, err := s.editableOrganization(r, id); err != nil {
		return err
	}
	data, err := s.readLogoBody(w, r)
	if err != nil {
		return err
	}
	org, err := s.orgs.Update(r.Context(), currentUser(r.Context()), id, orgs.Fields{Logo: bytes.NewReader(data)})
	if err != nil {
		return err
	}
	s.publicPages.forget(id)
	writeJSON(w, http.StatusOK, s.organizationJSON(org))
	return nil
}

func (s *Server) apiOrganizationLogoDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	org, err := s.orgs.Update(r.Context(), currentUser(r.Context()), id, orgs.Fields{RemoveLogo: true})
	if err != nil {
		return err
	}
	s.publicPages.forget(id)
	writeJSON(w, http.StatusOK, s.organizationJSON(org))
	return nil
}

// readJSON decodes a JSON request body of at most 64 KiB into v; an empty
// body decodes as {}.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return readJSONUpTo(w, r, v, 64<<10)
}

// readJSONUpTo is readJSON for bodies of at most limit bytes (whole KiB).
func readJSONUpTo(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
		return problem.New(problem.UnsupportedType, "unsupported_media_type", "Send the request body as application/json.")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, new(*http.MaxBytesError)):
		return problem.Newf(problem.TooLarge, "body_too_large", "The request body is larger than %d KiB.", limit>>10)
	default:
		return problem.Newf(problem.Malformed, "malformed_json", "The request body is not valid JSON for this request: %v.", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
