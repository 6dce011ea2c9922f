package learning

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// ErrUnsubscribeLinkInvalid answers an unsubscribe link whose signature
// does not match its enrollment, or whose enrollment is gone.
var ErrUnsubscribeLinkInvalid = problem.New(problem.NotFound, "unsubscribe_link_invalid",
	"This unsubscribe link is not valid. Check that you copied all of it, or use the link of a newer email.")

// UnsubscribePath is where the unsubscribe link of an enrollment leads.
func UnsubscribePath(enrollmentID int64, signature string) string {
	return "/email-learning/public/unsubscribe/" + strconv.FormatInt(enrollmentID, 10) + "/" + signature + "/"
}

// UnsubscribeURL is the absolute unsubscribe link of an enrollment. Every course email carries it, as
// mail.Unsubscribe{URL: ...}, which also makes the RFC 8058
// List-Unsubscribe and List-Unsubscribe-Post headers: a GET shows a page
// with a button, a POST unsubscribes at once. The link is signed (see
// sign), needs no stored token and works for as long as the enrollment
// exists, as every course email must keep a working link (RFC 8058 asks
// that one-click links keep working).
func (s *Service) UnsubscribeURL(e store.Enrollment) string {
	return s.baseURL + UnsubscribePath(e.ID, s.sign("unsubscribe", e.ID, e.LinkKey))
}

// Unsubscription is an enrollment as its unsubscribe link shows it.
type Unsubscription struct {
	Enrollment       store.Enrollment
	OrganizationName string
	// Before is the enrollment's status before the request: what the
	// learner is told depends on it (a completed course is not
	// "unsubscribed"). CheckUnsubscribe changes nothing, so there it is
	// the status now.
	Before store.EnrollmentStatus
}

// Unsubscribed tells whether the learner gets no more of the course's
// emails: unsubscribed, or ended otherwise.
func (u Unsubscription) Unsubscribed() bool { return !u.Enrollment.Status.Open() }

// CheckUnsubscribe returns the enrollment an unsubscribe link names,
// without changing anything, for the page that asks for a click.
func (s *Service) CheckUnsubscribe(ctx context.Context, enrollmentID int64, signature string) (Unsubscription, error) {
	return s.unsubscription(ctx, s.db.Read(), enrollmentID, signature)
}

func (s *Service) unsubscription(ctx context.Context, q *store.Queries, enrollmentID int64, signature string) (Unsubscription, error) {
	// The link names no organization: the enrollment is looked up by id
	// alone, and the signature, made with its link key, proves the link
	// was made for this row.
	e, err := q.EnrollmentByID(ctx, enrollmentID)
	if errors.Is(err, store.ErrNotFound) {
		return Unsubscription{}, ErrUnsubscribeLinkInvalid
	}
	if err != nil {
		return Unsubscription{}, err
	}
	if !s.signedBy("unsubscribe", e.ID, e.LinkKey, signature) {
		return Unsubscription{}, ErrUnsubscribeLinkInvalid
	}
	org, err := q.OrganizationByID(ctx, e.OrganizationID)
	if err != nil {
		return Unsubscription{}, err
	}
	return Unsubscription{Enrollment: e, OrganizationName: org.Name, Before: e.Status}, nil
}

// Unsubscribe ends an enrollment for the learner, from the link of a
// course email: no session, the signature is the authority. An unverified
// or active enrollment becomes unsubscribed and the OnEnd hooks run (the
// delivery engine cancels what is pending) in one transaction. An
// enrollment that has ended already stays as it is, so unsubscribing twice
// changes nothing; Before tells the two apart.
func (s *Service) Unsubscribe(ctx context.Context, enrollmentID int64, signature string) (Unsubscription, error) {
	at := s.now().UTC()
	var u Unsubscription
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		if u, err = s.unsubscription(ctx, q, enrollmentID, signature); err != nil {
			return err
		}
		e := u.Enrollment
		ended, err := q.EndEnrollment(ctx, e.OrganizationID, e.ID, store.EnrollmentUnsubscribed, at)
		if err != nil || !ended {
			return err
		}
		if u.Enrollment, err = q.Enrollment(ctx, e.OrganizationID, e.ID); err != nil {
			return err
		}
		if err := s.emitEnrollment(ctx, q, EnrollmentUnsubscribed, u.Enrollment); err != nil {
			return err
		}
		return runHooks(ctx, q, s.onEnd, u.Enrollment)
	})
	if err != nil {
		return Unsubscription{}, fmt.Errorf("unsubscribe enrollment %d: %w", enrollmentID, err)
	}
	return u, nil
}
