package delivery

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// SetClock makes the engine read the time from now, for tests that move it.
func (e *Engine) SetClock(now func() time.Time) { e.now = now }

// WorkJob works a delivery job's arguments as the job's worker does.
func (e *Engine) WorkJob(ctx context.Context, args DeliverArgs) error {
	return (&deliverWorker{engine: e}).Work(ctx, &river.Job[DeliverArgs]{Args: args})
}
