package learning_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/mailtest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// certFixture is an organization with an enabled course of one published
// lesson, an editor, and the learning service with the delivery engine
// attached; jobs are only recorded, the tests work deliveries themselves.
type certFixture struct {
	t      *testing.T
	db     *store.DB
	s      *learning.Service
	engine *delivery.Engine
	editor *store.User
	org    int64
	course int64
}

func newCertFixture(t *testing.T, db *store.DB) *certFixture {
	t.Helper()
	ctx := context.Background()
	mailer, err := mail.NewService(db, mail.Config{From: "mailschool <noreply@school.example>", BaseURL: baseURL,
		Transport: mail.Outbox{}, TransportName: "outbox"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewJobs(&river.Config{}); err != nil {
		t.Fatal(err)
	}
	f := &certFixture{t: t, db: db, s: learning.NewService(db, learning.Config{Mail: mailer, BaseURL: baseURL, SecretKey: "a secret key for the tests"})}
	f.engine = delivery.New(db, mailer, f.s, delivery.Config{})
	org, members := storetest.NewOrganization(t, db, "Acme Academy", storetest.Member{Email: "editor@example.com", Role: "editor"})
	f.org, f.editor = org, &members[0]
	course, err := f.s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Go basics")})
	if err != nil {
		t.Fatal(err)
	}
	f.course = course.ID
	if _, err := f.s.CreateContent(ctx, f.editor, f.org, f.course, learning.ContentFields{Kind: store.KindLesson,
		Title: ptr("The only lesson"), Body: ptr("Hello"), Published: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.UpdateCourse(ctx, f.editor, f.org, f.course, learning.CourseFields{Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	return f
}

// complete enrolls an address directly and delivers the course's only
// lesson, which completes the enrollment.
func (f *certFixture) complete(email string) store.Enrollment {
	f.t.Helper()
	ctx := context.Background()
	e, err := f.s.EnrollDirectly(ctx, f.editor, f.org, f.course, email)
	if err != nil {
		f.t.Fatal(err)
	}
	list, err := f.db.Read().EnrollmentDeliveries(ctx, f.org, e.ID)
	if err != nil || len(list) != 1 {
		f.t.Fatalf("deliveries: %+v, %v", list, err)
	}
	f.engine.Deliver(ctx, list[0].ID)
	f.engine.Deliver(ctx, list[0].ID) // a job run twice
	if e, err = f.db.Read().Enrollment(ctx, f.org, e.ID); err != nil || e.Status != store.EnrollmentCompleted {
		f.t.Fatalf("after the last lesson: %s, %v", e.Status, err)
	}
	return e
}

func (f *certFixture) certificate(e store.Enrollment) (store.Certificate, error) {
	return f.db.Read().CertificateOfEnrollment(context.Background(), f.org, e.ID)
}

// mails returns the emails of a kind to an address.
func (f *certFixture) mails(to string, kind mail.Kind) []mail.Parsed {
	f.t.Helper()
	return mailtest.Sent(f.t, f.db, to, kind)
}

var claimLink = regexp.MustCompile(regexp.QuoteMeta(baseURL) + `/email-learning/public/certificates/claim/([0-9]+)/([A-Za-z0-9_-]{43})/`)

// claimLinkIn returns the enrollment id and signature of the claim link
// in the one course_completed email to an address.
func (f *certFixture) claimLinkIn(to string) (int64, string) {
	f.t.Helper()
	list := f.mails(to, mail.KindCourseCompleted)
	if len(list) != 1 {
		f.t.Fatalf("%d course_completed emails to %s, want 1", len(list), to)
	}
	m := claimLink.FindStringSubmatch(list[0].Text)
	if m == nil || !strings.Contains(list[0].HTML, m[0]) {
		f.t.Fatalf("no claim link in both parts of:\n%s", list[0].Text)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id, m[2]
}

func TestCertificateIssuedOnCompletion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newCertFixture(t, db)
		e := f.complete("ada@example.com")

		c, err := f.certificate(e)
		if err != nil {
			t.Fatalf("no certificate for a completed enrollment: %v", err)
		}
		if c.Claimed() || c.LearnerName != "" || c.QRPNG != nil || c.CourseTitle != "Go basics" || c.OrganizationName != "Acme Academy" ||
			e.EndedAt == nil || !c.CompletedAt.Equal(*e.EndedAt) || len(c.Number) < 20 {
			t.Errorf("issued certificate: %s", describe(c))
		}
		rows, err := db.RowsWith(ctx, "organization_id", f.org)
		if err != nil || rows["certificates"] != 1 {
			t.Errorf("certificates of the organization: %d, %v", rows["certificates"], err)
		}
		id, sig := f.claimLinkIn("ada@example.com")
		if id != e.ID || baseURL+learning.CertificateClaimPath(id, sig) != f.s.CertificateClaimURL(e) {
			t.Errorf("the email links to enrollment %d, want %d", id, e.ID)
		}
		m := f.mails("ada@example.com", mail.KindCourseCompleted)[0]
		if got := m.Header.Get("Subject"); got != "You completed Go basics: claim your certificate" || !strings.Contains(m.Text, "Acme Academy") {
			t.Errorf("subject %q, text:\n%s", got, m.Text)
		}

		// A failed enrollment gets no certificate and no email.
		bob, err := f.s.EnrollDirectly(ctx, f.editor, f.org, f.course, "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		err = db.InTx(ctx, func(q *store.Queries) error {
			finished, err := f.s.Finish(ctx, q, f.org, bob.ID, store.EnrollmentFailed)
			if err == nil && !finished {
				t.Error("the active enrollment did not finish")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.certificate(bob); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a failed enrollment's certificate: %v", err)
		}
		if n := len(f.mails("bob@example.com", mail.KindCourseCompleted)); n != 0 {
			t.Errorf("a failed enrollment got %d course_completed emails", n)
		}
		if rows, _ := db.RowsWith(ctx, "organization_id", f.org); rows["certificates"] != 1 {
			t.Errorf("%d certificates after a failure, want 1", rows["certificates"])
		}

		// Renaming the course or the organization changes no certificate.
		if _, err := f.s.UpdateCourse(ctx, f.editor, f.org, f.course, learning.CourseFields{Title: ptr("Go, renamed")}); err != nil {
			t.Fatal(err)
		}
		if c, _ := f.certificate(e); c.CourseTitle != "Go basics" {
			t.Errorf("the certificate followed the course's new title: %q", c.CourseTitle)
		}

		// A second completion gets its own number.
		other, _ := f.certificate(f.complete("carol@example.com"))
		if other.Number == "" || other.Number == c.Number {
			t.Errorf("numbers %q and %q", c.Number, other.Number)
		}
	})
}

func TestClaimCertificate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newCertFixture(t, db)
		e := f.complete("ada@example.com")
		id, sig := f.claimLinkIn("ada@example.com")
		issued, _ := f.certificate(e)

		unclaimed := func(when string) {
			t.Helper()
			c, err := f.certificate(e)
			if err != nil || c.Claimed() || c.LearnerName != "" || c.QRPNG != nil {
				t.Errorf("%s: the certificate changed: %s, %v", when, describe(c), err)
			}
		}
		if c, err := f.s.CheckCertificateClaim(ctx, id, sig); err != nil || c.ID != issued.ID || c.Claimed() {
			t.Fatalf("check the claim link: %+v, %v", c, err)
		}
		if _, err := f.s.Certificate(ctx, issued.Number); !errors.Is(err, learning.ErrCertificateNotFound) {
			t.Errorf("an unclaimed certificate's page: %v", err)
		}

		// Links that are not this enrollment's, signed for it.
		unsubscribeSig := strings.Split(f.s.UnsubscribeURL(e), "/")[7]
		tampered := []struct {
			id  int64
			sig string
		}{
			{id, sig[:len(sig)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(sig, "A")]},
			{id, ""},
			{id, unsubscribeSig}, // signed for another purpose
			{id + 1, sig},
		}
		for _, l := range tampered {
			if _, err := f.s.CheckCertificateClaim(ctx, l.id, l.sig); !errors.Is(err, learning.ErrClaimLinkInvalid) {
				t.Errorf("check %d/%s: %v, want claim_link_invalid", l.id, l.sig, err)
			}
			if _, _, err := f.s.ClaimCertificate(ctx, l.id, l.sig, "Mallory"); !errors.Is(err, learning.ErrClaimLinkInvalid) {
				t.Errorf("claim %d/%s: %v, want claim_link_invalid", l.id, l.sig, err)
			}
		}
		unclaimed("after tampered links")

		for name, want := range map[string]string{
			"":                       "name_required",
			" \t ":                   "name_required",
			"Ada\nLovelace":          "name_invalid",
			"Ada\x00":                "name_invalid",
			"Ada \u202eecalevoL":     "name_invalid", // right-to-left override
			"Ada\u200b Lovelace":     "name_invalid", // zero-width space
			"Ada\u2066 Lovelace":     "name_invalid", // isolate
			"Ada \xff":               "name_invalid",
			strings.Repeat("é", 101): "name_too_long",
		} {
			_, _, err := f.s.ClaimCertificate(ctx, id, sig, name)
			if code(err) != want || field(err, "name") == "" {
				t.Errorf("claim as %q: %v (%s), want %s", name, err, code(err), want)
			}
		}
		unclaimed("after invalid names")

		c, claimed, err := f.s.ClaimCertificate(ctx, id, sig, "  Ada Lovelace  ")
		if err != nil || !claimed || c.LearnerName != "Ada Lovelace" || !c.Claimed() || c.Number != issued.Number {
			t.Fatalf("claim: %s, claimed %v, %v", describe(c), claimed, err)
		}
		// The QR code leads to the certificate's own page.
		if got, want := decodeQR(t, c.QRPNG), baseURL+"/email-learning/public/certificates/"+c.Number+"/"; got != want {
			t.Errorf("the QR code reads %q, want %q", got, want)
		}

		// The name is fixed once claimed.
		again, claimed, err := f.s.ClaimCertificate(ctx, id, sig, "Someone Else")
		if err != nil || claimed || again.LearnerName != "Ada Lovelace" || !bytes.Equal(again.QRPNG, c.QRPNG) || !again.ClaimedAt.Equal(*c.ClaimedAt) {
			t.Errorf("claim again: %s, claimed %v, %v", describe(again), claimed, err)
		}
		if _, _, err := f.s.ClaimCertificate(ctx, id, sig, ""); err != nil {
			t.Errorf("claiming a claimed certificate with no name: %v", err)
		}

		// The public page, by its number in any case.
		for _, number := range []string{c.Number, strings.ToLower(c.Number)} {
			if got, err := f.s.Certificate(ctx, number); err != nil || got.ID != c.ID || got.LearnerName != "Ada Lovelace" {
				t.Errorf("certificate %s: %+v, %v", number, got, err)
			}
		}
		for _, number := range []string{"", "nope", c.Number[1:], c.Number + "0", strings.Repeat("I", len(c.Number))} {
			if _, err := f.s.Certificate(ctx, number); !errors.Is(err, learning.ErrCertificateNotFound) {
				t.Errorf("certificate %q: %v", number, err)
			}
		}

		// The PDF needs a claimed certificate.
		var pdf bytes.Buffer
		if err := f.s.WriteCertificatePDF(&pdf, c); err != nil || !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) {
			t.Errorf("PDF: %v, starts %q", err, pdf.Bytes()[:min(8, pdf.Len())])
		}
		if err := f.s.WriteCertificatePDF(&pdf, issued); err == nil {
			t.Error("a PDF of an unclaimed certificate")
		}
	})
}

func TestCertificateNames(t *testing.T) {
	for name, want := range map[string]string{
		"Ada Lovelace":                       "Ada Lovelace",
		"  Zoë\u00a0Ünal-Øster ":             "Zoë Ünal-Øster",
		"فاطمه\u200cزهرا":                    "فاطمه\u200cزهرا", // a zero-width non-joiner is part of Persian
		"李小龍":                                "李小龍",
		strings.Repeat("é", 100):             strings.Repeat("é", 100),
		" " + strings.Repeat("x", 100) + " ": strings.Repeat("x", 100),
	} {
		if got, err := learning.CertificateName(name); err != nil || got != want {
			t.Errorf("CertificateName(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestCertificateNumbers(t *testing.T) {
	seen := map[string]bool{}
	valid := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{24}$`)
	for range 10000 {
		n := learning.NewCertificateNumber()
		if !valid.MatchString(n) {
			t.Fatalf("number %q is not 24 characters of the alphabet", n)
		}
		if seen[n] {
			t.Fatalf("number %q drawn twice", n)
		}
		seen[n] = true
	}
}

// TestConcurrentClaims claims one certificate with two names at once: one
// name wins, and both answers show it.
func TestConcurrentClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newCertFixture(t, db)
		f.complete("ada@example.com")
		id, sig := f.claimLinkIn("ada@example.com")
		type result struct {
			c       store.Certificate
			claimed bool
			err     error
		}
		results := make(chan result, 2)
		for _, name := range []string{"Ada Lovelace", "Augusta Ada King"} {
			go func() {
				c, claimed, err := f.s.ClaimCertificate(context.Background(), id, sig, name)
				results <- result{c, claimed, err}
			}()
		}
		a, b := <-results, <-results
		if a.err != nil || b.err != nil || a.claimed == b.claimed || a.c.LearnerName != b.c.LearnerName || a.c.LearnerName == "" {
			t.Errorf("concurrent claims: %s %v %v; %s %v %v", describe(a.c), a.claimed, a.err, describe(b.c), b.claimed, b.err)
		}
	})
}

// describe shows a certificate without its QR code's bytes.
func describe(c store.Certificate) string {
	claimed := "unclaimed"
	if c.ClaimedAt != nil {
		claimed = "claimed " + c.ClaimedAt.String()
	}
	return fmt.Sprintf("{%d enrollment %d %s %q %q %q completed %s %s, QR %d bytes}", c.ID, c.EnrollmentID, c.Number,
		c.LearnerName, c.CourseTitle, c.OrganizationName, c.CompletedAt, claimed, len(c.QRPNG))
}

// decodeQR reads the text of a QR code PNG.
func decodeQR(t *testing.T, b []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("QR code: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode the QR code: %v", err)
	}
	return res.GetText()
}
