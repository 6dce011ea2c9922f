package learning

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// ConfirmValidity is how long a confirmation link works. The email prints
// the date it expires.
const ConfirmValidity = 7 * 24 * time.Hour

// ResendWindow is the throttle of enrollment emails: after a confirmation
// or a reminder went to an address for a course, asking again within this
// time sends nothing. Together with the answer being the same whatever
// happened, it keeps the form from being used to flood an inbox.
const ResendWindow = 10 * time.Minute

// Errors of enrollments.
var (
	// ErrCourseClosed answers for a course that is missing, disabled or
	// not public alike: the public side learns nothing more.
	ErrCourseClosed = problem.New(problem.NotFound, "course_not_found",
		"There is no such course open for enrollment.")
	ErrConfirmLinkInvalid = problem.New(problem.NotFound, "confirmation_link_invalid",
		"This confirmation link is not valid. Check that you copied all of it, or enroll again from the course's page.")
	ErrConfirmLinkExpired = problem.New(problem.Gone, "confirmation_link_expired",
		"This confirmation link has expired. Enroll again from the course's page to get a new one.")
	ErrConfirmLinkUsed = problem.New(problem.Gone, "confirmation_link_used",
		"This confirmation link was already used: the enrollment is confirmed, and the course's emails are on their way.")
	ErrEnrollmentNotFound = problem.New(problem.NotFound, "enrollment_not_found",
		"There is no such enrollment in this organization.")
)

// EnrollmentHook is told of a change to an enrollment inside the
// transaction that makes it, with the enrollment as it is after the
// change. An error undoes the change.
type EnrollmentHook func(ctx context.Context, q *store.Queries, e store.Enrollment) error

// OnActivate adds a hook run when an enrollment becomes active: confirmed
// from the emailed link, or enrolled directly through the API. The
// delivery engine schedules the first content item there. An enrollment
// that had ended and is confirmed again activates again, with the same id.
// Add hooks at start-up, before the service is used.
func (s *Service) OnActivate(h EnrollmentHook) { s.onActivate = append(s.onActivate, h) }

// OnEnd adds a hook run when an unverified or active enrollment ends by
// cancelling (staff) or unsubscribing (the learner). The delivery engine
// cancels the enrollment's pending deliveries there, so nothing more is
// sent. Add hooks at start-up, before the service is used.
func (s *Service) OnEnd(h EnrollmentHook) { s.onEnd = append(s.onEnd, h) }

// OnFinish adds a hook run when an active enrollment ends by the course's
// own rules: completed (every item sent or passed) or failed (a quiz
// failed too often). The certificate hook, registered by NewService, runs
// first. Add hooks at start-up.
func (s *Service) OnFinish(h EnrollmentHook) { s.onFinish = append(s.onFinish, h) }

// Finish ends an active enrollment as completed or failed, in q's
// transaction, and runs the OnFinish hooks. It reports whether the
// enrollment was still active: an enrollment ended meanwhile keeps its
// status and the hooks do not run.
func (s *Service) Finish(ctx context.Context, q *store.Queries, orgID, enrollmentID int64, to store.EnrollmentStatus) (bool, error) {
	if to != store.EnrollmentCompleted && to != store.EnrollmentFailed {
		return false, fmt.Errorf("finish enrollment %d as %s: not a course outcome", enrollmentID, to)
	}
	e, ended, err := q.FinishEnrollment(ctx, orgID, enrollmentID, to, s.now())
	if err != nil || !ended {
		return false, err
	}
	kind := EnrollmentCompleted
	if to == store.EnrollmentFailed {
		kind = EnrollmentFailed
	}
	if err := s.emitEnrollment(ctx, q, kind, e); err != nil {
		return false, err
	}
	return true, runHooks(ctx, q, s.onFinish, e)
}

