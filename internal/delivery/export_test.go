package delivery

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/learning"
)

// SetClock makes the engine read the time from now, for tests that move it.
func (e *Engine) SetClock(now func() time.Time) { e.now = now }

// WorkJob works a delivery job's arguments as the job's worker does.
func (e *Engine) WorkJob(ctx context.Context, args DeliverArgs) error {
	return (&deliverWorker{engine: e}).Work(ctx, &river.Job[DeliverArgs]{Args: args})
}

// SetRenderer makes the engine render lessons with render, for tests that
// watch it.
func (e *Engine) SetRenderer(render func(body string) (learning.Rendered, error)) { e.render = render }
