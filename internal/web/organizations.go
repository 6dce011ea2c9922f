package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	SetsOwner   bool   // create only: the form may name another owner
	HasLogo     bool
	LogoURL     string
	RemoveLogo  bool
	// LogoChosen is set when the refused form came with a logo, which a
	// browser cannot put back in the file input: the page asks for it again.
	LogoChosen bool
	formErrors
	// The sender identity, edit only.
	SenderName    string
	ReplyTo       string
	PostalAddress string
}

// AskLogoAgain reports whether the form asks for the logo again: one came
// with a form refused for another reason.
func (f organizationForm) AskLogoAgain() bool { return f.LogoChosen && f.Fields["logo"] == "" }

func (s *Server) organizationNewForm(w http.ResponseWriter, r *http.Request) {
	user := currentUser(r.Context())
	if !s.orgs.MayCreate(user) {
		s.forbidden(w, r)
		return
	}
	s.render(w, r, http.StatusOK, "organization_form.html", "Add organization", organizationForm{SetsOwner: orgs.SetsOwners(user)})
}

func (s *Server) organizationCreate(w http.ResponseWriter, r *http.Request) {
	if !s.orgs.MayCreate(currentUser(r.Context())) {
		s.forbidden(w, r) // before reading what may be a large upload
		return
	}
	fields, logoChosen, err := s.readOrganizationForm(w, r)
	r = answerable(r, err)
	form := organizationForm{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), OwnerEmail: r.PostFormValue("owner_email"),
		LogoChosen: logoChosen, SetsOwner: orgs.SetsOwners(currentUser(r.Context()))}
	if err == nil {
		var org store.Organization
		org, err = s.orgs.Create(r.Context(), currentUser(r.Context()), fields)
		if err == nil {
			s.flashNext(r, fmt.Sprintf("Organization %q was added.", org.Name))
			http.Redirect(w, r, organizationPath(org.ID), http.StatusSeeOther)
			return
		}
	}
	shown := postedFields(r, "logo")
	if !form.SetsOwner {
		delete(shown, "owner_email") // not in this user's form: said at the top
	}
	s.formError(w, r, "organization_form.html", "Add organization", err, shown, func(e formErrors) any {
		form.formErrors = e
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
	s.render(w, withAuthorizedOrganization(r, d.View), http.StatusOK, "organization.html", d.Name, d)
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
		ID: v.ID, Name: v.Name, Description: v.Description, Slug: v.Slug, HasLogo: v.LogoETag != "", LogoURL: logoURL(v.ID, v.LogoETag, false),
		SenderName: v.Sender.Name, ReplyTo: v.Sender.ReplyTo, PostalAddress: v.Sender.PostalAddress})
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
	fields, logoChosen, err := s.readOrganizationForm(w, r)
	r = answerable(r, err)
	if err == nil {
		slug := r.PostFormValue("slug")
		fields.Slug = &slug
		fields.SenderName, fields.ReplyTo, fields.PostalAddress = postedField(r, "sender_name"), postedField(r, "reply_to"), postedField(r, "postal_address")
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
	form := organizationForm{ID: id, Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), Slug: r.PostFormValue("slug"),
		RemoveLogo: r.PostFormValue("remove_logo") == "on", LogoChosen: logoChosen,
		SenderName: r.PostFormValue("sender_name"), ReplyTo: r.PostFormValue("reply_to"), PostalAddress: r.PostFormValue("postal_address")}
	if v, getErr := s.orgs.Get(r.Context(), currentUser(r.Context()), id); getErr == nil {
		form.HasLogo, form.LogoURL = v.LogoETag != "", logoURL(v.ID, v.LogoETag, false)
	}
	s.formError(w, r, "organization_form.html", "Edit organization", err, postedFields(r, "logo"), func(e formErrors) any {
		form.formErrors = e
		return form
	})
}

type organizationDeletePage struct {
	orgs.Removal
	ConfirmName string // as typed in the refused form
	formErrors
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
			organizationDeletePage{Removal: removal, ConfirmName: r.PostFormValue("confirm_name"), formErrors: errorsFor(p, postedFields(r))})
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

// postedField is a field of a parsed form, or nil when the form does not
// have it, which leaves the value as it is.
func postedField(r *http.Request, name string) *string {
	if v, ok := r.PostForm[name]; ok && len(v) > 0 {
		return &v[0]
	}
	return nil
}