// End ends an unverified or active enrollment as cancelled or
// unsubscribed, in q's transaction, announces it and runs the OnEnd hooks, as staff's
// cancelling and the learner's unsubscribing do: for changes made by
// mailschool itself (the bounce rules). It reports whether the enrollment
// was still open.
func (s *Service) End(ctx context.Context, q *store.Queries, orgID, enrollmentID int64, to store.EnrollmentStatus) (bool, error) {
	if to != store.EnrollmentCancelled && to != store.EnrollmentUnsubscribed {
		return false, fmt.Errorf("end enrollment %d as %s: not an end", enrollmentID, to)
	}
	ended, err := q.EndEnrollment(ctx, orgID, enrollmentID, to, s.now().UTC())
	if err != nil || !ended {
		return false, err
	}
	e, err := q.Enrollment(ctx, orgID, enrollmentID)
	if err != nil {
		return false, err
	}
	kind := EnrollmentCancelled
	if to == store.EnrollmentUnsubscribed {
		kind = EnrollmentUnsubscribed
	}
	if err := s.emitEnrollment(ctx, q, kind, e); err != nil {
		return false, err
	}
	return true, runHooks(ctx, q, s.onEnd, e)
}

func runHooks(ctx context.Context, q *store.Queries, hooks []EnrollmentHook, e store.Enrollment) error {
	for _, h := range hooks {
		if err := h(ctx, q, e); err != nil {
			return fmt.Errorf("hook on enrollment %d: %w", e.ID, err)
		}
	}
	return nil
}

// Delivery is one content email of an enrollment, as its page lists it.
type Delivery struct {
	ContentID   int64
	Title       string // of the lesson or quiz
	Kind        string // lesson or quiz
	Status      string // as the delivery engine names it
	Attempt     int    // 1, or more for a quiz sent again
	ScheduledAt time.Time
	SentAt      *time.Time
}

// DeliveryLister returns what was sent, and is due, to an enrollment,
// oldest first.
type DeliveryLister func(ctx context.Context, q *store.Queries, e store.Enrollment) ([]Delivery, error)

// SetDeliveryLister makes the enrollment page list deliveries with l: the
// delivery engine owns them. Without one the list is empty. Set it at
// start-up, before the service is used.
func (s *Service) SetDeliveryLister(l DeliveryLister) { s.deliveries = l }

// CoursePath is the public page of a course, with its enrollment form.
func CoursePath(orgID int64, slug string) string {
	return "/email-learning/public/organization/" + strconv.FormatInt(orgID, 10) + "/courses/" + url.PathEscape(slug) + "/"
}

// ConfirmPath is where a confirmation link leads.
func ConfirmPath(token string) string {
	return "/email-learning/public/enrollments/confirm/" + token + "/"
}

// PublicCourse returns an active organization and one of its public,
// enabled courses, for the course's page and its enrollment form.
func (s *Service) PublicCourse(ctx context.Context, orgID int64, slug string) (store.Organization, store.Course, error) {
	return publicCourse(ctx, s.db.Read(), orgID, slug)
}

