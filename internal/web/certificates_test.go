package web

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// completeCourse makes a course of one lesson through the API, enrolls an
// address and waits for the delivery worker to send the lesson, which
// completes the enrollment; it returns the claim link's path from the
// course_completed email.
func completeCourse(t *testing.T, app *testApp, admin *client, email string) (store.Enrollment, string) {
	t.Helper()
	res, course := admin.api(http.MethodPost, "/api/v1/organizations/1/courses", map[string]any{"title": "Go basics"})
	if res.status != http.StatusCreated {
		t.Fatalf("create course: %d %s", res.status, res.body)
	}
	id := int64(course["id"].(float64))
	res, _ = admin.api(http.MethodPost, fmt.Sprintf("/api/v1/organizations/1/courses/%d/contents", id),
		map[string]any{"kind": "lesson", "title": "The only lesson", "body": "Hello", "published": true})
	if res.status != http.StatusCreated {
		t.Fatalf("create lesson: %d %s", res.status, res.body)
	}
	if res, _ = admin.api(http.MethodPatch, fmt.Sprintf("/api/v1/organizations/1/courses/%d", id), map[string]any{"enabled": true}); res.status != http.StatusOK {
		t.Fatalf("enable: %d %s", res.status, res.body)
	}
	res, enrollment := admin.api(http.MethodPost, "/api/v1/organizations/1/enrollments", map[string]any{"email": email, "course_id": id})
	if res.status != http.StatusCreated {
		t.Fatalf("enroll: %d %s", res.status, res.body)
	}
	storetest.Eventually(t, 10*time.Second, "the course_completed email", func() bool {
		return len(app.mails(email, mail.KindCourseCompleted)) > 0
	})
	e, err := app.db.Read().Enrollment(t.Context(), 1, int64(enrollment["id"].(float64)))
	if err != nil || e.Status != store.EnrollmentCompleted {
		t.Fatalf("the enrollment is %s, %v", e.Status, err)
	}
	return e, app.linkIn(app.mails(email, mail.KindCourseCompleted)[0].Text, "/email-learning/public/certificates/claim/")
}

func TestCertificatePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		e, claim := completeCourse(t, app, admin, "zoe@example.com")
		issued, err := db.Read().CertificateOfEnrollment(t.Context(), 1, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		page := learning.CertificatePath(issued.Number)
		unclaimed := func(when string) {
			t.Helper()
			if c, err := db.Read().CertificateOfEnrollment(t.Context(), 1, e.ID); err != nil || c.Claimed() || c.LearnerName != "" {
				t.Errorf("%s: the certificate is claimed (%q), %v", when, c.LearnerName, err)
			}
		}
		// Tampered links, before and after the claim link's parts.
		parts := strings.Split(strings.Trim(claim, "/"), "/") // email-learning public certificates claim ID SIG
		sig := parts[len(parts)-1]
		tampered := []string{
			learning.CertificateClaimPath(e.ID, strings.ToUpper(sig[:1])+sig[1:]+"x"),
			learning.CertificateClaimPath(e.ID, "AAAA"),
			learning.CertificateClaimPath(e.ID+1, sig),
			"/email-learning/public/certificates/claim/nope/" + sig + "/",
		}
		for _, path := range tampered {
			scenario{name: "tampered GET", method: "GET", path: path, wantStatus: 404}.run(t, app)
			scenario{name: "tampered POST", method: "POST", path: path, form: url.Values{"name": {"Mallory"}}, wantStatus: 404}.run(t, app)
		}
		for _, sc := range []scenario{
			{method: "GET", path: claim, wantStatus: 200, want: []string{"Claim your certificate", "Go basics", "My Organization",
				`name="name"`, `maxlength="100"`, "fixed once the certificate is claimed"}},
			{method: "POST", path: claim, form: url.Values{"name": {"  "}}, wantStatus: 422,
				want: []string{"Enter the name to print on the certificate.", `aria-invalid="true"`}},
			{method: "POST", path: claim, form: url.Values{"name": {strings.Repeat("x", 101)}}, wantStatus: 422,
				want: []string{"at most 100 characters", strings.Repeat("x", 101)}},
			{method: "POST", path: claim, form: url.Values{"name": {"Zoë\r\nÜnal"}}, wantStatus: 422, want: []string{"control characters"}},
			// An unclaimed certificate has no page yet.
			{method: "GET", path: page, wantStatus: 404},
			{method: "GET", path: page + "qr.png", wantStatus: 404},
			{method: "GET", path: page + "certificate.pdf", wantStatus: 404},
		} {
			sc.run(t, app)
		}
		unclaimed("after tampered links and invalid names")

		// The claim leads to the page.
		res := app.client().post(claim, url.Values{"name": {"  Zoë Ünal-Øster  "}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != page {
			t.Fatalf("claim: %d to %q, want 303 to %s\n%s", res.status, res.header.Get("Location"), page, res.body)
		}
		c, err := db.Read().CertificateOfEnrollment(t.Context(), 1, e.ID)
		if err != nil || c.LearnerName != "Zoë Ünal-Øster" || c.QRPNG == nil {
			t.Fatalf("after the claim: %q, %d bytes of QR code, %v", c.LearnerName, len(c.QRPNG), err)
		}
		date := c.CompletedAt.Format("2 January 2006")
		for _, sc := range []scenario{
			{method: "GET", path: page, wantStatus: 200, want: []string{"Certificate of Completion", "Zoë Ünal-Øster", "Go basics",
				"My Organization", date, c.Number, app.srv.URL + page, `src="` + page + `qr.png"`, `href="` + page + `certificate.pdf"`, "Download PDF",
				`class="certificate"`, `class="card certificate-actions no-print"`}},
			// A number is read in any case: people type it off paper.
			{method: "GET", path: learning.CertificatePath(strings.ToLower(c.Number)), wantStatus: 200, want: []string{"Zoë Ünal-Øster"}},
			{method: "GET", path: learning.CertificatePath(learning.NewCertificateNumber()), wantStatus: 404},
			{method: "GET", path: "/email-learning/public/certificates/short/", wantStatus: 404},
			// The claim link now shows the certificate; claiming again changes nothing.
			{method: "GET", path: claim, wantStatus: 200, want: []string{"Your certificate", "Zoë Ünal-Øster", "fixed once it is claimed", `href="` + page + `"`},
				notWant: []string{`name="name"`}},
			{method: "POST", path: claim, form: url.Values{"name": {"Mallory"}}, wantStatus: 409,
				want: []string{"claimed already", "Zoë Ünal-Øster"}, notWant: []string{"Mallory"}},
			{method: "POST", path: claim, form: url.Values{"name": {""}}, wantStatus: 409, want: []string{"Zoë Ünal-Øster"}},
		} {
			sc.run(t, app)
		}
		if again, _ := db.Read().CertificateOfEnrollment(t.Context(), 1, e.ID); again.LearnerName != "Zoë Ünal-Øster" || !bytes.Equal(again.QRPNG, c.QRPNG) {
			t.Errorf("claiming again changed the certificate: %q", again.LearnerName)
		}

		// The QR code: the stored bytes, cached for good.
		res = app.client().get(page + "qr.png")
		etag := res.header.Get("ETag")
		if res.status != 200 || res.header.Get("Content-Type") != "image/png" || res.body != string(c.QRPNG) ||
			!regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) || !strings.Contains(res.header.Get("Cache-Control"), "max-age=31536000") {
			t.Errorf("qr.png: %d %v", res.status, res.header)
		}
		req, _ := http.NewRequest(http.MethodGet, app.srv.URL+page+"qr.png", nil)
		req.Header.Set("If-None-Match", etag)
		if res := app.client().do(req); res.status != http.StatusNotModified {
			t.Errorf("qr.png with its ETag: %d, want 304", res.status)
		}

		// The PDF.
		res = app.client().get(page + "certificate.pdf")
		if res.status != 200 || res.header.Get("Content-Type") != "application/pdf" ||
			res.header.Get("Content-Disposition") != `attachment; filename="certificate-`+c.Number+`.pdf"` {
			t.Errorf("certificate.pdf: %d %v", res.status, res.header)
		}
		if !strings.HasPrefix(res.body, "%PDF-") {
			t.Fatalf("the PDF starts with %q", res.body[:min(len(res.body), 16)])
		}
		texts := pdfTexts(t, []byte(res.body))
		for _, want := range []string{"Zoë Ünal-Øster", "Go basics", "My Organization", "on " + date, "Certificate number " + c.Number,
			"Check it at " + app.srv.URL + page} {
			if !slices.Contains(texts, want) {
				t.Errorf("the PDF lacks the text %q; it has %q", want, texts)
			}
		}
		if !strings.Contains(res.body, "/Subtype /Image") {
			t.Error("the PDF has no image: the QR code is missing")
		}

		// Staff see the certificate on the enrollment's page.
		scenario{method: "GET", path: fmt.Sprintf(organizationsPath+"1/enrollments/%d/", e.ID), loggedIn: true, wantStatus: 200,
			want: []string{"Certificate", `href="` + page + `"`, "claimed for Zoë Ünal-Øster"}}.run(t, app)

		// Request logs leave the claim link's signature out.
		if got := loggedPath(httptestRequest(claim)); strings.Contains(got, sig) {
			t.Errorf("the request log shows the claim link: %s", got)
		}
	})
}

func httptestRequest(path string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://example.com"+path, nil)
	return r
}

// pdfTexts is a minimal text extraction for the PDFs fpdf writes: it
// inflates every stream, finds the strings shown with Tj, undoes the
// string escapes and reads them as UTF-16BE, as fpdf writes text in
// Unicode fonts.
func pdfTexts(t *testing.T, pdf []byte) []string {
	t.Helper()
	var content bytes.Buffer
	streams := regexp.MustCompile(`(?s)stream\r?\n(.*?)\r?\nendstream`)
	for _, m := range streams.FindAllSubmatch(pdf, -1) {
		r, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue // not compressed, or not zlib: images, fonts
		}
		b, err := io.ReadAll(r)
		if err != nil {
			continue
		}
		content.Write(b)
		content.WriteByte('\n')
	}
	var texts []string
	shown := regexp.MustCompile(`(?s)\(((?:\\.|[^\\)])*)\)\s*Tj`)
	for _, m := range shown.FindAllSubmatch(content.Bytes(), -1) {
		s := regexp.MustCompile(`(?s)\\(.)`).ReplaceAllFunc(m[1], func(esc []byte) []byte {
			switch esc[1] {
			case 'r':
				return []byte{'\r'}
			case 'n':
				return []byte{'\n'}
			}
			return esc[1:]
		})
		if len(s)%2 != 0 {
			t.Fatalf("a PDF string of odd length: %q", s)
		}
		units := make([]uint16, len(s)/2)
		for i := range units {
			units[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
		}
		texts = append(texts, string(utf16.Decode(units)))
	}
	if len(texts) == 0 {
		t.Fatalf("no text in the PDF:\n%s", content.String())
	}
	return texts
}
