package learning

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

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
func (s *Service) WriteCertificatePDF(w io.Writer, c store.Certificate) error {
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

	line := func(y float64, style string, size float64, r, g, b int, text string) {
		pdf.SetFont("go", style, size)
		pdf.SetTextColor(r, g, b)
		pdf.SetXY(margin+10, y)
		pdf.CellFormat(pageW-2*margin-20, size*0.5, text, "", 0, "C", false, 0, "")
	}
	line(30, "B", 16, 91, 100, 120, c.OrganizationName)
	line(44, "B", 32, 29, 35, 48, "Certificate of Completion")
	line(66, "", 13, 91, 100, 120, "This certifies that")
	line(78, "B", 28, 29, 35, 48, c.LearnerName)
	line(98, "", 13, 91, 100, 120, "completed the course")
	line(108, "B", 20, 29, 35, 48, c.CourseTitle)
	line(124, "", 13, 91, 100, 120, "on "+c.CompletedAt.Format("2 January 2006"))

	// The number and the page's address, left of the QR code.
	qrX, qrY := pageW-margin-10-qrSize, pageH-margin-10-qrSize
	pdf.SetFont("go", "", 10)
	pdf.SetTextColor(91, 100, 120)
	pdf.SetXY(margin+10, qrY+qrSize-16)
	pdf.CellFormat(qrX-margin-20, 5, "Certificate number "+c.Number, "", 2, "L", false, 0, "")
	pdf.SetX(margin + 10)
	url := s.CertificateURL(c.Number)
	pdf.CellFormat(qrX-margin-20, 5, "Check it at "+url, "", 2, "L", false, 0, url)

	pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(c.QRPNG))
	pdf.ImageOptions("qr", qrX, qrY, qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, url)

	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("certificate PDF %s: %w", c.Number, err)
	}
	return nil
}