func publicCourse(ctx context.Context, q *store.Queries, orgID int64, slug string) (store.Organization, store.Course, error) {
	org, err := q.OrganizationByID(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !org.IsActive {
		return store.Organization{}, store.Course{}, ErrCourseClosed
	}
	if err != nil {
		return store.Organization{}, store.Course{}, err
	}
	if org.Suspended() {
		return store.Organization{}, store.Course{}, orgs.ErrUnavailable
	}
	c, err := q.EnrollmentCourseBySlug(ctx, orgID, slug)
	if errors.Is(err, store.ErrNotFound) || err == nil && !(c.Enabled && c.Public) {
		return store.Organization{}, store.Course{}, ErrCourseClosed
	}
	if err != nil {
		return store.Organization{}, store.Course{}, err
	}
	return org, c, nil
}

// Enroll asks, for anyone, to enroll an address in a public course: the
// double opt-in. Whatever the state of the address, the caller gets the
// same answer (nil), so the form tells nobody who is enrolled or blocked;
// what happens differs:
//   - a new address gets an unverified enrollment and a confirmation link;
//   - an unverified one gets a new link (the old one stops working), an
//     active or completed one a reminder, unless an email went to it for
//     the course within ResendWindow: then nothing is sent;
//   - a cancelled, unsubscribed or failed one starts again as a new
//     opt-in, with a new link;
//   - a blocked address (by the organization or platform-wide) gets
//     nothing, and nothing is recorded about it.
//
// Only an invalid address or a course that is not open is an error.
// clientIP is kept with the enrollment as evidence of the opt-in. Public
// requests reach it through RequestEnrollment and its job, so that their
// answer costs the same whatever the address: here a blocked address
// returns before anything is written, and a new one writes and renders.
func (s *Service) Enroll(ctx context.Context, orgID int64, courseSlug, email, clientIP string) error {
	at := s.now().UTC()
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		org, course, err := publicCourse(ctx, q, orgID, courseSlug)
		if err != nil {
			return err
		}
		email, err := auth.NormalizeEmail(email)
		if err != nil {
			return err
		}
		if blocked, err := q.EmailBlocked(ctx, orgID, email); err != nil || blocked {
			return err
		}
		learner, err := q.SaveLearner(ctx, orgID, email)
		if err != nil {
			return err
		}
		token, hash := auth.NewToken()
		e, created, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: orgID, CourseID: course.ID, LearnerID: learner.ID,
			Status: store.EnrollmentUnverified, TokenHash: hash, ExpiresAt: at.Add(ConfirmValidity), RequestedIP: clientIP, At: at})
		if err != nil {
			return err
		}
		if created {
			if err := s.countStarted(ctx, q, e); err != nil {
				return err
			}
			return s.sendConfirmation(ctx, q, org, e, token)
		}
		return s.enrollAgain(ctx, q, org, e, clientIP, at)
	})
	if err != nil {
		return fmt.Errorf("enroll in course %q of organization %d: %w", courseSlug, orgID, err)
	}
	return nil
}

// enrollAgain handles a request for an enrollment that exists. Each change
// is a compare-and-set on the status seen (and the throttle), so of
// concurrent requests one sends and the others send nothing.
func (s *Service) enrollAgain(ctx context.Context, q *store.Queries, org store.Organization, e store.Enrollment, clientIP string, at time.Time) error {
	switch e.Status {
	case store.EnrollmentActive, store.EnrollmentCompleted:
		sent, err := q.MarkEnrollmentMailed(ctx, org.ID, e.ID, e.Status, at.Add(-ResendWindow), at)
		if err != nil || !sent {
			return err
		}
		return s.sendReminder(ctx, q, org, e)
	case store.EnrollmentUnverified, store.EnrollmentCancelled, store.EnrollmentUnsubscribed, store.EnrollmentFailed:
		r := store.Reopening{OrganizationID: org.ID, ID: e.ID, From: e.Status, ExpiresAt: at.Add(ConfirmValidity), RequestedIP: clientIP, At: at}
		if e.Status == store.EnrollmentUnverified {
			r.SentBefore = at.Add(-ResendWindow)
		}
		token, hash := auth.NewToken()
		r.TokenHash = hash
		reopened, err := q.ReopenEnrollment(ctx, r)
		if err != nil || !reopened {
			return err
		}
		if e, err = q.Enrollment(ctx, org.ID, e.ID); err != nil {
			return err
		}
		if r.From != store.EnrollmentUnverified {
			// Asking again after an end starts the course again.
			if err := s.countStarted(ctx, q, e); err != nil {
				return err
			}
		}
		return s.sendConfirmation(ctx, q, org, e, token)
	}
	return fmt.Errorf("enrollment %d has an unknown status %q", e.ID, e.Status)
}

