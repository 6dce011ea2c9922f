package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Jobs is the background job queue (River) in the application's database:
// jobs survive restarts, and on PostgreSQL several nodes share them.
type Jobs struct {
	sqlite *river.Client[*sql.Tx]
	pg     *river.Client[pgx.Tx]
	// started is set once Start succeeded.
	started atomic.Bool
}

// ErrNoJobs is returned when a job is enqueued on a DB without a job queue.
var ErrNoJobs = errors.New("no job queue configured")

// NewJobs creates the River client for db and makes it the queue that
// Queries.Enqueue inserts into. A config without Queues gives a client that
// only inserts jobs, for nodes and commands that do no background work.
func (db *DB) NewJobs(config *river.Config) (*Jobs, error) {
	var (
		j   Jobs
		err error
	)
	quiet := *config
	quiet.Logger = quieter(config.Logger, routineJobQueueLog)
	config = &quiet
	if db.pg != nil {
		j.pg, err = river.NewClient(riverpgxv5.New(db.pg), config)
	} else {
		// The single write connection: River's writes queue with ours.
		j.sqlite, err = river.NewClient(riversqlite.New(db.write), config)
	}
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	db.jobs = &j
	return &j, nil
}

// Start starts working jobs, when the client has queues.
func (j *Jobs) Start(ctx context.Context) error {
	var err error
	if j.pg != nil {
		err = j.pg.Start(ctx)
	} else {
		err = j.sqlite.Start(ctx)
	}
	if err == nil {
		j.started.Store(true)
	}
	return err
}

// Running reports whether the queue was started and has not stopped
// since (stopped by Stop, or by the end of Start's context).
func (j *Jobs) Running() bool {
	if !j.started.Load() {
		return false
	}
	var stopped <-chan struct{}
	if j.pg != nil {
		stopped = j.pg.Stopped()
	} else {
		stopped = j.sqlite.Stopped()
	}
	select {
	case <-stopped:
		return false
	default:
		return true
	}
}

// Stop waits for running jobs to finish, or for ctx to end, then stops.
func (j *Jobs) Stop(ctx context.Context) error {
	if j.pg != nil {
		return j.pg.Stop(ctx)
	}
	return j.sqlite.Stop(ctx)
}

// StopAndCancel cancels running jobs and stops, as a crash would but
// cleanly; jobs that did not finish run again later.
func (j *Jobs) StopAndCancel(ctx context.Context) error {
	if j.pg != nil {
		return j.pg.StopAndCancel(ctx)
	}
	return j.sqlite.StopAndCancel(ctx)
}

// Subscribe returns a channel of job events, for tests and progress output.
func (j *Jobs) Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	if j.pg != nil {
		return j.pg.Subscribe(kinds...)
	}
	return j.sqlite.Subscribe(kinds...)
}

// Enqueue inserts a background job in the transaction of q, so the job
// exists if and only if the transaction commits.
func (q *Queries) Enqueue(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if q.jobs == nil {
		return nil, fmt.Errorf("enqueue %s: %w", args.Kind(), ErrNoJobs)
	}
	var (
		res *rivertype.JobInsertResult
		err error
	)
	switch {
	case q.pgTx != nil:
		res, err = q.jobs.pg.InsertTx(ctx, q.pgTx, args, opts)
	case q.sqlTx != nil:
		res, err = q.jobs.sqlite.InsertTx(ctx, q.sqlTx, args, opts)
	default:
		return nil, fmt.Errorf("enqueue %s: jobs are enqueued inside InTx", args.Kind())
	}
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return res, nil
}

// EnqueueMany inserts background jobs in the transaction of q with one
// statement, as Enqueue does one: far cheaper than one at a time.
func (q *Queries) EnqueueMany(ctx context.Context, jobs []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	if q.jobs == nil {
		return nil, fmt.Errorf("enqueue %d jobs: %w", len(jobs), ErrNoJobs)
	}
	var (
		res []*rivertype.JobInsertResult
		err error
	)
	switch {
	case q.pgTx != nil:
		res, err = q.jobs.pg.InsertManyTx(ctx, q.pgTx, jobs)
	case q.sqlTx != nil:
		res, err = q.jobs.sqlite.InsertManyTx(ctx, q.sqlTx, jobs)
	default:
		return nil, fmt.Errorf("enqueue %d jobs: jobs are enqueued inside InTx", len(jobs))
	}
	if err != nil {
		return nil, fmt.Errorf("enqueue %d %s jobs: %w", len(jobs), jobs[0].Args.Kind(), err)
	}
	return res, nil
}

