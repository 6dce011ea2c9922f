package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Certificate is the certificate of a completed enrollment. It is issued
// with the course's title and the organization's name as they were then,
// and claimed once, when the learner gives the name to print on it.
type Certificate struct {
	ID             int64
	OrganizationID int64
	EnrollmentID   int64
	// Number is the certificate's public name, in its verification URL.
	Number           string
	LearnerName      string // empty until claimed
	CourseTitle      string
	OrganizationName string
	CompletedAt      time.Time
	ClaimedAt        *time.Time // nil until claimed
	QRPNG            []byte     // the QR code of the verification URL; nil until claimed
	CreatedAt        time.Time  // when it was issued

	// The enrollment's learner and course, for the staff.
	LearnerEmail string
	CourseID     int64

	// Revocation: RevokedAt is nil while the certificate stands.
	RevokedAt *time.Time
	// RevokedBy is the account that revoked it: nil for an API key, or
	// once the account is deleted. RevokedByName names who did it as the
	// audit log does, and outlives the account.
	RevokedBy        *int64
	RevokedByName    string
	RevocationReason string
}

// Claimed reports whether the learner has given the name to print: only a
// claimed certificate has a verification page.
func (c Certificate) Claimed() bool { return c.ClaimedAt != nil }

// Revoked reports whether the organization has withdrawn the certificate.
func (c Certificate) Revoked() bool { return c.RevokedAt != nil }

// certificateColumns are read from certificateFrom: the certificate with
// its enrollment's learner and course.
const (
	certificateColumns = `c.id, c.organization_id, c.enrollment_id, c.number, c.learner_name, c.course_title, c.organization_name,
	c.completed_at, c.claimed_at, c.qr_png, c.created_at, l.email, e.course_id,
	c.revoked_at, c.revoked_by, c.revoked_by_name, c.revocation_reason`
	certificateFrom = `certificates c JOIN enrollments e ON e.id = c.enrollment_id JOIN learners l ON l.id = e.learner_id`
)

// certificateReturning are certificateColumns as a statement writing
// certificates returns them: SQLite's RETURNING reads only the table
// written.
const certificateReturning = `id, organization_id, enrollment_id, number, learner_name, course_title, organization_name,
	completed_at, claimed_at, qr_png, created_at,
	(SELECT l.email FROM enrollments e JOIN learners l ON l.id = e.learner_id WHERE e.id = certificates.enrollment_id),
	(SELECT e.course_id FROM enrollments e WHERE e.id = certificates.enrollment_id),
	revoked_at, revoked_by, revoked_by_name, revocation_reason`

func scanCertificate(r row) (Certificate, error) {
	var (
		c                Certificate
		name             sql.NullString
		claimed, revoked sql.NullTime
		revokedBy        sql.NullInt64
	)
	if err := r.Scan(&c.ID, &c.OrganizationID, &c.EnrollmentID, &c.Number, &name, &c.CourseTitle, &c.OrganizationName,
		&c.CompletedAt, &claimed, &c.QRPNG, &c.CreatedAt, &c.LearnerEmail, &c.CourseID,
		&revoked, &revokedBy, &c.RevokedByName, &c.RevocationReason); err != nil {
		return Certificate{}, err
	}
	c.LearnerName, c.ClaimedAt, c.RevokedAt = name.String, nullTime(claimed), nullTime(revoked)
	if revokedBy.Valid {
		c.RevokedBy = &revokedBy.Int64
	}
	c.CompletedAt, c.CreatedAt = c.CompletedAt.UTC(), c.CreatedAt.UTC()
	if len(c.QRPNG) == 0 {
		c.QRPNG = nil
	}
	return c, nil
}

