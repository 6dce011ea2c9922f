package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/mailschool/mailschool/internal/store"
)

// Kind names an email: each has a template pair, <kind>.txt (subject and
// plain-text body) and <kind>.html (HTML body), in templates/.
type Kind string

const (
	KindTest            Kind = "test"
	KindPasswordChanged Kind = "password_changed"
	KindInvitation      Kind = "invitation"
	KindMemberAdded     Kind = "member_added"
	KindPasswordReset   Kind = "password_reset"
	KindLesson          Kind = "lesson"
)

// Kinds of the enrollment emails.
const (
	KindEnrollmentConfirm  Kind = "enrollment_confirm"
	KindEnrollmentReminder Kind = "enrollment_reminder"
)

// Kinds of the quiz emails.
const (
	KindQuiz         Kind = "quiz"
	KindCourseFailed Kind = "course_failed"
)

var kinds = []Kind{KindTest, KindPasswordChanged, KindInvitation, KindMemberAdded, KindPasswordReset,
	KindEnrollmentConfirm, KindEnrollmentReminder, KindLesson, KindQuiz, KindCourseFailed, KindCourseCompleted,
	KindEmailChangeConfirm, KindEmailChangeRequested, KindSignupConfirm, KindSignupExisting, KindWebhookDisabled}

// KindWebhookDisabled tells an organization's admins that one of its
// webhook endpoints failed for so long that it was turned off.
const KindWebhookDisabled Kind = "webhook_disabled"

// WebhookDisabled is the template data of KindWebhookDisabled.
type WebhookDisabled struct {
	OrganizationName string
	EndpointURL      string
	FailingSince     time.Time
	Reason           string
	URL              string // the page where the endpoint is turned back on
}

// Kinds of the sign-up emails: the link that creates the account, or, for
// an address that has one, a reminder of how to log in.
const (
	KindSignupConfirm  Kind = "signup_confirm"
	KindSignupExisting Kind = "signup_existing"
)

// SignupConfirm is the template data of KindSignupConfirm. The link is
// {BaseURL}/accounts/signup/confirm/{Token}/ and opens a page with a
// button.
type SignupConfirm struct {
	OrganizationName string
	Token            string
	ExpiresAt        time.Time
}

// Kinds of the emails about a change of a user's address: the link to the
// new address, and the notice to the old one.
const (
	KindEmailChangeConfirm   Kind = "email_change_confirm"
	KindEmailChangeRequested Kind = "email_change_requested"
)

// EmailChangeConfirm is the template data of KindEmailChangeConfirm, sent
// to the new address. The link is {BaseURL}/accounts/settings/email/{Token}/
// and opens a page with a button.
type EmailChangeConfirm struct {
	OldEmail  string
	Token     string
	ExpiresAt time.Time
}

// EmailChangeRequested is the template data of KindEmailChangeRequested,
// sent to the current address, so that its owner hears of a change they
// did not ask for before it can happen.
type EmailChangeRequested struct {
	NewEmail string
}

// KindCourseCompleted congratulates a learner who completed a course and
// links to the page that claims the certificate.
const KindCourseCompleted Kind = "course_completed"

// CourseCompleted is the template data of KindCourseCompleted. ClaimURL
// opens the page where the learner enters the name to print on the
// certificate.
type CourseCompleted struct {
	OrganizationName string
	CourseTitle      string
	ClaimURL         string
}

// EnrollmentConfirm is the template data of KindEnrollmentConfirm: the
// double opt-in. The link opens a page with a button, so that a mail
// scanner fetching it enrolls nobody.
type EnrollmentConfirm struct {
	OrganizationName string
	CourseTitle      string
	URL              string
	ExpiresAt        time.Time
}

// EnrollmentReminder is the template data of KindEnrollmentReminder, sent
// instead of a confirmation to someone who asks to enroll in a course
// they are in already, or have completed.
type EnrollmentReminder struct {
	OrganizationName string
	CourseTitle      string
	Completed        bool
	CourseURL        string // the course's public page
}

