package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// The event types an endpoint may subscribe to, in the order the
// settings page groups them.
const (
	EnrollmentCreated      = string(learning.EnrollmentCreated)
	EnrollmentConfirmed    = string(learning.EnrollmentConfirmed)
	EnrollmentCompleted    = string(learning.EnrollmentCompleted)
	EnrollmentFailed       = string(learning.EnrollmentFailed)
	EnrollmentUnsubscribed = string(learning.EnrollmentUnsubscribed)
	EnrollmentCancelled    = string(learning.EnrollmentCancelled)
	QuizAnswered           = string(learning.QuizAnswered)
	CertificateIssued      = string(learning.CertificateIssued)
	CertificateClaimed     = string(learning.CertificateClaimed)
	MemberAdded            = "member.added"
	MemberRemoved          = "member.removed"
	MemberRoleChanged      = "member.role_changed"
	OwnershipTransferred   = "ownership.transferred"
	CourseEnabled          = string(learning.CourseEnabled)
	CourseDisabled         = string(learning.CourseDisabled)
	// TestEvent is what "Send test event" sends; nobody subscribes to it.
	TestEvent = "webhook.test"
	// AllEvents subscribes to every type, those added later included.
	AllEvents = "*"
)

// EventGroup is a group of event types, as the settings page shows them.
type EventGroup struct {
	Name  string
	Types []string
}

// EventGroups are every event type an endpoint may subscribe to.
var EventGroups = []EventGroup{
	{"Enrollments", []string{EnrollmentCreated, EnrollmentConfirmed, EnrollmentCompleted, EnrollmentFailed,
		EnrollmentUnsubscribed, EnrollmentCancelled}},
	{"Quizzes and certificates", []string{QuizAnswered, CertificateIssued, CertificateClaimed}},
	{"Members", []string{MemberAdded, MemberRemoved, MemberRoleChanged, OwnershipTransferred}},
	{"Courses", []string{CourseEnabled, CourseDisabled}},
}

var knownTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, g := range EventGroups {
		for _, t := range g.Types {
			m[t] = true
		}
	}
	return m
}()

// KnownEventType reports whether t is an event type endpoints may want.
func KnownEventType(t string) bool { return knownTypes[t] }

// Payload is the body of every webhook request.
type Payload struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// The data of the events, with the field names of the API's objects.

// EnrollmentData is an enrollment as the API shows it.
type EnrollmentData struct {
	ID           int64      `json:"id"`
	LearnerID    int64      `json:"learner_id"`
	LearnerEmail string     `json:"learner_email"`
	CourseID     int64      `json:"course_id"`
	CourseTitle  string     `json:"course_title"`
	Status       string     `json:"status"`
	ActivatedAt  *time.Time `json:"activated_at"`
	EndedAt      *time.Time `json:"ended_at"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// QuizAttemptData is an answer to a quiz as the API shows it.
type QuizAttemptData struct {
	ID           int64     `json:"id"`
	EnrollmentID int64     `json:"enrollment_id"`
	LearnerEmail string    `json:"learner_email"`
	ContentID    int64     `json:"content_id"`
	QuizTitle    string    `json:"quiz_title"`
	Attempt      int       `json:"attempt"`
	Score        int       `json:"score"`
	Passed       bool      `json:"passed"`
	AnsweredAt   time.Time `json:"answered_at"`
}

// CertificateData is a certificate as the API shows it.
type CertificateData struct {
	ID           int64  `json:"id"`
	Number       string `json:"number"`
	EnrollmentID int64  `json:"enrollment_id"`
	LearnerEmail string `json:"learner_email"`
	// LearnerName is the name printed on it, null until claimed.
	LearnerName      *string    `json:"learner_name"`
	CourseID         int64      `json:"course_id"`
	CourseTitle      string     `json:"course_title"`
	OrganizationName string     `json:"organization_name"`
	CompletedAt      time.Time  `json:"completed_at"`
	ClaimedAt        *time.Time `json:"claimed_at"`
	// URL is the public verification page, null until claimed (an
	// unclaimed certificate has none).
	URL              *string    `json:"url"`
	RevokedAt        *time.Time `json:"revoked_at"`
	RevokedBy        *string    `json:"revoked_by"`
	RevocationReason *string    `json:"revocation_reason"`
	CreatedAt        time.Time  `json:"created_at"`
	// UpdatedAt is its last change: issued, claimed or revoked.
	UpdatedAt time.Time `json:"updated_at"`
}

// CourseData is a course as the API shows it.
type CourseData struct {
	ID          int64     `json:"id"`
	Title       string    `json:"title"`
	Slug        string    `json:"slug"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	Public      bool      `json:"public"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// MemberData is a member as the API shows it. A removed member's name
// and date are gone with the membership: Name is "" and CreatedAt null.
type MemberData struct {
	UserID    int64      `json:"user_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedAt *time.Time `json:"created_at"`
}

