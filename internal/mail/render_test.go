package mail

import (
	"bytes"
	"flag"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden renders each email kind with fixed inputs and compares the
// whole MIME source, headers and both parts, with testdata/<name>.eml.
func TestGolden(t *testing.T) {
	r, err := NewRenderer("Acme Academy <learn@acme.example>", "https://learn.acme.example/")
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name  string
		email Email
	}{
		{"test", Email{Kind: KindTest, To: "ada@example.com"}},
		{"password_changed", Email{Kind: KindPasswordChanged, To: "ada@example.com",
			Data: PasswordChanged{ChangedAt: date}}},
		{"password_changed_by_reset", Email{Kind: KindPasswordChanged, To: "ada@example.com",
			Data: PasswordChanged{ChangedAt: date, ByResetLink: true}}},
		{"invitation", Email{Kind: KindInvitation, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"},
			Data: Invitation{OrganizationName: "Acme Academy", Role: "editor", InvitedBy: "grace@example.com",
				URL: "https://learn.acme.example/invitations/tok-EN_123/", ExpiresAt: date.Add(7 * 24 * time.Hour)}}},
		{"member_added", Email{Kind: KindMemberAdded, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"},
			Data: MemberAdded{OrganizationName: "Acme Academy", Role: "viewer", AddedBy: "grace@example.com",
				URL: "https://learn.acme.example/email-learning/platform/organizations/7/"}}},
		{"lesson", Email{Kind: KindLesson, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"},
			Unsubscribe: &Unsubscribe{URL: "https://learn.acme.example/email-learning/public/unsubscribe/7/sig/"},
			List:        &List{Labels: []string{"go-basics", "acme-academy"}, Description: "Go basics"}, Key: "delivery-42",
			Data: Lesson{CourseTitle: "Go basics", Title: "Hello", HTML: "<p>Hello <em>world</em></p>", Text: "Hello world"}}},
		{"password_reset", Email{Kind: KindPasswordReset, To: "ada@example.com",
			Data: PasswordReset{Token: "tok-EN_123"}}},
		{"email_change_confirm", Email{Kind: KindEmailChangeConfirm, To: "ada.new@example.com",
			Data: EmailChangeConfirm{OldEmail: "ada@example.com", Token: "tok-EN_123", ExpiresAt: date.Add(24 * time.Hour)}}},
		{"email_change_requested", Email{Kind: KindEmailChangeRequested, To: "ada@example.com",
			Data: EmailChangeRequested{NewEmail: "ada.new@example.com"}}},
		{"signup_confirm", Email{Kind: KindSignupConfirm, To: "ada@example.com",
			Data: SignupConfirm{OrganizationName: "Acme Academy", Token: "tok-EN_123", ExpiresAt: date.Add(24 * time.Hour)}}},
		{"signup_existing", Email{Kind: KindSignupExisting, To: "ada@example.com"}},
		{"enrollment_confirm", Email{Kind: KindEnrollmentConfirm, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"},
			Data: EnrollmentConfirm{OrganizationName: "Acme Academy", CourseTitle: "Go basics",
				URL: "https://learn.acme.example/email-learning/public/enrollments/confirm/tok-EN_123/", ExpiresAt: date.Add(7 * 24 * time.Hour)}}},
		{"enrollment_reminder", Email{Kind: KindEnrollmentReminder, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"},
			Unsubscribe: &Unsubscribe{URL: "https://learn.acme.example/email-learning/public/unsubscribe/7/c2lnbmF0dXJl/"},
			Data: EnrollmentReminder{OrganizationName: "Acme Academy", CourseTitle: "Go basics",
				CourseURL: "https://learn.acme.example/email-learning/public/organization/3/courses/go-basics/"}}},
		{"enrollment_reminder_completed", Email{Kind: KindEnrollmentReminder, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"},
			Data: EnrollmentReminder{OrganizationName: "Acme Academy", CourseTitle: "Go basics", Completed: true,
				CourseURL: "https://learn.acme.example/email-learning/public/organization/3/courses/go-basics/"}}},
		{"quiz", Email{Kind: KindQuiz, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"},
			Unsubscribe: &Unsubscribe{URL: "https://learn.acme.example/email-learning/public/unsubscribe/7/sig/"},
			List:        &List{Labels: []string{"go-basics", "acme-academy"}, Description: "Go basics"}, Key: "delivery-43",
			Data: Quiz{CourseTitle: "Go basics", Title: "Check", Questions: 3, RequiredScore: 80,
				URL: "https://learn.acme.example/email-learning/public/quizzes/43/c2ln/", ExpiresAt: date.Add(30 * 24 * time.Hour), Attempt: 1, Attempts: 2}}},
		{"quiz_retry", Email{Kind: KindQuiz, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"},
			Unsubscribe: &Unsubscribe{URL: "https://learn.acme.example/email-learning/public/unsubscribe/7/sig/"},
			List:        &List{Labels: []string{"go-basics", "acme-academy"}, Description: "Go basics"}, Key: "delivery-44",
			Data: Quiz{CourseTitle: "Go basics", Title: "Check", Questions: 1, RequiredScore: 80,
				URL: "https://learn.acme.example/email-learning/public/quizzes/44/c2ln/", ExpiresAt: date.Add(30 * 24 * time.Hour), Attempt: 2, Attempts: 2}}},
		{"course_failed", Email{Kind: KindCourseFailed, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"},
			Data: CourseFailed{OrganizationName: "Acme Academy", CourseTitle: "Go basics", QuizTitle: "Check", Score: 40, RequiredScore: 80}}},
		{"course_completed", Email{Kind: KindCourseCompleted, To: "ada@example.com", Organization: &Branding{Name: "Acme Academy"}, Key: "certificate-5",
			Data: CourseCompleted{OrganizationName: "Acme Academy", CourseTitle: "Go basics",
				ClaimURL: "https://learn.acme.example/email-learning/public/certificates/claim/7/c2lnbmF0dXJl/"}}},
		{"branded_with_unsubscribe", Email{Kind: KindTest, To: "zoë@example.com",
			Organization: &Branding{Name: "Acme <Ünïversity>", LogoURL: "https://learn.acme.example/logo.png"},
			Unsubscribe:  &Unsubscribe{URL: "https://learn.acme.example/u/tok123", Mailto: "unsubscribe+tok123@acme.example"},
			List:         &List{Labels: []string{"go-basics", "acme"}, Description: "Go basics"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := r.Render(tt.email, "fixed-"+tt.name+"@acme.example", date)
			if err != nil {
				t.Fatal(err)
			}
			got := msg.Bytes()
			path := filepath.Join("testdata", tt.name+".eml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rendered %s differs from %s (go test -update rewrites it):\n%s", tt.name, path, got)
			}
			if bytes.Contains(bytes.ReplaceAll(got, []byte("\r\n"), nil), []byte("\n")) {
				t.Error("a bare LF in the message: lines must end in CRLF")
			}
		})
	}
}

