package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/logo"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

const organizationsPath = "/email-learning/platform/organizations/"

func organizationPath(id int64) string { return organizationsPath + strconv.FormatInt(id, 10) + "/" }

// pathID reads the {id} of a URL; a malformed id is a missing page.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, orgs.ErrNotFound
	}
	return id, nil
}

func (s *Server) organizationList(w http.ResponseWriter, r *http.Request) {
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page, err := s.orgs.List(r.Context(), currentUser(r.Context()), r.URL.Query().Get("q"), pageNo)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "organizations.html", "Organizations", page)
}

// organizationForm is the data of the create and edit forms.
type organizationForm struct {
	ID          int64 // 0 when creating
	Name        string
	Description string
	Slug        string
	OwnerEmail  string // create only
	HasLogo     bool
	LogoURL     string
	Error       string
	Fields      map[string]string
}

func (s *Server) organizationNewForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "organization_form.html", "Add organization", organizationForm{})
}

func (s *Server) organizationCreate(w http.ResponseWriter, r *http.Request) {
	fields, cleanup, err := s.readOrganizationForm(w, r)
	defer cleanup()
	r = answerable(r, err)
	form := organizationForm{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), OwnerEmail: r.PostFormValue("owner_email")}
	if err == nil {
		var org store.Organization
		org, err = s.orgs.Create(r.Context(), currentUser(r.Context()), fields)
		if err == nil {
			s.flashNext(r, fmt.Sprintf("Organization %q was added.", org.Name))
			http.Redirect(w, r, organizationPath(org.ID), http.StatusSeeOther)
			return
		}
	}
	s.formError(w, r, "organization_form.html", "Add organization", err, func(msg string, f map[string]string) any {
		form.Error, form.Fields = msg, f
		return form
	})
}

func (s *Server) organizationDetail(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	d, err := s.orgs.GetDetail(r.Context(), currentUser(r.Context()), id, pageNo)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "organization.html", d.Name, d)
}

// editableOrganization returns an organization the user may edit:
// orgs.ErrNotFound for one they may not see, orgs.ErrForbidden for one
// they may only see.
func (s *Server) editableOrganization(r *http.Request, id int64) (orgs.View, error) {
	v, err := s.orgs.Get(r.Context(), currentUser(r.Context()), id)
	if err == nil && !v.CanEdit {
		err = orgs.ErrForbidden
	}
	return v, err
}

func (s *Server) organizationEditForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.editableOrganization(r, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "organization_form.html", "Edit "+v.Name, organizationForm{
		ID: v.ID, Name: v.Name, Description: v.Description, Slug: v.Slug, HasLogo: v.LogoETag != "", LogoURL: logoURL(v.ID, v.LogoETag, false)})
}

func (s *Server) organizationUpdate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	// The form, and the logo in it, is read only for someone who may edit.
	if _, err := s.editableOrganization(r, id); err != nil {
		s.pageError(w, r, err)
		return
	}
	fields, cleanup, err := s.readOrganizationForm(w, r)
	defer cleanup()
	r = answerable(r, err)
	if err == nil {
		slug := r.PostFormValue("slug")
		fields.Slug = &slug
		fields.RemoveLogo = r.PostFormValue("remove_logo") == "on"
		var org store.Organization
		org, err = s.orgs.Update(r.Context(), currentUser(r.Context()), id, fields)
		if err == nil {
			s.publicPages.forget(id)
			s.flashNext(r, "Your changes were saved.")
			http.Redirect(w, r, organizationPath(org.ID), http.StatusSeeOther)
			return
		}
	}
	if p, ok := problem.As(err); ok && (p.Kind == problem.NotFound || p.Kind == problem.Forbidden) {
		s.pageError(w, r, err)
		return
	}
	form := organizationForm{ID: id, Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), Slug: r.PostFormValue("slug")}
	if v, getErr := s.orgs.Get(r.Context(), currentUser(r.Context()), id); getErr == nil {
		form.HasLogo, form.LogoURL = v.LogoETag != "", logoURL(v.ID, v.LogoETag, false)
	}
	s.formError(w, r, "organization_form.html", "Edit organization", err, func(msg string, f map[string]string) any {
		form.Error, form.Fields = msg, f
		return form
	})
}

type organizationDeletePage struct {
	orgs.Removal
	Error string
}

func (s *Server) organizationDeleteForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	removal, err := s.orgs.PrepareDelete(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "organization_delete.html", "Delete "+removal.Name, organizationDeletePage{Removal: removal})
}

