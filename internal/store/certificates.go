package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	CreatedAt        time.Time
}

// Claimed reports whether the learner has given the name to print: only a
// claimed certificate has a verification page.
func (c Certificate) Claimed() bool { return c.ClaimedAt != nil }

const certificateColumns = `id, organization_id, enrollment_id, number, learner_name, course_title, organization_name,
	completed_at, claimed_at, qr_png, created_at`

func scanCertificate(r row) (Certificate, error) {
	var (
		c       Certificate
		name    sql.NullString
		claimed sql.NullTime
	)
	if err := r.Scan(&c.ID, &c.OrganizationID, &c.EnrollmentID, &c.Number, &name, &c.CourseTitle, &c.OrganizationName,
		&c.CompletedAt, &claimed, &c.QRPNG, &c.CreatedAt); err != nil {
		return Certificate{}, err
	}
	c.LearnerName, c.ClaimedAt = name.String, nullTime(claimed)
	c.CompletedAt, c.CreatedAt = c.CompletedAt.UTC(), c.CreatedAt.UTC()
	if len(c.QRPNG) == 0 {
		c.QRPNG = nil
	}
	return c, nil
}

func (q *Queries) certificate(ctx context.Context, what, where string, args ...any) (Certificate, error) {
	c, err := scanCertificate(q.queryRow(ctx, `SELECT `+certificateColumns+` FROM certificates WHERE `+where, args...))
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
		RETURNING `+certificateColumns,
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
		`organization_id = ? AND enrollment_id = ?`, orgID, enrollmentID)
}

// CertificateByNumber returns a certificate by its public number, claimed
// or not, or ErrNotFound. The number names one certificate of any
// organization: it is the public verification page's key.
func (q *Queries) CertificateByNumber(ctx context.Context, number string) (Certificate, error) {
	return q.certificate(ctx, "certificate by number", `number = ?`, number)
}

// ClaimCertificate sets the name printed on a certificate and the QR code
// of its page, once: it reports false, changing nothing, when the
// certificate was claimed already (or is gone).
func (q *Queries) ClaimCertificate(ctx context.Context, orgID, id int64, learnerName string, qrPNG []byte, at time.Time) (bool, error) {
	n, err := q.exec(ctx, `
		UPDATE certificates SET learner_name = ?, qr_png = ?, claimed_at = ?
		WHERE organization_id = ? AND id = ? AND claimed_at IS NULL`,
		learnerName, qrPNG, dbTime(at), orgID, id)
	if err != nil {
		return false, fmt.Errorf("claim certificate %d: %w", id, err)
	}
	return n > 0, nil
}
