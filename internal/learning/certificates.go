package learning

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/skip2/go-qrcode"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Certificates: when an enrollment completes, the OnFinish hook that
// NewService registers issues its certificate and emails the learner a
// signed link to claim it. Claiming sets the name printed on it, once, and
// gives it a public verification page with a QR code of the page's own
// address. A failed enrollment gets nothing.

// Errors of certificates.
var (
	ErrCertificateNotFound = problem.New(problem.NotFound, "certificate_not_found",
		"There is no such certificate. Check the number, or the link or QR code you followed.")
	ErrClaimLinkInvalid = problem.New(problem.NotFound, "claim_link_invalid",
		"This link to claim a certificate is not valid. Check that you copied all of it from the email.")
)

// MaxCertificateNameRunes is the longest name printed on a certificate.
const MaxCertificateNameRunes = 100

// Certificate numbers are CertificateNumberLength characters of Crockford's
// base32 alphabet (digits and capitals without I, L, O and U, which are
// read as other characters), drawn from crypto/rand: 120 random bits, so
// that nobody finds certificates by trying numbers.
const (
	CertificateNumberLength = 24
	certificateAlphabet     = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// NewCertificateNumber draws a certificate number.
func NewCertificateNumber() string {
	b := make([]byte, CertificateNumberLength)
	rand.Read(b) // never fails; see crypto/rand
	for i := range b {
		b[i] = certificateAlphabet[b[i]%32] // 32 divides 256: every character as likely
	}
	return string(b)
}

// canonicalNumber returns a number as it is stored (upper case, since
// people type what they read off paper), or false when it cannot be one.
func canonicalNumber(number string) (string, bool) {
	number = strings.ToUpper(number)
	if len(number) != CertificateNumberLength {
		return "", false
	}
	for _, r := range number {
		if !strings.ContainsRune(certificateAlphabet, r) {
			return "", false
		}
	}
	return number, true
}

// CertificatePath is the public verification page of a certificate.
func CertificatePath(number string) string {
	return "/email-learning/public/certificates/" + number + "/"
}

// CertificateURL is the absolute address of a certificate's page: what
// its QR code encodes and its PDF prints.
func (s *Service) CertificateURL(number string) string { return s.baseURL + CertificatePath(number) }

// CertificateQR draws the QR code of a certificate's page, as a claim
// stores it.
func (s *Service) CertificateQR(number string) ([]byte, error) {
	qr, err := qrcode.Encode(s.CertificateURL(number), qrcode.Medium, 512)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return qr, nil
}

// CertificateClaimPath is where the claim link of an enrollment leads.
func CertificateClaimPath(enrollmentID int64, signature string) string {
	return "/email-learning/public/certificates/claim/" + strconv.FormatInt(enrollmentID, 10) + "/" + signature + "/"
}

const claimPurpose = "certificate-claim"

// CertificateClaimURL is the absolute claim link of an enrollment, signed
// like the unsubscribe links (see sign): nothing stored but the
// enrollment's link key, valid while the enrollment exists.
func (s *Service) CertificateClaimURL(e store.Enrollment) string {
	return s.baseURL + CertificateClaimPath(e.ID, s.sign(claimPurpose, e.ID, e.LinkKey))
}

// issueCertificate is the OnFinish hook of certificates: a completed
// enrollment gets its certificate and the learner the email with the
// claim link, in the transaction that completes it. The course title and
// the organization name are copied into the certificate, so that renaming
// either later changes no certificate. An enrollment that has a
// certificate already keeps it, and nothing is sent again. A blocked
// address gets the certificate but no email.
func (s *Service) issueCertificate(ctx context.Context, q *store.Queries, e store.Enrollment) error {
	if e.Status != store.EnrollmentCompleted {
		return nil
	}
	org, err := q.OrganizationByID(ctx, e.OrganizationID)
	if err != nil {
		return err
	}
	completedAt := s.now()
	if e.EndedAt != nil {
		completedAt = *e.EndedAt
	}
	var (
		c       store.Certificate
		created bool
	)
	for range 3 { // a taken number is a one in 2^120 event; three draws are plenty
		c, created, err = q.CreateCertificate(ctx, store.NewCertificate{OrganizationID: e.OrganizationID, EnrollmentID: e.ID,
			Number: NewCertificateNumber(), CourseTitle: e.CourseTitle, OrganizationName: org.Name, CompletedAt: completedAt})
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil || !created {
		return err
	}
	if len(s.onEvent) > 0 {
		if err := s.emit(ctx, q, Event{Kind: CertificateIssued, OrganizationID: e.OrganizationID, Enrollment: &e, Certificate: &c}); err != nil {
			return err
		}
	}
	if blocked, err := q.EmailBlocked(ctx, e.OrganizationID, e.LearnerEmail); err != nil || blocked {
		return err
	}
	return s.send(ctx, q, org, mail.Email{Kind: mail.KindCourseCompleted, To: e.LearnerEmail, EnrollmentID: e.ID,
		// One email per certificate, whatever retries the caller makes.
		Key: fmt.Sprintf("certificate-%d", c.ID),
		Data: mail.CourseCompleted{OrganizationName: org.Name, CourseTitle: c.CourseTitle,
			ClaimURL: s.CertificateClaimURL(e)}})
}

// CheckCertificateClaim returns the certificate a claim link names,
// claimed or not, changing nothing.
func (s *Service) CheckCertificateClaim(ctx context.Context, enrollmentID int64, signature string) (store.Certificate, error) {
	return s.claimedCertificate(ctx, s.db.Read(), enrollmentID, signature)
}

func (s *Service) claimedCertificate(ctx context.Context, q *store.Queries, enrollmentID int64, signature string) (store.Certificate, error) {
	// Looked up by id alone and proven by the signature with the
	// enrollment's link key, as for unsubscribing.
	e, err := q.EnrollmentByID(ctx, enrollmentID)
	if err == nil && !s.signedBy(claimPurpose, e.ID, e.LinkKey, signature) {
		err = store.ErrNotFound
	}
	if err == nil {
		var c store.Certificate
		if c, err = q.CertificateOfEnrollment(ctx, e.OrganizationID, e.ID); err == nil {
			return c, nil
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Certificate{}, ErrClaimLinkInvalid
	}
	return store.Certificate{}, err
}

// ClaimCertificate sets the name printed on the certificate a claim link
// names, with the QR code of its page, and reports whether this call
// claimed it. A certificate claimed before stays as it is, whatever name
// is given: the name is fixed once claimed, so the page and every printed
// copy agree. The name is trimmed; it must not be empty, longer than
// MaxCertificateNameRunes or hold control characters.
func (s *Service) ClaimCertificate(ctx context.Context, enrollmentID int64, signature, name string) (store.Certificate, bool, error) {
	var (
		c       store.Certificate
		claimed bool
	)
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		if c, err = s.claimedCertificate(ctx, q, enrollmentID, signature); err != nil || c.Claimed() {
			return err
		}
		if c.Revoked() {
			return ErrCertificateRevoked
		}
		if name, err = CertificateName(name); err != nil {
			return err
		}
		qr, err := s.CertificateQR(c.Number)
		if err != nil {
			return err
		}
		if claimed, err = q.ClaimCertificate(ctx, c.OrganizationID, c.ID, name, qr, s.now()); err != nil {
			return err
		}
		// Claimed now, or by a concurrent request a moment ago, or
		// revoked meanwhile: the certificate as it is.
		if c, err = q.CertificateOfEnrollment(ctx, c.OrganizationID, c.EnrollmentID); err != nil {
			return err
		}
		if !c.Claimed() && c.Revoked() {
			return ErrCertificateRevoked
		}
		if claimed && len(s.onEvent) > 0 {
			return s.emit(ctx, q, Event{Kind: CertificateClaimed, OrganizationID: c.OrganizationID, Certificate: &c})
		}
		return nil
	})
	if err != nil {
		return store.Certificate{}, false, fmt.Errorf("claim the certificate of enrollment %d: %w", enrollmentID, err)
	}
	return c, claimed, nil
}

// CertificateName checks a name to print on a certificate and returns it
// as names.Clean makes it: no control characters, and none that are
// invisible or reorder text (bidirectional controls), which would make
// the page show a name other than the one stored.
func CertificateName(name string) (string, error) {
	name, err := names.Clean(name)
	switch {
	case err != nil:
		return "", problem.Field("name", "name_invalid", names.Message("name", err))
	case name == "":
		return "", problem.Field("name", "name_required", "Enter the name to print on the certificate.")
	case utf8.RuneCountInString(name) > MaxCertificateNameRunes:
		return "", problem.Field("name", "name_too_long",
			fmt.Sprintf("The name may have at most %d characters.", MaxCertificateNameRunes))
	}
	return name, nil
}

// Certificate returns a claimed certificate by its number, for its public
// page; ErrCertificateNotFound when there is no such claimed certificate.
// The number is read in any case.
func (s *Service) Certificate(ctx context.Context, number string) (store.Certificate, error) {
	number, ok := canonicalNumber(number)
	if !ok {
		return store.Certificate{}, ErrCertificateNotFound
	}
	c, err := s.db.Read().CertificateByNumber(ctx, number)
	if errors.Is(err, store.ErrNotFound) || err == nil && !c.Claimed() {
		return store.Certificate{}, ErrCertificateNotFound
	}
	return c, err
}

// MaxRevocationReasonRunes is the longest reason given for revoking a
// certificate.
const MaxRevocationReasonRunes = 500

// maxCourseChoices bounds the courses the certificate list offers as a
// filter.
const maxCourseChoices = 1000

// CertificateQuery selects an organization's certificates: empty fields
// select all.
type CertificateQuery struct {
	// Search is the start of a number (any case) or part of a learner's
	// address.
	Search   string
	CourseID int64
	Page     int
}

// CertificateList is one page of an organization's certificates, newest
// first, as its staff see them.
type CertificateList struct {
	orgs.View
	Items  []store.Certificate
	Total  int
	Page   int // from 1
	Pages  int
	Search string
	// CourseID is the course the list is narrowed to, 0 for all; Courses
	// are the organization's courses to choose from.
	CourseID int64
	Courses  []store.CourseSummary
	// CanRevoke tells whether the actor may revoke certificates.
	CanRevoke bool
}

// Certificates returns one page of an organization's certificates, claimed
// or not, newest first, for anyone who may see the organization.
func (s *Service) Certificates(ctx context.Context, actor *store.User, orgID int64, cq CertificateQuery) (CertificateList, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return CertificateList{}, err
	}
	page := max(cq.Page, 1)
	items, total, err := q.ListCertificates(ctx, store.CertificateFilter{OrganizationID: orgID, Search: cq.Search, CourseID: cq.CourseID,
		Offset: store.Offset(page, PageSize), Limit: PageSize})
	if err != nil {
		return CertificateList{}, err
	}
	courses, _, err := q.ListCourses(ctx, store.CourseFilter{OrganizationID: orgID, Limit: maxCourseChoices})
	if err != nil {
		return CertificateList{}, err
	}
	return CertificateList{View: v, Items: items, Total: total, Page: page, Pages: pages(total), Search: cq.Search,
		CourseID: cq.CourseID, Courses: courses, CanRevoke: access.Allowed(actor, v.Role, access.RevokeCertificates)}, nil
}

