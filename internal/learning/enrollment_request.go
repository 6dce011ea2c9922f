package learning

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// EnrollmentRequest is a request to enroll from the public page or API.
type EnrollmentRequest struct {
	OrganizationID int64
	CourseSlug     string
	Email          string
	ClientIP       string // kept as evidence of the opt-in
	// OverLimit says that the caller's limit per mailbox ran out: the
	// request is taken like any other, and its job sends nothing.
	OverLimit bool
}

// RequestEnrollment takes a public request to enroll. It checks the
// course and the address's shape, which tell nothing about the address,
// and enqueues the job that does the rest (Enroll) in one transaction.
// Whether the address is new, enrolled, blocked or over its limit, the
// request does the same work, so neither the answer nor the time it takes
// tells which.
func (s *Service) RequestEnrollment(ctx context.Context, r EnrollmentRequest) error {
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, _, err := publicCourse(ctx, q, r.OrganizationID, r.CourseSlug); err != nil {
			return err
		}
		email, err := auth.NormalizeEmail(r.Email)
		if err != nil {
			return err
		}
		_, err = q.Enqueue(ctx, EnrollRequestArgs{OrganizationID: r.OrganizationID, CourseSlug: r.CourseSlug,
			Email: email, ClientIP: r.ClientIP, OverLimit: r.OverLimit}, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("request enrollment in course %q of organization %d: %w", r.CourseSlug, r.OrganizationID, err)
	}
	return nil
}

// EnrollRequestArgs is the job that works a public enrollment request.
type EnrollRequestArgs struct {
	OrganizationID int64  `json:"organization_id"`
	CourseSlug     string `json:"course_slug"`
	Email          string `json:"email"` // normalized
	ClientIP       string `json:"client_ip"`
	OverLimit      bool   `json:"over_limit,omitempty"`
}

// Kind names the job for River.
func (EnrollRequestArgs) Kind() string { return "enrollment_request" }

// InsertOpts puts the job on the mail queue: its work is to queue an
// email, and every node that works jobs works that queue. A confirmation
// that arrives long after it was asked for puzzles more than it helps, so
// the job gives up after a few minutes of retries; the person can ask
// again.
func (EnrollRequestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: mail.Queue, MaxAttempts: 5}
}

// AddWorkers registers the learning service's job workers.
func (s *Service) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &enrollRequestWorker{learning: s})
	river.AddWorker(workers, &importWorker{learning: s})
}

type enrollRequestWorker struct {
	river.WorkerDefaults[EnrollRequestArgs]
	learning *Service
}

// Work enrolls, unless the request was over its limit. A refusal (the
// course closed since the request) is final: retrying cannot change it.
func (w *enrollRequestWorker) Work(ctx context.Context, job *river.Job[EnrollRequestArgs]) error {
	a := job.Args
	if a.OverLimit {
		return nil
	}
	err := w.learning.Enroll(ctx, a.OrganizationID, a.CourseSlug, a.Email, a.ClientIP)
	if _, ok := problem.As(err); ok {
		return river.JobCancel(err)
	}
	return err
}