const (
	// formTextBytes bounds the text fields of a form with a file, together.
	formTextBytes = 1 << 20
	// formBodyBytes bounds what is read of a form with a logo. A logo over
	// its limit is read past, up to this, so that the fields after it are
	// kept too, and the browser, whose upload ends, gets the answer (a
	// server that stops reading closes the connection, which browsers may
	// show as a failure of their own).
	formBodyBytes = 8 * logo.MaxBytes
	// formParts bounds the parts of a form with a file.
	formParts = 100
)

// readOrganizationForm reads the multipart form of the create and edit
// pages, holding the body to formBodyBytes and the upload timeout, into
// r.PostForm. The whole form is read before anything is done with the
// logo. Its text fields are kept whatever happens to the logo, so that a
// logo refused for its size (or the time it took) leaves them on the form
// shown again. logoChosen reports whether a logo came with the form.
func (s *Server) readOrganizationForm(w http.ResponseWriter, r *http.Request) (f orgs.Fields, logoChosen bool, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, formBodyBytes)
	read := s.uploadDeadline(w)
	values, upload, err := readFormWithLogo(r)
	read(err)
	r.PostForm = values
	switch {
	case err == nil:
	case errors.As(err, new(*http.MaxBytesError)) || upload.tooLarge:
		return orgs.Fields{}, upload.chosen, onLogoField(logoTooLarge())
	case errors.Is(err, os.ErrDeadlineExceeded):
		return orgs.Fields{}, upload.chosen, onLogoField(uploadTooSlow())
	case errors.Is(err, errFormTooLarge):
		return orgs.Fields{}, upload.chosen, problem.New(problem.TooLarge, "form_too_large", "The form is too large: shorten its texts.")
	default:
		return orgs.Fields{}, upload.chosen, problem.New(problem.Malformed, "malformed_form", "The form could not be read. Please try again.")
	}
	if upload.tooLarge {
		return orgs.Fields{}, true, onLogoField(logoTooLarge())
	}
	name, description := values.Get("name"), values.Get("description")
	f = orgs.Fields{Name: &name, Description: &description, OwnerEmail: values.Get("owner_email")}
	if upload.chosen {
		f.Logo = bytes.NewReader(upload.data)
	}
	return f, upload.chosen, nil
}

// logoPart is the logo of a form, as read by readFormWithLogo.
type logoPart struct {
	data     []byte
	chosen   bool // a file was chosen, if maybe empty
	tooLarge bool // over logo.MaxBytes: data is nil
}

var errFormTooLarge = errors.New("the text fields of the form are over their limit")

// readFormWithLogo reads a form part by part: the text fields, and the
// file of the part named logo to logo.MaxBytes, past which the rest of the
// file is skipped and the reading goes on. Other files are skipped. A form
// that is not multipart is read as a plain one. On an error it returns
// what it read until then.
func readFormWithLogo(r *http.Request) (url.Values, logoPart, error) {
	var upload logoPart
	mr, err := r.MultipartReader()
	if errors.Is(err, http.ErrNotMultipart) {
		err = r.ParseForm()
		return r.PostForm, upload, err
	}
	values := url.Values{}
	if err != nil {
		return values, upload, err
	}
	textLeft := int64(formTextBytes)
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return values, upload, nil
		}
		if err != nil {
			return values, upload, err
		}
		if parts == formParts {
			return values, upload, errors.New("too many parts in the form")
		}
		name := part.FormName()
		switch {
		case name == "":
		case name == "logo" && !upload.chosen:
			data, err := io.ReadAll(io.LimitReader(part, logo.MaxBytes+1))
			if err != nil {
				return values, upload, err
			}
			upload.chosen = len(data) > 0 || part.FileName() != ""
			if len(data) > logo.MaxBytes {
				upload.tooLarge = true
			} else {
				upload.data = data
			}
		case part.FileName() != "":
		default:
			b, err := io.ReadAll(io.LimitReader(part, textLeft+1))
			if err != nil {
				return values, upload, err
			}
			if textLeft -= int64(len(b)); textLeft < 0 {
				return values, upload, errFormTooLarge
			}
			values.Add(name, string(b))
		}
	}
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

// formError re-renders a form with a problem's messages, each beside the
// field of those shown that it is about, or at the top; it fails the
// request when err is not a problem with the form.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, name, title string, err error, shown fieldSet, data func(formErrors) any) {
	p, ok := problem.As(err)
	if !ok {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, statusOf(p.Kind), name, title, data(errorsFor(p, shown)))
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