// EnrollmentEventData is the data of enrollment.* events.
type EnrollmentEventData struct {
	Enrollment EnrollmentData `json:"enrollment"`
}

// QuizEventData is the data of quiz.answered.
type QuizEventData struct {
	Enrollment  EnrollmentData  `json:"enrollment"`
	QuizAttempt QuizAttemptData `json:"quiz_attempt"`
}

// CertificateEventData is the data of certificate.* events.
type CertificateEventData struct {
	Certificate CertificateData `json:"certificate"`
}

// CourseEventData is the data of course.* events.
type CourseEventData struct {
	Course CourseData `json:"course"`
}

// MemberEventData is the data of member.* and ownership.transferred.
// ActorEmail names who acted as the audit log does.
type MemberEventData struct {
	Member     MemberData `json:"member"`
	ActorEmail string     `json:"actor_email"`
	// PreviousRole: member.role_changed, the role before.
	PreviousRole string `json:"previous_role,omitempty"`
	// Reason: member.removed, "removed" by an admin, "left", or
	// "account_deleted".
	Reason string `json:"reason,omitempty"`
	// PreviousOwnerEmail: ownership.transferred, "" when there was none.
	PreviousOwnerEmail string `json:"previous_owner_email,omitempty"`
}

// TestEventData is the data of webhook.test.
type TestEventData struct {
	WebhookID int64  `json:"webhook_id"`
	Message   string `json:"message"`
}