// CertificatePage is one certificate as the organization's staff see it.
type CertificatePage struct {
	orgs.View
	Certificate store.Certificate
	// CanRevoke tells whether the actor may revoke it (once revoked, it
	// stays so).
	CanRevoke bool
}

// StaffCertificate returns an organization's certificate by its number,
// claimed or not, for anyone who may see the organization.
func (s *Service) StaffCertificate(ctx context.Context, actor *store.User, orgID int64, number string) (CertificatePage, error) {
	return s.certificatePage(ctx, actor, orgID, number, access.ViewOrganization)
}

// PrepareRevoke returns a certificate that the actor may revoke, for the
// confirmation page.
func (s *Service) PrepareRevoke(ctx context.Context, actor *store.User, orgID int64, number string) (CertificatePage, error) {
	return s.certificatePage(ctx, actor, orgID, number, access.RevokeCertificates)
}

func (s *Service) certificatePage(ctx context.Context, actor *store.User, orgID int64, number string, action access.Action) (CertificatePage, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, action)
	if err != nil {
		return CertificatePage{}, err
	}
	c, err := certificateIn(ctx, q, orgID, number)
	if err != nil {
		return CertificatePage{}, err
	}
	return CertificatePage{View: v, Certificate: c, CanRevoke: access.Allowed(actor, v.Role, access.RevokeCertificates)}, nil
}

