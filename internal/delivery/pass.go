package delivery

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
)

// PassBatch is how many due deliveries one transaction of a pass hands to
// jobs.
const PassBatch = 500

// JobBatch is how many deliveries a pass hands to one job, which works
// them in one transaction and sends their emails with one job: a job and
// a transaction per delivery were most of what a delivery cost.
const JobBatch = 50

// DefaultPassInterval is how often the periodic pass runs.
const DefaultPassInterval = time.Minute

// StuckAfter is how long a delivery may stay sending before a pass counts
// its job as lost (given up after its retries, or gone with a restored
// backup) and gives it another.
const StuckAfter = time.Hour

// Pass finds every delivery that is due and still scheduled, marks it
// sending and hands it to a job, JobBatch to a job, PassBatch in a
// transaction. Deliveries due soon after they were scheduled have a job of
// their own already; whichever job comes second finds the delivery done.
// Deliveries sending for StuckAfter get a job each, unique per delivery,
// so that a later pass adds none while it waits.
func (e *Engine) Pass(ctx context.Context) (PassResult, error) {
	now := e.now()
	var res PassResult
	err := e.walk(ctx, sendingSince(now.Add(-StuckAfter)), func(q *store.Queries, batch []store.DueRef) error {
		jobs := make([]river.InsertManyParams, len(batch))
		for i, d := range batch {
			jobs[i] = river.InsertManyParams{Args: oneDelivery(d.ID, d.DueAt), InsertOpts: deliverOpts(d.DueAt, now)}
		}
		inserted, err := q.EnqueueMany(ctx, jobs)
		for _, job := range inserted {
			if !job.UniqueSkippedAsDuplicate {
				res.Stuck++
				res.Jobs++
			}
		}
		return err
	})
	if err != nil {
		return res, fmt.Errorf("delivery pass: %w", err)
	}
	err = e.walk(ctx, due(now), func(q *store.Queries, batch []store.DueRef) error {
		ids := make([]int64, len(batch))
		for i, d := range batch {
			ids[i] = d.ID
		}
		// On PostgreSQL a job may have worked some meanwhile.
		claimed, err := q.ClaimDeliveries(ctx, ids)
		if err != nil {
			return err
		}
		var jobs []river.InsertManyParams
		for chunk := range slices.Chunk(claimed, JobBatch) {
			jobs = append(jobs, river.InsertManyParams{Args: DeliverArgs{DeliveryIDs: chunk}, InsertOpts: &river.InsertOpts{Queue: Queue}})
		}
		// One statement for the batch's jobs.
		if _, err := q.EnqueueMany(ctx, jobs); err != nil {
			return err
		}
		res.Due += len(claimed)
		res.Jobs += len(jobs)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("delivery pass: %w", err)
	}
	return res, nil
}

// dueAt lets the deliver command work a delivery it found, unless it was
// scheduled again for later meanwhile.
func dueAt(now time.Time) workable {
	return func(d store.DueDelivery) bool {
		return d.Status == store.DeliverySending || !d.DueAt.After(now)
	}
}

// finder lists PassBatch deliveries after a cursor.
type finder func(ctx context.Context, q *store.Queries, from store.DueRef) ([]store.DueRef, error)

// due finds the scheduled deliveries due at t.
func due(t time.Time) finder {
	return func(ctx context.Context, q *store.Queries, from store.DueRef) ([]store.DueRef, error) {
		return q.DueDeliveries(ctx, t, from, PassBatch)
	}
}

// sendingSince finds the deliveries handed to a job at or before t.
func sendingSince(t time.Time) finder {
	return func(ctx context.Context, q *store.Queries, from store.DueRef) ([]store.DueRef, error) {
		return q.StuckDeliveries(ctx, t, from, PassBatch)
	}
}

// walk calls fn with what find finds, PassBatch deliveries at a time, each
// batch in a transaction of its own.
func (e *Engine) walk(ctx context.Context, find finder, fn func(*store.Queries, []store.DueRef) error) error {
	var from store.DueRef
	for {
		var batch []store.DueRef
		err := e.db.InTx(ctx, func(q *store.Queries) error {
			var err error
			if batch, err = find(ctx, q, from); err != nil || len(batch) == 0 {
				return err
			}
			return fn(q, batch)
		})
		if err != nil || len(batch) < PassBatch {
			return err
		}
		from = batch[len(batch)-1]
	}
}

// PassResult is what a pass did: the scheduled deliveries it found due and
// handed to jobs, the sending ones it found stuck and gave a job again,
// and the jobs it inserted.
type PassResult struct {
	Due, Stuck, Jobs int
}

// PassArgs is the periodic job that runs a pass.
type PassArgs struct{}

// Kind names the job for River.
func (PassArgs) Kind() string { return "delivery_pass" }

// InsertOpts puts the pass on the delivery queue. Two passes may run at
// once (one that takes longer than the interval, the next): each hands
// over only what it marked sending itself. Making the pass unique while
// one runs would let a node that died mid-pass stop every pass until
// River rescues its job, an hour later.
func (PassArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// PeriodicJobs runs the pass every Config.PassInterval on whichever
// node's workers River elects to run periodic jobs, and once when a node
// is elected. A node that starts after another died is elected only once
// the dead leader's term runs out (15 s): QueuePass does not wait.
func (e *Engine) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(e.passInterval),
		func() (river.JobArgs, *river.InsertOpts) { return PassArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

type passWorker struct {
	river.WorkerDefaults[PassArgs]
	engine *Engine
}

// QueuePass queues a pass for the first node with workers to run, at once:
// for a node that starts.
func (e *Engine) QueuePass(ctx context.Context) error {
	return e.db.InTx(ctx, func(q *store.Queries) error {
		_, err := q.Enqueue(ctx, PassArgs{}, nil)
		return err
	})
}

func (w *passWorker) Timeout(*river.Job[PassArgs]) time.Duration { return w.engine.jobTimeout }

func (w *passWorker) Work(ctx context.Context, _ *river.Job[PassArgs]) error {
	res, err := w.engine.Pass(ctx)
	if res.Jobs > 0 {
		w.engine.logger.Info("delivery pass", "due", res.Due, "stuck", res.Stuck, "jobs", res.Jobs)
	}
	return err
}

// DeliverDue works every delivery that is due now or was handed to a job,
// in this process, JobBatch at a time, and returns how many it worked: a
// pass without the job queue, for the deliver command. Working a delivery
// a job works too is harmless: whichever comes second finds it done.
func (e *Engine) DeliverDue(ctx context.Context, progress func(done int)) (int, error) {
	now := e.now()
	done := 0
	for _, find := range []finder{sendingSince(now), due(now)} {
		var from store.DueRef
		for {
			batch, err := find(ctx, e.db.Read(), from)
			if err != nil {
				return done, err
			}
			for chunk := range slices.Chunk(batch, JobBatch) {
				ids := make([]int64, len(chunk))
				for i, d := range chunk {
					ids[i] = d.ID
				}
				if err := e.deliverBatch(ctx, ids, dueAt(now)); err != nil {
					return done, err
				}
				done += len(ids)
				if progress != nil {
					progress(done)
				}
			}
			if len(batch) < PassBatch {
				break
			}
			from = batch[len(batch)-1]
		}
	}
	return done, nil
}

// OverdueAfter is how long a delivery may wait past its time, with passes
// every passInterval (0: DefaultPassInterval), before it counts as
// overdue: three passes, and at least five minutes.
func OverdueAfter(passInterval time.Duration) time.Duration {
	if passInterval <= 0 {
		passInterval = DefaultPassInterval
	}
	return max(3*passInterval, 5*time.Minute)
}