func (s *Service) sendConfirmation(ctx context.Context, q *store.Queries, org store.Organization, e store.Enrollment, token string) error {
	return s.send(ctx, q, org, mail.Email{Kind: mail.KindEnrollmentConfirm, To: e.LearnerEmail,
		Data: mail.EnrollmentConfirm{OrganizationName: org.Name, CourseTitle: e.CourseTitle,
			URL: s.baseURL + ConfirmPath(token), ExpiresAt: *e.ConfirmExpiresAt}})
}

// sendReminder tells someone who asked to enroll that they are enrolled
// already. An active learner also gets the unsubscribe link and headers:
// the email is about the course's emails.
func (s *Service) sendReminder(ctx context.Context, q *store.Queries, org store.Organization, e store.Enrollment) error {
	email := mail.Email{Kind: mail.KindEnrollmentReminder, To: e.LearnerEmail,
		Data: mail.EnrollmentReminder{OrganizationName: org.Name, CourseTitle: e.CourseTitle,
			Completed: e.Status == store.EnrollmentCompleted, CourseURL: s.baseURL + CoursePath(org.ID, e.CourseSlug)}}
	if e.Status == store.EnrollmentActive {
		email.Unsubscribe = &mail.Unsubscribe{URL: s.UnsubscribeURL(e)}
	}
	return s.send(ctx, q, org, email)
}

// send enqueues an email that speaks for org, in q's transaction.
func (s *Service) send(ctx context.Context, q *store.Queries, org store.Organization, e mail.Email) error {
	if s.mail == nil {
		return errors.New("learning service has no mailer")
	}
	e.OrganizationID, e.Organization, e.Sender = org.ID, &mail.Branding{Name: org.Name}, mail.OrganizationSender(org.Sender)
	_, err := s.mail.Enqueue(ctx, q, e)
	return err
}

// Confirmation is an enrollment as its confirmation link shows it.
type Confirmation struct {
	Enrollment       store.Enrollment
	OrganizationName string
}

// CheckConfirmation returns the enrollment a confirmation link would
// activate. It changes nothing, so mail scanners that fetch the link do
// not use it: the page asks for a click.
// With ErrConfirmLinkUsed and ErrConfirmLinkExpired it still returns the
// enrollment, so the page that says so can speak for its organization and
// tell where the learner stands.
func (s *Service) CheckConfirmation(ctx context.Context, token string) (Confirmation, error) {
	return s.confirmation(ctx, s.db.Read(), token, s.now())
}

func (s *Service) confirmation(ctx context.Context, q *store.Queries, token string, at time.Time) (Confirmation, error) {
	e, used, err := q.EnrollmentByTokenHash(ctx, auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Confirmation{}, ErrConfirmLinkInvalid
	}
	if err != nil {
		return Confirmation{}, err
	}
	org, err := q.OrganizationByID(ctx, e.OrganizationID)
	if err != nil {
		return Confirmation{}, err
	}
	c := Confirmation{Enrollment: e, OrganizationName: org.Name}
	switch {
	case !org.IsActive:
		return Confirmation{}, ErrConfirmLinkInvalid
	case org.Suspended():
		return Confirmation{}, orgs.ErrUnavailable
	case used:
		return c, ErrConfirmLinkUsed
	case e.ConfirmExpiresAt == nil || !at.Before(*e.ConfirmExpiresAt):
		return c, ErrConfirmLinkExpired
	}
	return c, nil
}

