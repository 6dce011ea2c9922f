package learning

import (
	"context"
	"fmt"
	"time"

	"github.com/mailschool/mailschool/internal/store"
)

// EventKind names a change the learning rules make, as the organization's
// webhooks name it.
type EventKind string

const (
	// EnrollmentCreated: an enrollment was asked for on the public page,
	// made by staff or an import, or started again after it had ended.
	EnrollmentCreated EventKind = "enrollment.created"
	// EnrollmentConfirmed: the learner confirmed from the emailed link.
	EnrollmentConfirmed    EventKind = "enrollment.confirmed"
	EnrollmentCompleted    EventKind = "enrollment.completed"
	EnrollmentFailed       EventKind = "enrollment.failed"
	EnrollmentUnsubscribed EventKind = "enrollment.unsubscribed"
	// EnrollmentCancelled: staff cancelled it, or the delivery engine
	// found the address blocked.
	EnrollmentCancelled EventKind = "enrollment.cancelled"
	QuizAnswered        EventKind = "quiz.answered"
	CertificateIssued   EventKind = "certificate.issued"
	CertificateClaimed  EventKind = "certificate.claimed"
	CourseEnabled       EventKind = "course.enabled"
	CourseDisabled      EventKind = "course.disabled"
)

// Event is a change the learning rules made, announced inside the
// transaction that makes it. Only the fields of its kind are set.
type Event struct {
	Kind           EventKind
	OrganizationID int64
	// Enrollment, as it is after the change: enrollment.* and
	// certificate.issued.
	Enrollment *store.Enrollment
	// QuizDeliveryID is the answered quiz's delivery: quiz.answered. The
	// hooks read what they need of it, so that an event nobody wants
	// reads nothing.
	QuizDeliveryID int64
	Certificate    *store.Certificate // certificate.*
	Course         *store.Course      // course.*
}

// EventHook is told of every event inside the transaction of its change;
// an error undoes the change. Webhooks attach here.
type EventHook func(ctx context.Context, q *store.Queries, e Event) error

// OnEvent adds an event hook. Add hooks at start-up, before the service
// is used.
func (s *Service) OnEvent(h EventHook) { s.onEvent = append(s.onEvent, h) }

// emit announces an event to the hooks; without hooks it costs nothing.
func (s *Service) emit(ctx context.Context, q *store.Queries, e Event) error {
	for _, h := range s.onEvent {
		if err := h(ctx, q, e); err != nil {
			return fmt.Errorf("event %s: %w", e.Kind, err)
		}
	}
	return nil
}

// emitEnrollment announces an event of an enrollment.
func (s *Service) emitEnrollment(ctx context.Context, q *store.Queries, kind EventKind, e store.Enrollment) error {
	if len(s.onEvent) == 0 {
		return nil
	}
	return s.emit(ctx, q, Event{Kind: kind, OrganizationID: e.OrganizationID, Enrollment: &e})
}

// CancelBlocked ends an unverified or active enrollment as cancelled
// because its address is blocked, in q's transaction, for the delivery
// engine, at its time at, and announces it. It reports whether the enrollment was still
// running. The OnEnd hooks do not run: the engine cancels the delivery
// itself, and the reports count only the staff's cancellations.
func (s *Service) CancelBlocked(ctx context.Context, q *store.Queries, orgID, enrollmentID int64, at time.Time) (bool, error) {
	ended, err := q.EndEnrollment(ctx, orgID, enrollmentID, store.EnrollmentCancelled, at)
	if err != nil || !ended || len(s.onEvent) == 0 {
		return ended, err
	}
	e, err := q.Enrollment(ctx, orgID, enrollmentID)
	if err != nil {
		return false, err
	}
	return true, s.emitEnrollment(ctx, q, EnrollmentCancelled, e)
}
