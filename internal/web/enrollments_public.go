package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// unsubscribePostPattern is the route of one-click unsubscribing. The
// cross-origin protection lets it through (see New), so it is named once
// for both.
const unsubscribePostPattern = "POST /email-learning/public/unsubscribe/{enrollment_id}/{signature}/"

// honeypotField is a form field hidden from people: only bots fill it in.
const honeypotField = "website"

// publicCoursePage is a course's public page with its enrollment form.
type publicCoursePage struct {
	Organization store.Organization
	LogoURL      string
	Course       store.Course
	Email        string
	Fields       map[string]string
}

func (s *Server) loadPublicCourse(r *http.Request) (publicCoursePage, error) {
	id, err := pathID(r)
	if err != nil {
		return publicCoursePage{}, err
	}
	org, course, err := s.learning.PublicCourse(r.Context(), id, r.PathValue("slug"))
	if err != nil {
		return publicCoursePage{}, err
	}
	return publicCoursePage{Organization: org, LogoURL: logoURL(org.ID, org.LogoETag, false), Course: course}, nil
}

// publicCourseError answers a course page that cannot be shown: a course
// that is not open speaks for its organization when that has a public
// page.
func (s *Server) publicCourseError(w http.ResponseWriter, r *http.Request, err error) {
	var brand publicBrand
	if id, idErr := pathID(r); idErr == nil {
		if brand = s.brandOf(r.Context(), id); brand.Home == "" {
			brand = publicBrand{}
		}
	}
	s.publicPageError(w, r, err, brand)
}

func (s *Server) publicCourse(w http.ResponseWriter, r *http.Request) {
	p, err := s.loadPublicCourse(r)
	if err != nil {
		s.publicCourseError(w, r, err)
		return
	}
	s.renderPublic(w, r, http.StatusOK, "public_course.html", p.Course.Title, brandFor(p.Organization), p)
}

// publicEnroll takes the enrollment form. Every well-formed address gets
// the same answer, a redirect to the same page, after the same work (a
// job enqueued), whatever happens in the job (an email, a reminder,
// nothing because of the throttle, nothing because the address is
// blocked), so neither the form nor its timing tells anybody who is
// enrolled or blocked. Every request counts against the client's IP; each
// mailbox (the address without its +tag) gets a few requests' worth of
// email an hour, and requests over that get the same answer but send
// nothing. A filled-in honeypot field gets the same answer too, and does
// nothing.
func (s *Server) publicEnroll(w http.ResponseWriter, r *http.Request) {
	if allowed, err := s.enrollPerIP.Allow(r.Context(), clientNetwork(r)); err != nil {
		s.serverError(w, r, err)
		return
	} else if !allowed {
		w.Header().Set("Retry-After", "60")
		s.renderPublicError(w, r, http.StatusTooManyRequests, "Too many requests", "Too many requests. Wait a minute and try again.", publicBrand{})
		return
	}
	p, err := s.loadPublicCourse(r)
	if err != nil {
		s.publicCourseError(w, r, err)
		return
	}
	done := learning.CoursePath(p.Organization.ID, p.Course.Slug) + "enrolled"
	if r.PostFormValue(honeypotField) != "" {
		http.Redirect(w, r, done, http.StatusSeeOther)
		return
	}
	p.Email = strings.TrimSpace(r.PostFormValue("email"))
	err = s.requestEnrollment(r, p.Organization.ID, p.Course.Slug, p.Email)
	if pr, ok := problem.As(err); ok && pr.Kind == problem.Invalid {
		p.Fields = pr.Fields
		s.renderPublic(w, r, http.StatusUnprocessableEntity, "public_course.html", p.Course.Title, brandFor(p.Organization), p)
		return
	}
	if err != nil {
		s.publicPageError(w, r, err, brandFor(p.Organization))
		return
	}
	http.Redirect(w, r, done, http.StatusSeeOther)
}

// publicEnrolled is the page after the form: the same for everyone.
func (s *Server) publicEnrolled(w http.ResponseWriter, r *http.Request) {
	p, err := s.loadPublicCourse(r)
	if err != nil {
		s.publicCourseError(w, r, err)
		return
	}
	s.renderPublic(w, r, http.StatusOK, "public_enrolled.html", "Check your inbox", brandFor(p.Organization), p)
}