func (s *Server) organizationDelete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	removal, err := s.orgs.PrepareDelete(r.Context(), user, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	err = s.orgs.Delete(r.Context(), user, id, r.PostFormValue("confirm_name"))
	if p, ok := problem.As(err); ok && p.Kind == problem.Invalid {
		s.render(w, r, http.StatusUnprocessableEntity, "organization_delete.html", "Delete "+removal.Name,
			organizationDeletePage{Removal: removal, Error: p.Message})
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.publicPages.forget(id)
	if s.sessions.GetInt64(r.Context(), sessionOrganization) == id {
		s.sessions.Remove(r.Context(), sessionOrganization)
	}
	s.flashNext(r, fmt.Sprintf("Organization %q and everything it owned were deleted.", removal.Name))
	http.Redirect(w, r, organizationsPath, http.StatusSeeOther)
}

// organizationSwitch goes to the organization chosen in the switcher; its
// page remembers it as the one last visited. No choice at all (the select
// of someone who has not chosen yet, sent without the browser's check)
// leads to the list to choose from.
func (s *Server) organizationSwitch(w http.ResponseWriter, r *http.Request) {
	choice := r.PostFormValue("organization_id")
	if choice == "" {
		http.Redirect(w, r, organizationsPath, http.StatusSeeOther)
		return
	}
	id, _ := strconv.ParseInt(choice, 10, 64)
	v, err := s.orgs.Get(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, organizationPath(v.ID), http.StatusSeeOther)
}

// readOrganizationForm parses the multipart form of the create and edit
// pages, holding the logo upload to its size limit and the upload timeout.
// The whole form is read before anything is done with the logo.
func (s *Server) readOrganizationForm(w http.ResponseWriter, r *http.Request) (orgs.Fields, func(), error) {
	cleanup := func() {}
	r.Body = http.MaxBytesReader(w, r.Body, logo.MaxBytes+64<<10)
	read := s.uploadDeadline(w)
	err := r.ParseMultipartForm(1 << 20)
	read(err)
	if err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			return orgs.Fields{}, cleanup, onLogoField(logoTooLarge())
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return orgs.Fields{}, cleanup, onLogoField(uploadTooSlow())
		}
		if !errors.Is(err, http.ErrNotMultipart) {
			return orgs.Fields{}, cleanup, problem.New(problem.Malformed, "malformed_form", "The form could not be read. Please try again.")
		}
	}
	if r.MultipartForm != nil {
		cleanup = func() { r.MultipartForm.RemoveAll() }
	}
	name, description := r.PostFormValue("name"), r.PostFormValue("description")
	f := orgs.Fields{Name: &name, Description: &description, OwnerEmail: r.PostFormValue("owner_email")}
	file, header, err := r.FormFile("logo")
	switch {
	case errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart):
	case err != nil:
		return orgs.Fields{}, cleanup, problem.New(problem.Malformed, "malformed_form", "The logo could not be read. Please try again.")
	case header.Size > 0 || header.Filename != "":
		f.Logo = readerOnly{file}
		prev := cleanup
		cleanup = func() { file.Close(); prev() }
	default:
		file.Close()
	}
	return f, cleanup, nil
}

// uploadDeadline gives the body of a request s.uploadTimeout to arrive, so
// that a slow sender holds a connection for a bounded time (and nothing
// else: logos are decoded only once read whole). The returned function
// takes the outcome of reading the body. Once the body is read it lifts
// the deadline, which would otherwise end the request while the logo waits
// to be decoded; after a timeout it keeps it, so that the server does not
// wait for the rest of the body before it answers.
func (s *Server) uploadDeadline(w http.ResponseWriter) (bodyRead func(error)) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(s.uploadTimeout)); err != nil {
		return func(error) {} // a connection without deadlines, as in some tests
	}
	return func(err error) {
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			rc.SetReadDeadline(time.Time{})
		}
	}
}

// readLogoBody reads a request body that is a logo, whole, within the
// upload timeout and the logo's size limit.
func (s *Server) readLogoBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	read := s.uploadDeadline(w)
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, logo.MaxBytes))
	read(err)
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		return nil, logoTooLarge()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, uploadTooSlow()
	}
	if err != nil {
		return nil, problem.New(problem.Malformed, "malformed_body", "The request body could not be read. Please try again.")
	}
	return data, nil
}

func logoTooLarge() *problem.Error {
	return problem.New(problem.TooLarge, "logo_too_large", "The logo is larger than 2 MiB.")
}

func uploadTooSlow() *problem.Error {
	return problem.New(problem.TimedOut, "upload_timeout", "The upload took too long to arrive. Please try again, perhaps with a smaller file.")
}

// onLogoField makes p the message of the form's logo field too.
func onLogoField(p *problem.Error) *problem.Error {
	p.Fields = map[string]string{"logo": p.Message}
	return p
}

// answerable returns r with a context that outlives a failed read of its
// body, which ends r's context (a client too slow, or gone), so that the
// form can still be shown again with the error.
func answerable(r *http.Request, readErr error) *http.Request {
	if readErr == nil || r.Context().Err() == nil {
		return r
	}
	return r.WithContext(context.WithoutCancel(r.Context()))
}

// readerOnly hides everything but Read, so nothing can learn the upload's
// file name or claimed type: the logo is judged by its bytes alone.
type readerOnly struct{ r multipart.File }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

var _ io.Reader = readerOnly{}

// formError re-renders a form with a problem's messages, or fails the
// request when err is not a problem with the form.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, name, title string, err error, data func(msg string, fields map[string]string) any) {
	p, ok := problem.As(err)
	if !ok {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, statusOf(p.Kind), name, title, data(p.Message, p.Fields))
}

// logoURL is the address of an organization's logo, versioned by its ETag
// so it can be cached for long; "" when there is no logo.
func logoURL(orgID int64, etag string, thumb bool) string {
	if etag == "" {
		return ""
	}
	path := fmt.Sprintf("/email-learning/public/organization/%d/logo", orgID)
	if thumb {
		path += "/thumb"
	}
	return path + "?v=" + url.QueryEscape(trimQuotes(etag))
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