// PasswordChanged is the template data of KindPasswordChanged.
type PasswordChanged struct {
	ChangedAt time.Time
	// ByResetLink is set when the password was set from a reset link,
	// which ends every session rather than every other one.
	ByResetLink bool
}

// Invitation is the template data of KindInvitation: the link sets a
// password (or, for an existing account, accepts with one click).
type Invitation struct {
	OrganizationName string
	Role             string
	InvitedBy        string // the inviter's email
	URL              string
	ExpiresAt        time.Time
}

// MemberAdded is the template data of KindMemberAdded, sent to an existing
// user who was added to an organization.
type MemberAdded struct {
	OrganizationName string
	Role             string
	AddedBy          string // the adder's email
	URL              string // the organization's page
}

// PasswordReset is the template data of KindPasswordReset. The link is
// {BaseURL}/accounts/reset/{Token}/; the templates say it works once, for
// one hour, which is what auth enforces.
type PasswordReset struct {
	Token string
}

// Lesson is the template data of KindLesson: one lesson of a course.
type Lesson struct {
	CourseTitle string
	Title       string
	HTML        htmltemplate.HTML // the body, rendered from Markdown and sanitized
	Text        string            // the body as plain text
}

// Quiz is the template data of KindQuiz: a quiz of a course, answered on
// the page its link opens.
type Quiz struct {
	CourseTitle   string
	Title         string
	Questions     int // how many
	RequiredScore int // percent
	URL           string
	ExpiresAt     time.Time // when the link stops working
	Attempt       int       // 1, or 2 for the retry after a failed first attempt
	Attempts      int       // how many attempts there are
}

// CourseFailed is the template data of KindCourseFailed: the last attempt
// at a quiz failed, and the course has ended for the learner.
type CourseFailed struct {
	OrganizationName string
	CourseTitle      string
	QuizTitle        string
	Score            int
	RequiredScore    int
}

// Branding is the organization an email speaks for.
type Branding struct {
	Name    string
	LogoURL string // absolute URL, or empty
}

// Sender is how an organization signs the emails that speak for it to its
// learners (lessons, quizzes, enrollment and course emails). The address
// stays the platform's, which SPF and DKIM vouch for; Name replaces the
// display name (empty: the organization's name), ReplyTo sends answers
// to the organization, and PostalAddress ends every such email, as
// bulk-mail rules ask. Platform and staff emails have none.
type Sender struct {
	Name          string
	ReplyTo       string // bare address, or empty
	PostalAddress string // plain text, lines separated by \n, or empty
}

// OrganizationSender is the Sender of an organization's stored identity.
func OrganizationSender(s store.Sender) *Sender {
	return &Sender{Name: s.Name, ReplyTo: s.ReplyTo, PostalAddress: s.PostalAddress}
}

// Unsubscribe is where a recipient stops a course's emails. It becomes the
// footer link and the RFC 8058 one-click List-Unsubscribe headers.
type Unsubscribe struct {
	URL    string // https URL that accepts a one-click POST
	Mailto string // address that unsubscribes by email, optional
}

// Email is one email to send.
type Email struct {
	Kind           Kind
	To             string // bare address
	OrganizationID int64  // 0 for platform emails
	Organization   *Branding
	Sender         *Sender // set on emails that speak for the organization
	Unsubscribe    *Unsubscribe
	List           *List // the List-Id header, optional
	Data           any   // the kind's template data
	// Key, when set, starts the Message-ID (<Key.random@sender-domain>),
	// naming what the email is about (delivery-12) to whoever reads the
	// headers. The random part keeps Message-IDs unique; what keeps an
	// email from being recorded twice is the transaction that records it
	// with the change that caused it (a delivery marked sent).
	Key string
	// EnrollmentID, when set, puts the email in its enrollment's
	// sequence: it goes out only once every email recorded before it for
	// the same enrollment has gone out or failed for good, so a learner
	// gets a course's emails in its order whatever fails on the way.
	EnrollmentID int64
}

