package mail

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// WorkSendBatch works a send_email_batch job's arguments as its worker
// does on the given run of the job.
func (s *Service) WorkSendBatch(ctx context.Context, args SendBatchArgs, attempt int) error {
	return (&sendBatchWorker{service: s}).Work(ctx, &river.Job[SendBatchArgs]{JobRow: &rivertype.JobRow{Attempt: attempt}, Args: args})
}
