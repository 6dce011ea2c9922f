package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// enrollmentPath is the staff's page of an enrollment.
func enrollmentPath(orgID, id int64) string {
	return organizationPath(orgID) + "enrollments/" + strconv.FormatInt(id, 10) + "/"
}

func (s *Server) learnerList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page, err := s.learning.Learners(r.Context(), currentUser(r.Context()), id, r.URL.Query().Get("q"), pageNo)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "learners.html", "Learners of "+page.Name, page)
}

func (s *Server) enrollmentDetail(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := orgAndID(r, "enrollment_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	page, err := s.learning.Enrollment(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "enrollment.html", "Enrollment of "+page.Enrollment.LearnerEmail, page)
}

func (s *Server) enrollmentCancelForm(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := orgAndID(r, "enrollment_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	page, err := s.learning.PrepareCancel(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "enrollment_cancel.html", "Cancel the enrollment of "+page.Enrollment.LearnerEmail, page)
}

func (s *Server) enrollmentCancel(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := orgAndID(r, "enrollment_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	e, err := s.learning.CancelEnrollment(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, fmt.Sprintf("The enrollment of %s in %s was cancelled: the course sends nothing more.", e.LearnerEmail, e.CourseTitle))
	http.Redirect(w, r, enrollmentPath(orgID, id), http.StatusSeeOther)
}

// blockedEmailsPage is the list of blocked addresses with its forms: an
// organization's, or the platform-wide one.
type blockedEmailsPage struct {
	learning.BlockedPage
	Path  string // of the list; the forms post to it
	Email string
	formErrors
}

// blockedScope tells which list a request is about: the organization in
// its URL, or, without one, the platform-wide list.
func blockedScope(r *http.Request) (orgID int64, path string, err error) {
	if r.PathValue("id") == "" {
		return 0, "/email-learning/platform/blocked-emails/", nil
	}
	if orgID, err = pathID(r); err != nil {
		return 0, "", err
	}
	return orgID, organizationPath(orgID) + "blocked-emails/", nil
}

func (s *Server) loadBlockedEmails(r *http.Request, orgID int64, path string) (blockedEmailsPage, error) {
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	user := currentUser(r.Context())
	var (
		page learning.BlockedPage
		err  error
	)
	if orgID == 0 {
		page, err = s.learning.PlatformBlockedEmails(r.Context(), user, pageNo)
	} else {
		page, err = s.learning.BlockedEmails(r.Context(), user, orgID, pageNo)
	}
	return blockedEmailsPage{BlockedPage: page, Path: path}, err
}

func blockedTitle(p blockedEmailsPage) string {
	if p.PlatformWide {
		return "Addresses blocked everywhere"
	}
	return "Blocked addresses of " + p.Name
}

func (s *Server) blockedList(w http.ResponseWriter, r *http.Request) {
	orgID, path, err := blockedScope(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p, err := s.loadBlockedEmails(r, orgID, path)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "blocked_emails.html", blockedTitle(p), p)
}

func (s *Server) blockedAdd(w http.ResponseWriter, r *http.Request) {
	orgID, path, err := blockedScope(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user, email := currentUser(r.Context()), r.PostFormValue("email")
	var b store.BlockedEmail
	if orgID == 0 {
		b, err = s.learning.BlockEmailEverywhere(r.Context(), user, email)
	} else {
		b, err = s.learning.BlockEmail(r.Context(), user, orgID, email)
	}
	if err == nil {
		s.flashNext(r, fmt.Sprintf("%s is blocked: it gets no more email.", b.Email))
		http.Redirect(w, r, path, http.StatusSeeOther)
		return
	}
	p, ok := problem.As(err)
	if !ok || p.Kind == problem.NotFound || p.Kind == problem.Forbidden {
		s.pageError(w, r, err)
		return
	}
	page, loadErr := s.loadBlockedEmails(r, orgID, path)
	if loadErr != nil {
		s.pageError(w, r, loadErr)
		return
	}
	page.Email, page.formErrors = email, errorsFor(p, postedFields(r))
	s.render(w, r, statusOf(p.Kind), "blocked_emails.html", blockedTitle(page), page)
}

func (s *Server) blockedRemove(w http.ResponseWriter, r *http.Request) {
	orgID, path, err := blockedScope(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user, email := currentUser(r.Context()), r.PostFormValue("email")
	if orgID == 0 {
		err = s.learning.UnblockEmailEverywhere(r.Context(), user, email)
	} else {
		err = s.learning.UnblockEmailNoted(r.Context(), user, orgID, email, r.PostFormValue("note"))
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, "The address is no longer blocked.")
	http.Redirect(w, r, path, http.StatusSeeOther)
}