// apiPublicEnroll is the enrollment form for scripts: 202 for every
// well-formed address, with the same limits.
func (s *Server) apiPublicEnroll(w http.ResponseWriter, r *http.Request) error {
	if allowed, err := s.enrollPerIP.Allow(r.Context(), clientNetwork(r)); err != nil {
		return err
	} else if !allowed {
		w.Header().Set("Retry-After", "60")
		return problem.New(problem.Throttled, "too_many_requests", "Too many requests. Wait a minute and try again.")
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		Email string `json:"email"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	slug := r.PathValue("slug")
	if _, _, err := s.learning.PublicCourse(r.Context(), id, slug); err != nil {
		return err
	}
	if err := s.requestEnrollment(r, id, slug, in.Email); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "pending_confirmation"})
	return nil
}

// requestEnrollment hands an address to the learning service, marked when
// its mailbox is over its limit: every well-formed one costs the same
// work, a job enqueued, whatever the address.
func (s *Server) requestEnrollment(r *http.Request, orgID int64, slug, email string) error {
	overLimit := false
	if normalized, err := auth.NormalizeEmail(email); err == nil {
		allowed, err := s.enrollPerAddress.Allow(r.Context(), auth.MailboxKey(normalized))
		if err != nil {
			return err
		}
		overLimit = !allowed
	}
	return s.learning.RequestEnrollment(r.Context(), learning.EnrollmentRequest{
		OrganizationID: orgID, CourseSlug: slug, Email: email, ClientIP: clientIP(r), OverLimit: overLimit})
}

// confirmPage shows a confirmation link: the course and a button, or why
// the link does not work, or, after the click, that it worked.
type confirmPage struct {
	learning.Confirmation
	Token     string
	Confirmed bool
	LinkError string
	Used      bool // the link was used before: the enrollment was confirmed then
}

// enrollmentConfirmForm only checks the link: mail scanners fetch links,
// and must not confirm anything.
func (s *Server) enrollmentConfirmForm(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	c, err := s.learning.CheckConfirmation(r.Context(), token)
	if err != nil {
		s.confirmLinkError(w, r, c, err)
		return
	}
	s.renderPublic(w, r, http.StatusOK, "enrollment_confirm.html", "Confirm your enrollment",
		s.brandOf(r.Context(), c.Enrollment.OrganizationID), confirmPage{Confirmation: c, Token: token})
}

func (s *Server) enrollmentConfirm(w http.ResponseWriter, r *http.Request) {
	c, err := s.learning.Confirm(r.Context(), r.PathValue("token"), clientIP(r))
	if err != nil {
		s.confirmLinkError(w, r, c, err)
		return
	}
	s.renderPublic(w, r, http.StatusOK, "enrollment_confirm.html", "You are enrolled",
		s.brandOf(r.Context(), c.Enrollment.OrganizationID), confirmPage{Confirmation: c, Confirmed: true})
}

// confirmLinkError answers a link that does not work: 404 when it never
// did, 410 when it is used or expired. A used or expired link still names
// its enrollment (c), so the page speaks for the organization and, for a
// used one, says where the learner stands.
func (s *Server) confirmLinkError(w http.ResponseWriter, r *http.Request, c learning.Confirmation, err error) {
	p, ok := problem.As(err)
	if !ok {
		s.serverError(w, r, err)
		return
	}
	page := confirmPage{Confirmation: c, LinkError: p.Message, Used: errors.Is(err, learning.ErrConfirmLinkUsed)}
	title := "Link not valid"
	switch {
	case page.Used:
		title = "Already confirmed"
	case errors.Is(err, learning.ErrConfirmLinkExpired):
		title = "Link expired"
	case p.Kind == problem.Gone:
		title = "Link no longer valid"
	}
	var brand publicBrand
	if c.Enrollment.OrganizationID != 0 {
		brand = s.brandOf(r.Context(), c.Enrollment.OrganizationID)
	}
	s.renderPublic(w, r, statusOf(p.Kind), "enrollment_confirm.html", title, brand, page)
}

// unsubscribePage shows an unsubscribe link: a button, or that it is done.
type unsubscribePage struct {
	learning.Unsubscription
	Path   string // the form's action, while the enrollment is open
	Posted bool   // the page answers the unsubscribe button or a one-click POST
	Home   string // the organization's public page; empty when it has none
}

func unsubscribeLink(r *http.Request) (int64, string, error) {
	id, err := pathInt64(r, "enrollment_id")
	return id, r.PathValue("signature"), err
}

func (s *Server) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	id, sig, err := unsubscribeLink(r)
	var u learning.Unsubscription
	if err == nil {
		u, err = s.learning.CheckUnsubscribe(r.Context(), id, sig)
	}
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	brand := s.brandOf(r.Context(), u.Enrollment.OrganizationID)
	s.renderPublic(w, r, http.StatusOK, "unsubscribe.html", "Unsubscribe", brand,
		unsubscribePage{Unsubscription: u, Path: learning.UnsubscribePath(id, sig), Home: brand.Home})
}

// unsubscribe ends the enrollment: from the page's button, or a mail
// client's one-click POST (RFC 8058), which carries no session, no form
// token and maybe a foreign Origin. The signature in the URL is the whole
// authority, and the answer is the same however often it comes.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	id, sig, err := unsubscribeLink(r)
	var u learning.Unsubscription
	if err == nil {
		u, err = s.learning.Unsubscribe(r.Context(), id, sig)
	}
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	brand := s.brandOf(r.Context(), u.Enrollment.OrganizationID)
	s.renderPublic(w, r, http.StatusOK, "unsubscribe.html", "Unsubscribed", brand,
		unsubscribePage{Unsubscription: u, Posted: true, Home: brand.Home})
}