func TestRenderedMessageParsesBack(t *testing.T) {
	r, _ := NewRenderer("mailschool <noreply@example.com>", "http://localhost:8080")
	msg, err := r.Render(Email{Kind: KindTest, To: "ada@example.com",
		Organization: &Branding{Name: `<script>alert("x")</script>`},
		Unsubscribe:  &Unsubscribe{URL: "https://example.com/u/1"}}, "id-1@example.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(msg.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Text, "http://localhost:8080") || !strings.Contains(p.Text, "Unsubscribe: https://example.com/u/1") {
		t.Errorf("text part:\n%s", p.Text)
	}
	if strings.Contains(p.HTML, "<script>") || !strings.Contains(p.HTML, "&lt;script&gt;") {
		t.Error("the organization name is not escaped in the HTML part")
	}
	if got := p.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	if got := p.Header.Get("Message-Id"); got != "<id-1@example.com>" {
		t.Errorf("Message-ID = %q", got)
	}
}

func TestSubjectIsOneLine(t *testing.T) {
	msg := Message{Subject: "Hello\r\nBcc: victim@example.com", MessageID: "x@y", To: "a@example.com"}
	raw := string(msg.Bytes())
	if strings.Contains(raw, "\r\nBcc:") {
		t.Fatalf("a line break in the subject injected a header:\n%s", raw)
	}
}