// certificateIn looks a number up among an organization's certificates:
// another organization's number is not found.
func certificateIn(ctx context.Context, q *store.Queries, orgID int64, number string) (store.Certificate, error) {
	number, ok := canonicalNumber(number)
	if !ok {
		return store.Certificate{}, ErrCertificateNotFound
	}
	c, err := q.OrganizationCertificate(ctx, orgID, number)
	if errors.Is(err, store.ErrNotFound) {
		return store.Certificate{}, ErrCertificateNotFound
	}
	return c, err
}

// RevokeCertificate withdraws an organization's certificate, with the
// reason, which the staff read and the public page does not show. The
// certificate stays: its page says it was revoked, its PDF is no longer
// made, and an unclaimed one can no longer be claimed. The audit log
// records it in the same transaction. A certificate revoked already is a
// conflict: revoking is done once, by one person, for one reason.
func (s *Service) RevokeCertificate(ctx context.Context, actor *store.User, orgID int64, number, reason string) (store.Certificate, error) {
	at := s.now().UTC()
	reason = strings.TrimSpace(reason)
	var c store.Certificate
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.RevokeCertificates); err != nil {
			return err
		}
		var err error
		if c, err = certificateIn(ctx, q, orgID, number); err != nil {
			return err
		}
		if c.Revoked() {
			return errCertificateRevokedAlready(c)
		}
		if msg := checkText(reason, "reason", MaxRevocationReasonRunes); msg != "" {
			return problem.Field("reason", "reason_invalid", msg)
		}
		r := store.Revocation{ByName: orgs.ActorName(actor), Reason: reason, At: at}
		if actor.APIKey == nil {
			r.By = actor.ID
		}
		revoked, err := q.RevokeCertificate(ctx, orgID, c.ID, r)
		if err != nil {
			return err
		}
		if c, err = q.OrganizationCertificate(ctx, orgID, c.Number); err != nil {
			return err
		}
		if !revoked { // by a concurrent request, a moment ago
			return errCertificateRevokedAlready(c)
		}
		return orgs.Record(ctx, q, orgs.Event{Kind: orgs.CertificateRevoked, OrganizationID: orgID, Actor: actor,
			Target: fmt.Sprintf("%s (%s, %s)", c.Number, c.LearnerEmail, c.CourseTitle), New: map[string]string{"reason": reason}})
	})
	if err != nil {
		return store.Certificate{}, fmt.Errorf("revoke certificate %s: %w", number, err)
	}
	return c, nil
}

func errCertificateRevokedAlready(c store.Certificate) error {
	return problem.Newf(problem.Conflict, "certificate_revoked",
		"This certificate was revoked already, on %s: it stays revoked.", c.RevokedAt.Format("2 January 2006"))
}

// ErrCertificateRevoked refuses to claim a revoked certificate.
var ErrCertificateRevoked = problem.New(problem.Gone, "certificate_revoked",
	"This certificate was revoked by the organization that issued it, so it can no longer be claimed.")
