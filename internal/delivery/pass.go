package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
)

// PassBatch is how many due deliveries one transaction of a pass hands to
// jobs.
const PassBatch = 500

// DefaultPassInterval is how often the periodic pass runs.
const DefaultPassInterval = time.Minute

// Pass finds every delivery that is due and still scheduled and enqueues
// the job that works it, in batches. Scheduling already enqueues a job due
// at the right time; the pass is the net under it, for deliveries whose
// job is gone (restored from a backup, given up after its retries) and
// for installs that run it from cron. A delivery whose job is still
// waiting gets no second one: the job's arguments are unique.
func (e *Engine) Pass(ctx context.Context) (PassResult, error) {
	now := e.now()
	var (
		from store.DueRef
		res  PassResult
	)
	for {
		var batch []store.DueRef
		err := e.db.InTx(ctx, func(q *store.Queries) error {
			var err error
			if batch, err = q.DueDeliveries(ctx, now, from, PassBatch); err != nil {
				return err
			}
			jobs := make([]river.InsertManyParams, len(batch))
			for i, d := range batch {
				jobs[i] = river.InsertManyParams{Args: DeliverArgs{DeliveryID: d.ID, DueAt: d.DueAt.UnixMicro()}, InsertOpts: deliverOpts(d.DueAt, now)}
			}
			// One statement for the batch: inserting the jobs one by one
			// cost more than everything else in the pass.
			inserted, err := q.EnqueueMany(ctx, jobs)
			for _, job := range inserted {
				if !job.UniqueSkippedAsDuplicate {
					res.Enqueued++
				}
			}
			return err
		})
		if err != nil {
			return res, fmt.Errorf("delivery pass: %w", err)
		}
		res.Due += len(batch)
		if len(batch) < PassBatch {
			return res, nil
		}
		from = batch[len(batch)-1]
	}
}

// PassResult is what a pass found: the deliveries due, and how many of
// them needed a new job (the others had one waiting).
type PassResult struct {
	Due, Enqueued int
}

// PassArgs is the periodic job that runs a pass.
type PassArgs struct{}

// Kind names the job for River.
func (PassArgs) Kind() string { return "delivery_pass" }

// InsertOpts puts the pass on the delivery queue.
func (PassArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// PeriodicJobs runs the pass every interval (DefaultPassInterval when 0)
// on whichever node's workers River elects to run periodic jobs.
func PeriodicJobs(interval time.Duration) []*river.PeriodicJob {
	if interval <= 0 {
		interval = DefaultPassInterval
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return PassArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

type passWorker struct {
	river.WorkerDefaults[PassArgs]
	engine *Engine
}

func (w *passWorker) Work(ctx context.Context, _ *river.Job[PassArgs]) error {
	res, err := w.engine.Pass(ctx)
	if res.Enqueued > 0 {
		w.engine.logger.Info("delivery pass", "due", res.Due, "new_jobs", res.Enqueued)
	}
	return err
}

// DeliverDue works every delivery that is due now, one after the other,
// in this process, and returns how many it worked: a pass without the job
// queue, for the deliver command. Working a delivery its job works too is
// harmless: whichever comes second finds it no longer scheduled.
func (e *Engine) DeliverDue(ctx context.Context, progress func(done int)) (int, error) {
	now := e.now()
	var (
		from store.DueRef
		done int
	)
	for {
		batch, err := e.db.Read().DueDeliveries(ctx, now, from, PassBatch)
		if err != nil {
			return done, err
		}
		for _, d := range batch {
			if err := e.Deliver(ctx, d.ID); err != nil {
				return done, err
			}
			done++
			if progress != nil {
				progress(done)
			}
		}
		if len(batch) < PassBatch {
			return done, nil
		}
		from = batch[len(batch)-1]
	}
}