func TestNewRendererRejectsBadFrom(t *testing.T) {
	if _, err := NewRenderer("not an address", "http://x"); err == nil {
		t.Error("a From without an address was accepted")
	}
}

// TestSenderSignsOrganizationEmails: an email that speaks for an
// organization is from its sender name (the organization's name by
// default) at the platform's address, with its Reply-To and its postal
// address in both parts; whatever the name holds stays one From header.
func TestSenderSignsOrganizationEmails(t *testing.T) {
	r, err := NewRenderer("mailschool <noreply@school.example>", "https://school.example")
	if err != nil {
		t.Fatal(err)
	}
	render := func(e Email) Parsed {
		t.Helper()
		e.Kind, e.To, e.Organization = KindTest, "ada@example.com", &Branding{Name: "Acme Academy"}
		msg, err := r.Render(e, "id-1@school.example", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(msg.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	from := func(p Parsed) mail.Address {
		t.Helper()
		a, err := mail.ParseAddress(p.Header.Get("From"))
		if err != nil {
			t.Fatalf("From %q: %v", p.Header.Get("From"), err)
		}
		return *a
	}

	// Without a sender, as platform and staff emails are: the platform's.
	p := render(Email{})
	if got := from(p); got.Name != "mailschool" || got.Address != "noreply@school.example" {
		t.Errorf("From without a sender = %v, want the platform's", got)
	}
	// A sender without a name: the organization's name.
	p = render(Email{Sender: &Sender{}})
	if got := from(p); got.Name != "Acme Academy" || got.Address != "noreply@school.example" {
		t.Errorf("From by default = %v, want the organization's name at the platform's address", got)
	}
	if p.Header.Get("Reply-To") != "" || strings.Contains(p.Text, "Street") {
		t.Errorf("Reply-To %q or a postal address without one set", p.Header.Get("Reply-To"))
	}

	for _, name := range []string{"Académie Acme – Formation", `Acme "Training" (London), Ltd.`, "Acme\r\nBcc: victim@example.com", "研修センター"} {
		p := render(Email{Sender: &Sender{Name: name, ReplyTo: "training@acme.example", PostalAddress: "Acme Ltd\n1 Main Street\nSpringfield <b>"}})
		raw := p.Header.Get("From")
		if strings.ContainsFunc(raw, func(r rune) bool { return r < ' ' || r > '~' }) {
			t.Errorf("From %q is not ASCII", raw)
		}
		want := strings.NewReplacer("\r", " ", "\n", " ").Replace(name)
		if got := from(p); got.Name != want || got.Address != "noreply@school.example" {
			t.Errorf("From = %q (%v), want %q at the platform's address", raw, got, want)
		}
		if p.Header.Get("Bcc") != "" {
			t.Errorf("the sender name %q added a header", name)
		}
		if got := p.Header.Get("Reply-To"); got != "<training@acme.example>" {
			t.Errorf("Reply-To = %q", got)
		}
		if !strings.Contains(strings.ReplaceAll(p.Text, "\r\n", "\n"), "\nAcme Ltd\n1 Main Street\nSpringfield <b>\n") {
			t.Errorf("the text part lacks the postal address:\n%s", p.Text)
		}
		if !strings.Contains(p.HTML, "Acme Ltd<br>1 Main Street<br>Springfield &lt;b&gt;</p>") {
			t.Errorf("the HTML part lacks the postal address:\n%s", p.HTML)
		}
	}
}
