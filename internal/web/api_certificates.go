package web

import (
	"net/http"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// certificateJSON is a certificate in the API, as the organization's
// staff see it: the shape webhook payloads carry too.
type certificateJSON = webhooks.CertificateData

func (s *Server) toCertificateJSON(c store.Certificate) certificateJSON {
	j := certificateJSON{ID: c.ID, Number: c.Number, EnrollmentID: c.EnrollmentID, LearnerEmail: c.LearnerEmail,
		CourseID: c.CourseID, CourseTitle: c.CourseTitle, OrganizationName: c.OrganizationName, CompletedAt: c.CompletedAt,
		ClaimedAt: c.ClaimedAt, RevokedAt: c.RevokedAt, CreatedAt: c.CreatedAt, UpdatedAt: c.CreatedAt}
	if c.Claimed() {
		name, url := c.LearnerName, s.learning.CertificateURL(c.Number)
		j.LearnerName, j.URL = &name, &url
		j.UpdatedAt = later(j.UpdatedAt, *c.ClaimedAt)
	}
	if c.Revoked() {
		by, reason := c.RevokedByName, c.RevocationReason
		j.RevokedBy, j.RevocationReason = &by, &reason
		j.UpdatedAt = later(j.UpdatedAt, *c.RevokedAt)
	}
	return j
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// apiCertificateList lists an organization's certificates, newest first;
// ?q= keeps those whose number starts with it or whose learner's address
// contains it, ?course_id= those of one course.
func (s *Server) apiCertificateList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	page, err := cursorPage(r)
	if err != nil {
		return err
	}
	cq := learning.CertificateQuery{Search: r.URL.Query().Get("q"), Page: page}
	if cq.CourseID, err = queryID(r, "course_id", "invalid_course_id", "course_id is a course's id."); err != nil {
		return err
	}
	list, err := s.learning.Certificates(r.Context(), currentUser(r.Context()), id, cq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(list.Items, list.Page, list.Pages, s.toCertificateJSON))
	return nil
}

func (s *Server) apiCertificateGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := s.learning.StaffCertificate(r.Context(), currentUser(r.Context()), id, r.PathValue("number"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toCertificateJSON(p.Certificate))
	return nil
}

// apiCertificateRevoke revokes a certificate with {"reason"} and answers
// the certificate.
func (s *Server) apiCertificateRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	c, err := s.learning.RevokeCertificate(r.Context(), currentUser(r.Context()), id, r.PathValue("number"), in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toCertificateJSON(c))
	return nil
}