func (q *Queries) certificate(ctx context.Context, what, where string, args ...any) (Certificate, error) {
	c, err := scanCertificate(q.queryRow(ctx, `SELECT `+certificateColumns+` FROM `+certificateFrom+` WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Certificate{}, ErrNotFound
	}
	if err != nil {
		return Certificate{}, fmt.Errorf("%s: %w", what, err)
	}
	return c, nil
}

// NewCertificate holds what a certificate is issued with.
type NewCertificate struct {
	OrganizationID   int64
	EnrollmentID     int64
	Number           string
	CourseTitle      string
	OrganizationName string
	CompletedAt      time.Time
}

// CreateCertificate issues the certificate of an enrollment, unclaimed. It
// reports whether this call created it: an enrollment has at most one
// certificate, and when it has one already, that one is returned
// unchanged. ErrConflict means the number is taken: draw another.
//
// ON CONFLICT DO NOTHING covers both UNIQUE columns without an error, so
// a taken number does not abort the caller's transaction on PostgreSQL.
func (q *Queries) CreateCertificate(ctx context.Context, nc NewCertificate) (Certificate, bool, error) {
	at := now()
	c, err := scanCertificate(q.queryRow(ctx, `
		INSERT INTO certificates (organization_id, enrollment_id, number, course_title, organization_name, completed_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING
		RETURNING `+certificateReturning,
		nc.OrganizationID, nc.EnrollmentID, nc.Number, nc.CourseTitle, nc.OrganizationName, dbTime(nc.CompletedAt), at))
	if err == nil {
		return c, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Certificate{}, false, fmt.Errorf("issue the certificate of enrollment %d: %w", nc.EnrollmentID, err)
	}
	c, err = q.CertificateOfEnrollment(ctx, nc.OrganizationID, nc.EnrollmentID)
	if errors.Is(err, ErrNotFound) {
		return Certificate{}, false, fmt.Errorf("issue the certificate of enrollment %d: number taken: %w", nc.EnrollmentID, ErrConflict)
	}
	return c, false, err
}

// CertificateOfEnrollment returns the certificate of an organization's
// enrollment, claimed or not, or ErrNotFound.
func (q *Queries) CertificateOfEnrollment(ctx context.Context, orgID, enrollmentID int64) (Certificate, error) {
	return q.certificate(ctx, fmt.Sprintf("certificate of enrollment %d", enrollmentID),
		`c.organization_id = ? AND c.enrollment_id = ?`, orgID, enrollmentID)
}

// CertificateByNumber returns a certificate by its public number, claimed
// or not, or ErrNotFound. The number names one certificate of any
// organization: it is the public verification page's key.
func (q *Queries) CertificateByNumber(ctx context.Context, number string) (Certificate, error) {
	return q.certificate(ctx, "certificate by number", `c.number = ?`, number)
}

// OrganizationCertificate returns an organization's certificate by its
// number, claimed or not, or ErrNotFound: another organization's number
// is not found.
func (q *Queries) OrganizationCertificate(ctx context.Context, orgID int64, number string) (Certificate, error) {
	return q.certificate(ctx, "certificate "+number, `c.organization_id = ? AND c.number = ?`, orgID, number)
}

// CertificateFilter selects an organization's certificates: empty fields
// select all.
type CertificateFilter struct {
	OrganizationID int64
	// Search keeps the certificates whose number starts with it (in
	// any case) or whose learner's address contains it.
	Search        string
	CourseID      int64
	Offset, Limit int
}

// ListCertificates returns a page of an organization's certificates,
// newest first, and how many the filter selects.
func (q *Queries) ListCertificates(ctx context.Context, f CertificateFilter) ([]Certificate, int, error) {
	cond := `c.organization_id = ?`
	args := []any{f.OrganizationID}
	if s := strings.TrimSpace(f.Search); s != "" {
		cond += ` AND (c.number LIKE ? ESCAPE '\' OR l.email LIKE ? ESCAPE '\')`
		args = append(args, likeEscaper.Replace(strings.ToUpper(s))+"%", "%"+likeEscaper.Replace(strings.ToLower(s))+"%")
	}
	if f.CourseID != 0 {
		cond += ` AND e.course_id = ?`
		args = append(args, f.CourseID)
	}
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM `+certificateFrom+` WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count certificates of organization %d: %w", f.OrganizationID, err)
	}
	rs, err := q.query(ctx, `SELECT `+certificateColumns+` FROM `+certificateFrom+` WHERE `+cond+`
		ORDER BY c.created_at DESC, c.id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("certificates of organization %d: %w", f.OrganizationID, err)
	}
	defer rs.Close()
	var list []Certificate
	for rs.Next() {
		c, err := scanCertificate(rs)
		if err != nil {
			return nil, 0, fmt.Errorf("certificates of organization %d: %w", f.OrganizationID, err)
		}
		list = append(list, c)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, fmt.Errorf("certificates of organization %d: %w", f.OrganizationID, err)
	}
	return list, total, nil
}

// Revocation is who revokes a certificate, when and why.
type Revocation struct {
	By     int64  // the account; 0 for none (an API key)
	ByName string // as the audit log names them
	Reason string
	At     time.Time
}

// RevokeCertificate marks an organization's certificate revoked, once: it
// reports false, changing nothing, when it was revoked already (or is
// gone).
func (q *Queries) RevokeCertificate(ctx context.Context, orgID, id int64, r Revocation) (bool, error) {
	var by any
	if r.By != 0 {
		by = r.By
	}
	n, err := q.exec(ctx, `
		UPDATE certificates SET revoked_at = ?, revoked_by = ?, revoked_by_name = ?, revocation_reason = ?
		WHERE organization_id = ? AND id = ? AND revoked_at IS NULL`,
		dbTime(r.At), by, r.ByName, r.Reason, orgID, id)
	if err != nil {
		return false, fmt.Errorf("revoke certificate %d: %w", id, err)
	}
	return n > 0, nil
}

// ClaimCertificate sets the name printed on a certificate and the QR code
// of its page, once: it reports false, changing nothing, when the
// certificate was claimed already, is revoked (or is gone).
func (q *Queries) ClaimCertificate(ctx context.Context, orgID, id int64, learnerName string, qrPNG []byte, at time.Time) (bool, error) {
	n, err := q.exec(ctx, `
		UPDATE certificates SET learner_name = ?, qr_png = ?, claimed_at = ?
		WHERE organization_id = ? AND id = ? AND claimed_at IS NULL AND revoked_at IS NULL`,
		learnerName, qrPNG, dbTime(at), orgID, id)
	if err != nil {
		return false, fmt.Errorf("claim certificate %d: %w", id, err)
	}
	return n > 0, nil
}