// templateData is what every email template sees.
type templateData struct {
	Subject      string
	To           string
	BaseURL      string
	Organization *Branding
	Unsubscribe  *Unsubscribe
	// PostalAddress is the sender's postal address, line by line, for
	// the footer; empty for none.
	PostalAddress []string
	Data          any
}

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

type kindTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// Renderer turns an Email into a Message.
type Renderer struct {
	from      mail.Address
	baseURL   string
	templates map[Kind]kindTemplates
}

// NewRenderer parses the templates of every kind. from is the From header,
// such as "mailschool <noreply@example.com>"; baseURL is the site's
// absolute URL for links.
func NewRenderer(from, baseURL string) (*Renderer, error) {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("MAILSCHOOL_FROM %q: %w", from, err)
	}
	r := &Renderer{from: *addr, baseURL: strings.TrimRight(baseURL, "/"), templates: map[Kind]kindTemplates{}}
	for _, k := range kinds {
		text, err := texttemplate.ParseFS(templateFS, "templates/layout.txt", "templates/"+string(k)+".txt")
		if err != nil {
			return nil, fmt.Errorf("email templates %s: %w", k, err)
		}
		html, err := htmltemplate.ParseFS(templateFS, "templates/layout.html", "templates/"+string(k)+".html")
		if err != nil {
			return nil, fmt.Errorf("email templates %s: %w", k, err)
		}
		r.templates[k] = kindTemplates{text: text, html: html}
	}
	return r, nil
}

// From is the sender of every email.
func (r *Renderer) From() mail.Address { return r.from }

// Render builds the message for e with the given Message-ID and date.
func (r *Renderer) Render(e Email, messageID string, date time.Time) (Message, error) {
	t, ok := r.templates[e.Kind]
	if !ok {
		return Message{}, fmt.Errorf("render email: unknown kind %q", e.Kind)
	}
	data := templateData{To: e.To, BaseURL: r.baseURL, Organization: e.Organization, Unsubscribe: e.Unsubscribe, Data: e.Data}
	from := r.from
	var replyTo string
	if s := e.Sender; s != nil {
		from.Name = s.Name
		if from.Name == "" && e.Organization != nil {
			from.Name = e.Organization.Name
		}
		// Names are checked where they are saved; a control character
		// would still be encoded, but has no place in a From line.
		from.Name = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, from.Name)
		replyTo = s.ReplyTo
		if s.PostalAddress != "" {
			data.PostalAddress = strings.Split(s.PostalAddress, "\n")
		}
	}
	var subject, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Message{}, fmt.Errorf("render %s subject: %w", e.Kind, err)
	}
	// A subject is one line, whatever the data held.
	data.Subject = strings.Join(strings.Fields(subject.String()), " ")
	if err := t.text.ExecuteTemplate(&text, "layout", data); err != nil {
		return Message{}, fmt.Errorf("render %s text: %w", e.Kind, err)
	}
	if err := t.html.ExecuteTemplate(&html, "layout", data); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", e.Kind, err)
	}
	m := Message{
		From:      from,
		To:        e.To,
		Subject:   data.Subject,
		Date:      date,
		MessageID: messageID,
		Text:      strings.TrimLeft(text.String(), "\n"),
		HTML:      html.String(),
	}
	if replyTo != "" {
		// Formatted as an address, so that nothing in it can start a
		// header or add a recipient.
		m.Headers = append(m.Headers, Header{"Reply-To", (&mail.Address{Address: replyTo}).String()})
	}
	if e.List != nil {
		m.Headers = append(m.Headers, Header{"List-Id", e.List.header(domainOf(r.from))})
	}
	if u := e.Unsubscribe; u != nil {
		value := "<" + u.URL + ">"
		if u.Mailto != "" {
			value += ", <mailto:" + u.Mailto + ">"
		}
		m.Headers = append(m.Headers,
			Header{"List-Unsubscribe", value},
			Header{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"})
	}
	return m, nil
}