// EnqueueMany inserts background jobs with one statement in a transaction
// of their own. A unique job inserted in a transaction holds its key until
// that transaction ends, and on PostgreSQL every other transaction
// inserting the same job waits for it; inserted here, after the work that
// called for it has committed (AfterCommit), it holds up nobody.
func (db *DB) EnqueueMany(ctx context.Context, jobs []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	if db.jobs == nil {
		return nil, fmt.Errorf("enqueue %d jobs: %w", len(jobs), ErrNoJobs)
	}
	var (
		res []*rivertype.JobInsertResult
		err error
	)
	if db.jobs.pg != nil {
		res, err = db.jobs.pg.InsertMany(ctx, jobs)
	} else {
		res, err = db.jobs.sqlite.InsertMany(ctx, jobs)
	}
	if err != nil {
		return nil, fmt.Errorf("enqueue %d %s jobs: %w", len(jobs), jobs[0].Args.Kind(), err)
	}
	return res, nil
}

// migrateJobs creates or updates River's own tables.
func (db *DB) migrateJobs(ctx context.Context, logger *slog.Logger) error {
	var (
		res *rivermigrate.MigrateResult
		err error
	)
	// River's migrator logs each migration it checks; those applied are
	// logged below, once each.
	riverLogger := quieter(logger, everyLine)
	if db.pg != nil {
		var m *rivermigrate.Migrator[pgx.Tx]
		if m, err = rivermigrate.New(riverpgxv5.New(db.pg), &rivermigrate.Config{Logger: riverLogger}); err == nil {
			res, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	} else {
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(db.write), &rivermigrate.Config{Logger: riverLogger}); err == nil {
			res, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("migrate job queue: %w", err)
	}
	for _, v := range res.Versions {
		logger.Info("applied job queue migration", "version", v.Version, "name", v.Name)
	}
	return nil
}

// UnfinishedJobs counts the jobs of kind that are waiting, running or due
// for a retry. Tests wait for it to reach zero to know that a job which
// leaves no trace (one that finds nothing to do) has run.
func (db *DB) UnfinishedJobs(ctx context.Context, kind string) (int, error) {
	jobs, err := db.listJobs(ctx, unfinished(kind))
	if err != nil {
		return 0, fmt.Errorf("unfinished %s jobs: %w", kind, err)
	}
	return len(jobs), nil
}

// UnfinishedJobArgs returns the encoded arguments of the unfinished jobs
// of kind, the first inserted first.
func (db *DB) UnfinishedJobArgs(ctx context.Context, kind string) ([][]byte, error) {
	jobs, err := db.listJobs(ctx, unfinished(kind))
	if err != nil {
		return nil, fmt.Errorf("unfinished %s jobs: %w", kind, err)
	}
	args := make([][]byte, len(jobs))
	for i, j := range jobs {
		args[i] = j.EncodedArgs
	}
	return args, nil
}

func unfinished(kind string) *river.JobListParams {
	return river.NewJobListParams().Kinds(kind).First(10_000).OrderBy(river.JobListOrderByID, river.SortOrderAsc).States(
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled)
}

// RunnableJobs counts the jobs of the given kinds that are ready to run or
// running: what a worker still has to do now, leaving out jobs scheduled
// for later and retries waiting their turn.
func (db *DB) RunnableJobs(ctx context.Context, kinds ...string) (int, error) {
	left, err := db.JobsLeft(ctx, time.Time{}, "", kinds...)
	return left.Runnable + left.HeldElsewhere, err
}

// JobsLeft is what a worker still has to do: jobs ready to run, running
// on its own client, or due before a time (Runnable), and jobs running on
// another client (HeldElsewhere), which may have died with its node.
type JobsLeft struct {
	Runnable, HeldElsewhere int
}

// JobsLeft counts the jobs of the given kinds left for the client named
// self: those ready or running, and those scheduled or waiting for a
// retry that are due by soon.
func (db *DB) JobsLeft(ctx context.Context, soon time.Time, self string, kinds ...string) (JobsLeft, error) {
	jobs, err := db.listJobs(ctx, river.NewJobListParams().Kinds(kinds...).First(10_000).States(
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled))
	if err != nil {
		return JobsLeft{}, fmt.Errorf("jobs left: %w", err)
	}
	var left JobsLeft
	for _, j := range jobs {
		switch {
		case j.State == rivertype.JobStateRunning && len(j.AttemptedBy) > 0 && j.AttemptedBy[len(j.AttemptedBy)-1] != self:
			left.HeldElsewhere++
		case j.State == rivertype.JobStateRetryable || j.State == rivertype.JobStateScheduled:
			if !j.ScheduledAt.After(soon) {
				left.Runnable++
			}
		default:
			left.Runnable++
		}
	}
	return left, nil
}

func (db *DB) listJobs(ctx context.Context, params *river.JobListParams) ([]*rivertype.JobRow, error) {
	if db.jobs == nil {
		return nil, ErrNoJobs
	}
	var (
		res *river.JobListResult
		err error
	)
	if db.jobs.pg != nil {
		res, err = db.jobs.pg.JobList(ctx, params)
	} else {
		res, err = db.jobs.sqlite.JobList(ctx, params)
	}
	if err != nil {
		return nil, err
	}
	return res.Jobs, nil
}
