package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// certificateClaimPage shows a claim link: the form for the name to print,
// or the certificate as it was claimed.
type certificateClaimPage struct {
	Certificate store.Certificate
	Path        string // the form's action: the claim link
	Name        string // what was typed, shown again with its error
	Fields      map[string]string
	MaxName     int
	// Again is set when this request tried to claim a certificate claimed
	// before: nothing changed.
	Again bool
}

func claimLink(r *http.Request) (int64, string, error) {
	id, err := pathInt64(r, "enrollment_id")
	return id, r.PathValue("signature"), err
}

func (s *Server) certificateClaimForm(w http.ResponseWriter, r *http.Request) {
	id, sig, err := claimLink(r)
	var c store.Certificate
	if err == nil {
		c, err = s.learning.CheckCertificateClaim(r.Context(), id, sig)
	}
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	s.renderClaim(w, r, http.StatusOK, certificateClaimPage{Certificate: c, Path: learning.CertificateClaimPath(id, sig)})
}

// certificateClaim sets the name and sends the learner to the
// certificate's page. A certificate claimed before keeps its name: the
// page says so, with 409.
func (s *Server) certificateClaim(w http.ResponseWriter, r *http.Request) {
	id, sig, err := claimLink(r)
	p := certificateClaimPage{Path: learning.CertificateClaimPath(id, sig), Name: r.PostFormValue("name")}
	var claimed bool
	if err == nil {
		p.Certificate, claimed, err = s.learning.ClaimCertificate(r.Context(), id, sig, p.Name)
	}
	if pr, ok := problem.As(err); ok && pr.Kind == problem.Invalid {
		// The link is good (it is checked first), so the page can show
		// the certificate's facts with the form.
		if p.Certificate, err = s.learning.CheckCertificateClaim(r.Context(), id, sig); err == nil {
			p.Fields = pr.Fields
			s.renderClaim(w, r, http.StatusUnprocessableEntity, p)
			return
		}
	}
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	if !claimed {
		p.Again = true
		s.renderClaim(w, r, http.StatusConflict, p)
		return
	}
	http.Redirect(w, r, learning.CertificatePath(p.Certificate.Number), http.StatusSeeOther)
}

func (s *Server) renderClaim(w http.ResponseWriter, r *http.Request, status int, p certificateClaimPage) {
	p.MaxName = learning.MaxCertificateNameRunes
	title := "Claim your certificate"
	if p.Certificate.Claimed() {
		title = "Your certificate"
	}
	s.renderPublic(w, r, status, "certificate_claim.html", title, s.brandOf(r.Context(), p.Certificate.OrganizationID), p)
}

// certificatePage is a certificate's public verification page.
type certificatePage struct {
	Certificate store.Certificate
	Path        string // of the page; its QR code and PDF hang below it
	URL         string // absolute: what the QR code encodes
}

func (s *Server) loadCertificate(w http.ResponseWriter, r *http.Request) (store.Certificate, bool) {
	c, err := s.learning.Certificate(r.Context(), r.PathValue("number"))
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return store.Certificate{}, false
	}
	return c, true
}

func (s *Server) certificatePage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.loadCertificate(w, r)
	if !ok {
		return
	}
	path := learning.CertificatePath(c.Number)
	title := "Certificate of " + c.LearnerName
	if c.Revoked() {
		title = "Revoked certificate of " + c.LearnerName
	}
	s.renderPublic(w, r, http.StatusOK, "certificate.html", title, s.brandOf(r.Context(), c.OrganizationID),
		certificatePage{Certificate: c, Path: path, URL: s.learning.CertificateURL(c.Number)})
}

// certificateQR serves the QR code stored at the claim. It never changes,
// so it is cached for a year, with a strong ETag of its bytes.
func (s *Server) certificateQR(w http.ResponseWriter, r *http.Request) {
	c, ok := s.loadCertificate(w, r)
	if !ok {
		return
	}
	sum := sha256.Sum256(c.QRPNG)
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(c.QRPNG))
}

// certificatePDF downloads the certificate as a PDF, made on request.
func (s *Server) certificatePDF(w http.ResponseWriter, r *http.Request) {
	c, ok := s.loadCertificate(w, r)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := s.learning.WriteCertificatePDF(&buf, c); err != nil {
		// A revoked certificate's answer (410) is a page of its brand.
		s.publicPageError(w, r, err, s.brandOf(r.Context(), c.OrganizationID))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="certificate-`+c.Number+`.pdf"`)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Write(buf.Bytes())
}
