package mail

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/mailschool/mailschool/internal/store"
)

// WorkSendBatch works a send_email_batch job's arguments as its worker
// does on the given run of the job.
func (s *Service) WorkSendBatch(ctx context.Context, args SendBatchArgs, attempt int) error {
	return (&sendBatchWorker{service: s}).Work(ctx, &river.Job[SendBatchArgs]{JobRow: &rivertype.JobRow{Attempt: attempt}, Args: args})
}

// RecordAttempt records the outcome of an attempt to send m as sending
// does, with the outcomes of other emails sent at the same time.
func (s *Service) RecordAttempt(ctx context.Context, m store.MailMessage, a store.MailAttempt) error {
	return s.recordAttempt(ctx, m, a, false, false)
}

// OutcomesPending counts the outcomes waiting for their group to be
// written, and tells whether one is being written.
func (s *Service) OutcomesPending() (pending int, writing bool) {
	s.outcomes.mu.Lock()
	defer s.outcomes.mu.Unlock()
	return len(s.outcomes.pending), s.outcomes.writing
}