// Confirm uses a confirmation link: the enrollment becomes active and the
// OnActivate hooks run, in one transaction. The link works once; a second
// use, even concurrent, gets ErrConfirmLinkUsed, with the enrollment as
// CheckConfirmation returns it. clientIP is kept as evidence of the opt-in.
func (s *Service) Confirm(ctx context.Context, token, clientIP string) (Confirmation, error) {
	at := s.now().UTC()
	var c Confirmation
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		if c, err = s.confirmation(ctx, q, token, at); err != nil {
			return err
		}
		confirmed, err := q.ConfirmEnrollment(ctx, c.Enrollment.OrganizationID, auth.HashToken(token), clientIP, at)
		if err != nil {
			return err
		}
		if !confirmed {
			return ErrConfirmLinkUsed // a concurrent click came first
		}
		if c.Enrollment, err = q.Enrollment(ctx, c.Enrollment.OrganizationID, c.Enrollment.ID); err != nil {
			return err
		}
		if err := s.emitEnrollment(ctx, q, EnrollmentConfirmed, c.Enrollment); err != nil {
			return err
		}
		return runHooks(ctx, q, s.onActivate, c.Enrollment)
	})
	if err != nil {
		return c, fmt.Errorf("confirm enrollment: %w", err)
	}
	return c, nil
}

// EnrollmentPage is an enrollment as the organization's staff see it.
type EnrollmentPage struct {
	orgs.View
	Enrollment store.Enrollment
	// CanManage tells whether the actor may cancel it.
	CanManage bool
	// Deliveries is what was sent when, from the delivery engine; empty
	// until one is registered with SetDeliveryLister.
	Deliveries []Delivery
	// QuizAttempts are the learner's answers to quizzes, oldest first.
	QuizAttempts []store.QuizAttempt
	// Certificate is the enrollment's certificate, claimed or not; nil
	// when it has none.
	Certificate *store.Certificate
	// Bounces are the bounces and complaints of the enrollment's emails,
	// oldest first: a learner whose email bounced shows as bounced.
	Bounces []store.Bounce
}

// Enrollment returns an enrollment of an organization with its
// deliveries, for anyone who may see the organization.
func (s *Service) Enrollment(ctx context.Context, actor *store.User, orgID, id int64) (EnrollmentPage, error) {
	return s.enrollmentPage(ctx, actor, orgID, id, access.ViewOrganization)
}

// PrepareCancel returns an enrollment that the actor may cancel, for the
// confirmation page.
func (s *Service) PrepareCancel(ctx context.Context, actor *store.User, orgID, id int64) (EnrollmentPage, error) {
	return s.enrollmentPage(ctx, actor, orgID, id, access.ManageEnrollments)
}

func (s *Service) enrollmentPage(ctx context.Context, actor *store.User, orgID, id int64, action access.Action) (EnrollmentPage, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, action)
	if err != nil {
		return EnrollmentPage{}, err
	}
	e, err := enrollmentIn(ctx, q, orgID, id)
	if err != nil {
		return EnrollmentPage{}, err
	}
	p := EnrollmentPage{View: v, Enrollment: e, CanManage: access.Allowed(actor, v.Role, access.ManageEnrollments)}
	if s.deliveries != nil {
		if p.Deliveries, err = s.deliveries(ctx, q, e); err != nil {
			return EnrollmentPage{}, err
		}
	}
	if p.QuizAttempts, err = q.EnrollmentQuizAttempts(ctx, orgID, id); err != nil {
		return EnrollmentPage{}, err
	}
	if p.Bounces, err = q.EnrollmentBounces(ctx, orgID, id); err != nil {
		return EnrollmentPage{}, err
	}
	if c, err := q.CertificateOfEnrollment(ctx, orgID, id); err == nil {
		p.Certificate = &c
	} else if !errors.Is(err, store.ErrNotFound) {
		return EnrollmentPage{}, err
	}
	return p, nil
}

func enrollmentIn(ctx context.Context, q *store.Queries, orgID, id int64) (store.Enrollment, error) {
	e, err := q.Enrollment(ctx, orgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Enrollment{}, ErrEnrollmentNotFound
	}
	return e, err
}

