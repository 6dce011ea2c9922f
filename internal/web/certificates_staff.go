package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
)

// staffCertificatePath is the staff's page of a certificate.
func staffCertificatePath(orgID int64, number string) string {
	return organizationPath(orgID) + "certificates/" + number + "/"
}

func (s *Server) certificateList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	params := r.URL.Query()
	cq := learning.CertificateQuery{Search: params.Get("q")}
	cq.Page, _ = strconv.Atoi(params.Get("page"))
	// A course that is not a number selects nothing rather than an error:
	// the form only offers the organization's courses.
	if c, err := strconv.ParseInt(params.Get("course"), 10, 64); err == nil && c > 0 {
		cq.CourseID = c
	}
	list, err := s.learning.Certificates(r.Context(), currentUser(r.Context()), id, cq)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "certificates.html", "Certificates of "+list.Name, list)
}

func (s *Server) certificateDetail(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	page, err := s.learning.StaffCertificate(r.Context(), currentUser(r.Context()), id, r.PathValue("number"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "certificate_detail.html", "Certificate "+page.Certificate.Number, page)
}

// certificateRevokePage is the confirmation page of a revocation, with
// its reason.
type certificateRevokePage struct {
	learning.CertificatePage
	Reason    string
	MaxReason int
	formErrors
}

func (s *Server) certificateRevokeForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	page, err := s.learning.PrepareRevoke(r.Context(), currentUser(r.Context()), id, r.PathValue("number"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "certificate_revoke.html", "Revoke certificate "+page.Certificate.Number,
		certificateRevokePage{CertificatePage: page, MaxReason: learning.MaxRevocationReasonRunes})
}

// certificateRevoke revokes and shows the certificate; a refused reason
// shows the form again with it.
func (s *Server) certificateRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user, number, reason := currentUser(r.Context()), r.PathValue("number"), r.PostFormValue("reason")
	c, err := s.learning.RevokeCertificate(r.Context(), user, id, number, reason)
	if err == nil {
		s.flashNext(r, fmt.Sprintf("Certificate %s of %s is revoked: its public page says so from now on.", c.Number, c.LearnerEmail))
		http.Redirect(w, r, staffCertificatePath(id, c.Number), http.StatusSeeOther)
		return
	}
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid {
		s.pageError(w, r, err)
		return
	}
	page, loadErr := s.learning.PrepareRevoke(r.Context(), user, id, number)
	if loadErr != nil {
		s.pageError(w, r, loadErr)
		return
	}
	s.render(w, r, statusOf(p.Kind), "certificate_revoke.html", "Revoke certificate "+page.Certificate.Number,
		certificateRevokePage{CertificatePage: page, Reason: reason, MaxReason: learning.MaxRevocationReasonRunes,
			formErrors: errorsFor(p, postedFields(r, "reason"))})
}
