package learning

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// WriteCertificatePDF writes a claimed certificate as a one-page A4
// landscape PDF: the organization, the learner's name, the course, the
// completion date, the number and the address of its page with the stored
// QR code. The Go fonts are embedded (subset) so that names print in
// Latin, Greek and Cyrillic scripts; characters they lack, such as CJK
// ideographs, print as blanks, and the web page shows every script. The
// dates inside the file are the claim's, so a certificate gives the same
// bytes every time.
//
// A revoked certificate has no PDF (problem.Gone): a copy made now would
// travel without the page that says it was revoked, and a REVOKED stamp
// is easily cut off. Its page, which the QR code leads to, tells the
// truth.
func (s *Service) WriteCertificatePDF(w io.Writer, c store.Certificate) error {
	if c.Revoked() {
		return problem.Newf(problem.Gone, "certificate_revoked",
			"This certificate was revoked on %s by %s, so it can no longer be downloaded.", c.RevokedAt.Format("2 January 2006"), c.OrganizationName)
	}
	if !c.Claimed() || c.QRPNG == nil {
		return errors.New("certificate PDF: the certificate is not claimed")
	}
	const (
		pageW, pageH = 297.0, 210.0 // mm, A4 landscape
		margin       = 12.0
		qrSize       = 42.0
	)
	pdf := fpdf.New("L", "mm", "A4", "")
	pdf.SetMargins(0, 0, 0)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCreationDate(*c.ClaimedAt)
	pdf.SetModificationDate(*c.ClaimedAt)
	pdf.SetTitle("Certificate "+c.Number, true)
	pdf.SetSubject(c.CourseTitle, true)
	pdf.SetAuthor(c.OrganizationName, true)
	pdf.SetCreator("mailschool", true)
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.AddPage()

	// A double frame.
	pdf.SetDrawColor(43, 89, 195)
	pdf.SetLineWidth(1.2)
	pdf.Rect(margin, margin, pageW-2*margin, pageH-2*margin, "D")
	pdf.SetLineWidth(0.3)
	pdf.Rect(margin+3, margin+3, pageW-2*margin-6, pageH-2*margin-6, "D")

	// Each line is centred between the frames; a long name, course or
	// organization shrinks down to a minimum size, then wraps.
	left, width := margin+10, pageW-2*margin-20
	pdf.SetY(38)
	block := func(gap float64, style string, size, minSize float64, gray bool, text string) {
		pdf.SetFont("go", style, size)
		for size > minSize && pdf.GetStringWidth(text) > width {
			size--
			pdf.SetFont("go", style, size)
		}
		if gray {
			pdf.SetTextColor(91, 100, 120)
		} else {
			pdf.SetTextColor(29, 35, 48)
		}
		pdf.SetXY(left, pdf.GetY()+gap)
		pdf.MultiCell(width, size*0.45, text, "", "C", false) // 0.45 mm per point: the line height
	}
	block(0, "B", 16, 10, true, c.OrganizationName)
	block(6, "B", 32, 32, false, "Certificate of Completion")
	block(6, "", 13, 13, true, "This certifies that")
	block(4, "B", 28, 16, false, c.LearnerName)
	block(4, "", 13, 13, true, "completed the course")
	block(4, "B", 20, 12, false, c.CourseTitle)
	block(4, "", 13, 13, true, "on "+c.CompletedAt.Format("2 January 2006"))

	// The number and the page's address, left of the QR code.
	qrX, qrY := pageW-margin-10-qrSize, pageH-margin-10-qrSize
	pdf.SetFont("go", "", 10)
	pdf.SetTextColor(91, 100, 120)
	pdf.SetXY(left, qrY+qrSize-15)
	pdf.MultiCell(qrX-left-10, 5, "Certificate number "+c.Number, "", "L", false)
	pdf.SetX(left)
	url := s.CertificateURL(c.Number)
	pdf.MultiCell(qrX-left-10, 5, "Check it at "+url, "", "L", false)

	pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(c.QRPNG))
	pdf.ImageOptions("qr", qrX, qrY, qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, url)

	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("certificate PDF %s: %w", c.Number, err)
	}
	return nil
}