// CancelEnrollment ends an unverified or active enrollment for the
// organization's staff: no more emails of the course go to the learner.
// The OnEnd hooks run in the same transaction.
func (s *Service) CancelEnrollment(ctx context.Context, actor *store.User, orgID, id int64) (store.Enrollment, error) {
	at := s.now().UTC()
	var e store.Enrollment
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageEnrollments); err != nil {
			return err
		}
		var err error
		if e, err = enrollmentIn(ctx, q, orgID, id); err != nil {
			return err
		}
		ended, err := q.EndEnrollment(ctx, orgID, id, store.EnrollmentCancelled, at)
		if err != nil {
			return err
		}
		if !ended {
			return problem.Newf(problem.Conflict, "enrollment_ended", "This enrollment has ended already: it is %s.", e.Status)
		}
		if e, err = q.Enrollment(ctx, orgID, id); err != nil {
			return err
		}
		if err := s.emitEnrollment(ctx, q, EnrollmentCancelled, e); err != nil {
			return err
		}
		return runHooks(ctx, q, s.onEnd, e)
	})
	if err != nil {
		return store.Enrollment{}, fmt.Errorf("cancel enrollment %d: %w", id, err)
	}
	return e, nil
}

// EnrollDirectly enrolls an address in a course of the organization as
// active at once, without a confirmation email: for staff and
// integrations that have the learner's consent already. The OnActivate
// hooks run in the same transaction. An enrollment that was waiting for
// confirmation, cancelled by staff or failed becomes active again; one the
// learner unsubscribed from stays as it is, since only the learner may
// undo that, from the public page.
func (s *Service) EnrollDirectly(ctx context.Context, actor *store.User, orgID, courseID int64, email string) (store.Enrollment, error) {
	at := s.now().UTC()
	var e store.Enrollment
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageEnrollments); err != nil {
			return err
		}
		course, err := q.EnrollmentCourse(ctx, orgID, courseID)
		if errors.Is(err, store.ErrNotFound) {
			return problem.Field("course_id", "course_not_found", "There is no such course in this organization.")
		}
		if err != nil {
			return err
		}
		if !course.Enabled {
			return problem.Newf(problem.Conflict, "course_disabled", "The course %q is disabled: enable it before enrolling learners.", course.Title)
		}
		email, err := auth.NormalizeEmail(email)
		if err != nil {
			return err
		}
		if blocked, err := q.EmailBlocked(ctx, orgID, email); err != nil {
			return err
		} else if blocked {
			return problem.Field("email", "email_blocked", "This address is blocked: it gets no email from this organization.")
		}
		learner, err := q.SaveLearner(ctx, orgID, email)
		if err != nil {
			return err
		}
		var created bool
		e, created, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: orgID, CourseID: courseID, LearnerID: learner.ID,
			Status: store.EnrollmentActive, At: at})
		if err != nil {
			return err
		}
		if !created {
			switch e.Status {
			case store.EnrollmentActive, store.EnrollmentCompleted:
				return problem.Newf(problem.Conflict, "already_enrolled", "%s is enrolled in %q already: the enrollment is %s.", email, course.Title, e.Status)
			case store.EnrollmentUnsubscribed:
				return problem.Newf(problem.Conflict, "learner_unsubscribed",
					"%s unsubscribed from %q; only they can enroll again, from the course's public page.", email, course.Title)
			}
			activated, err := q.ActivateEnrollment(ctx, orgID, e.ID, e.Status, at)
			if err != nil {
				return err
			}
			if !activated {
				return problem.New(problem.Conflict, "enrollment_changed", "The enrollment changed at the same moment. Try again.")
			}
		}
		if e, err = q.Enrollment(ctx, orgID, e.ID); err != nil {
			return err
		}
		if err := s.countStarted(ctx, q, e); err != nil {
			return err
		}
		return runHooks(ctx, q, s.onActivate, e)
	})
	if err != nil {
		return store.Enrollment{}, fmt.Errorf("enroll %s in course %d: %w", email, courseID, err)
	}
	return e, nil
}