// EnrollmentJSON is an enrollment as the API and the payloads show it.
func EnrollmentJSON(e store.Enrollment) EnrollmentData {
	return EnrollmentData{ID: e.ID, LearnerID: e.LearnerID, LearnerEmail: e.LearnerEmail, CourseID: e.CourseID, CourseTitle: e.CourseTitle,
		Status: string(e.Status), ActivatedAt: e.ActivatedAt, EndedAt: e.EndedAt, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

func (s *Service) certificateJSON(c store.Certificate) CertificateData {
	j := CertificateData{ID: c.ID, Number: c.Number, EnrollmentID: c.EnrollmentID, LearnerEmail: c.LearnerEmail,
		CourseID: c.CourseID, CourseTitle: c.CourseTitle, OrganizationName: c.OrganizationName, CompletedAt: c.CompletedAt,
		ClaimedAt: c.ClaimedAt, RevokedAt: c.RevokedAt, CreatedAt: c.CreatedAt, UpdatedAt: c.CreatedAt}
	if c.Claimed() {
		name := c.LearnerName
		j.LearnerName = &name
		if s.learning != nil {
			url := s.learning.CertificateURL(c.Number)
			j.URL = &url
		}
		if c.ClaimedAt.After(j.UpdatedAt) {
			j.UpdatedAt = *c.ClaimedAt
		}
	}
	if c.Revoked() {
		by, reason := c.RevokedByName, c.RevocationReason
		j.RevokedBy, j.RevocationReason = &by, &reason
		if c.RevokedAt.After(j.UpdatedAt) {
			j.UpdatedAt = *c.RevokedAt
		}
	}
	return j
}

// event is one event to write: its type, what orders it, and its data.
type event struct {
	orgID   int64
	typ     string
	subject string
	data    any
}

// write writes the event as a message to every enabled endpoint of the
// organization that wants it, and kicks those endpoints. In a transaction
// the messages are written when its work is done, just before it commits,
// with those of the transaction's other events: one statement for all on
// PostgreSQL, and one kick.
func (s *Service) write(ctx context.Context, q *store.Queries, ev event) error {
	id := NewEventID()
	at := s.now().UTC().Truncate(time.Microsecond)
	body, err := jsonPayload(Payload{ID: id, Type: ev.typ, Timestamp: at, Data: ev.data})
	if err != nil {
		return err
	}
	e := store.WebhookEvent{OrganizationID: ev.orgID, EventID: id, Type: ev.typ, Subject: ev.subject, Payload: body, At: at}
	if p := s.pending(q); p != nil && !p.written {
		p.events = append(p.events, e)
		return nil
	}
	return s.writeEvents(ctx, q, []store.WebhookEvent{e})
}

func (s *Service) writeEvents(ctx context.Context, q *store.Queries, events []store.WebhookEvent) error {
	ids, err := q.AddWebhookEvents(ctx, events)
	if err != nil {
		return err
	}
	return s.kickEndpoints(ctx, q, ids)
}

// pendingEvents are a transaction's events not yet written, and whether
// each organization it probed has endpoints.
type pendingEvents struct {
	events       []store.WebhookEvent
	hasEndpoints map[int64]bool
	// written is set once the events have been written: an event of work
	// done before the commit after that (another BeforeCommit) is
	// written at once.
	written bool
}

type pendingKey struct{ s *Service }

// pending returns q's transaction's pending events, nil outside one.
func (s *Service) pending(q *store.Queries) *pendingEvents {
	if p, ok := q.TxValue(pendingKey{s}).(*pendingEvents); ok {
		return p
	}
	p := &pendingEvents{hasEndpoints: map[int64]bool{}}
	written := q.BeforeCommit(func(ctx context.Context) error {
		events := p.events
		p.events, p.written = nil, true
		if len(events) == 0 {
			return nil
		}
		return s.writeEvents(ctx, q, events)
	})
	if !written {
		return nil
	}
	q.SetTxValue(pendingKey{s}, p)
	return p
}

func jsonPayload(p Payload) (string, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("webhook payload of %s: %w", p.Type, err)
	}
	return string(body), nil
}

// wanted reports whether the organization has endpoints at all: the one
// indexed probe an organization without webhooks pays, before any
// payload is built. A transaction probes each organization once (a
// delivery batch completes many enrollments of one); which endpoints
// want an event is decided as it is written.
func (s *Service) wanted(ctx context.Context, q *store.Queries, orgID int64) (bool, error) {
	p := s.pending(q)
	if p != nil {
		if has, ok := p.hasEndpoints[orgID]; ok {
			return has, nil
		}
	}
	has, err := q.HasWebhookEndpoints(ctx, orgID)
	if err == nil && p != nil {
		p.hasEndpoints[orgID] = has
	}
	return has, err
}

func enrollmentSubject(id int64) string { return "enrollment:" + strconv.FormatInt(id, 10) }

// onLearningEvent is the learning rules' event hook.
func (s *Service) onLearningEvent(ctx context.Context, q *store.Queries, e learning.Event) error {
	if ok, err := s.wanted(ctx, q, e.OrganizationID); err != nil || !ok {
		return err
	}
	ev := event{orgID: e.OrganizationID, typ: string(e.Kind)}
	switch e.Kind {
	case learning.EnrollmentCreated, learning.EnrollmentConfirmed, learning.EnrollmentCompleted, learning.EnrollmentFailed,
		learning.EnrollmentUnsubscribed, learning.EnrollmentCancelled:
		ev.subject, ev.data = enrollmentSubject(e.Enrollment.ID), EnrollmentEventData{Enrollment: EnrollmentJSON(*e.Enrollment)}
	case learning.QuizAnswered:
		a, err := q.QuizAttemptByDelivery(ctx, e.OrganizationID, e.QuizDeliveryID)
		if err != nil {
			return fmt.Errorf("quiz answer of delivery %d: %w", e.QuizDeliveryID, err)
		}
		en, err := q.Enrollment(ctx, e.OrganizationID, a.EnrollmentID)
		if err != nil {
			return fmt.Errorf("enrollment %d: %w", a.EnrollmentID, err)
		}
		ev.subject = enrollmentSubject(en.ID)
		ev.data = QuizEventData{Enrollment: EnrollmentJSON(en), QuizAttempt: QuizAttemptData{ID: a.ID,
			EnrollmentID: a.EnrollmentID, LearnerEmail: en.LearnerEmail, ContentID: a.ContentID, QuizTitle: a.ContentTitle,
			Attempt: a.Attempt, Score: a.Score, Passed: a.Passed, AnsweredAt: a.CreatedAt}}
	case learning.CertificateIssued, learning.CertificateClaimed:
		c := *e.Certificate
		if c.LearnerEmail == "" && e.Enrollment != nil {
			c.LearnerEmail, c.CourseID = e.Enrollment.LearnerEmail, e.Enrollment.CourseID
		}
		ev.subject, ev.data = enrollmentSubject(c.EnrollmentID), CertificateEventData{Certificate: s.certificateJSON(c)}
	case learning.CourseEnabled, learning.CourseDisabled:
		c := e.Course
		ev.subject = "course:" + strconv.FormatInt(c.ID, 10)
		ev.data = CourseEventData{Course: CourseData{ID: c.ID, Title: c.Title, Slug: c.Slug, Description: c.Description,
			Enabled: c.Enabled, Public: c.Public, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}}
	default:
		return nil
	}
	return s.write(ctx, q, ev)
}

// onOrganizationEvent is the organizations' event hook: the changes of
// members and ownership become events; the rest (settings, invitations,
// keys) are the audit log's alone.
func (s *Service) onOrganizationEvent(ctx context.Context, q *store.Queries, e orgs.Event) error {
	var typ, reason string
	switch e.Kind {
	case orgs.MemberAdded:
		typ = MemberAdded
	case orgs.MemberRemoved:
		typ, reason = MemberRemoved, "removed"
	case orgs.MemberLeft:
		typ, reason = MemberRemoved, "left"
	case orgs.AccountDeleted:
		typ, reason = MemberRemoved, "account_deleted"
	case orgs.RoleChanged:
		typ = MemberRoleChanged
	case orgs.OwnershipTransferred:
		typ = OwnershipTransferred
	default:
		return nil
	}
	if ok, err := s.wanted(ctx, q, e.OrganizationID); err != nil || !ok {
		return err
	}
	data := MemberEventData{Member: MemberData{UserID: e.UserID, Email: e.Target, Role: e.Old["role"]}, ActorEmail: orgs.ActorName(e.Actor),
		Reason: reason}
	if typ != MemberRemoved {
		m, err := q.OrganizationMember(ctx, e.OrganizationID, e.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("member %d of organization %d: %w", e.UserID, e.OrganizationID, err)
		}
		if err == nil {
			since := m.Since
			data.Member = MemberData{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role, CreatedAt: &since}
		}
	}
	switch typ {
	case MemberRoleChanged:
		data.PreviousRole = e.Old["role"]
	case OwnershipTransferred:
		data.PreviousOwnerEmail = e.Old["owner"]
	}
	return s.write(ctx, q, event{orgID: e.OrganizationID, typ: typ, subject: "member:" + strconv.FormatInt(e.UserID, 10), data: data})
}
