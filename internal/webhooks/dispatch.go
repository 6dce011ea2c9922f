package webhooks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/netguard"
	"github.com/mailschool/mailschool/internal/store"
)

// Queue is the River queue that sends webhooks.
const Queue = "webhooks"

// QueueConfig is how the webhook queue is worked: a job per endpoint, each
// with Concurrency requests in flight, so that one slow endpoint holds few
// of the workers.
var QueueConfig = river.QueueConfig{MaxWorkers: 20}

// Defaults of a Dispatcher.
const (
	// DefaultConcurrency is how many requests a job has in flight to its
	// endpoint, each about a different subject.
	DefaultConcurrency = 16
	// DefaultRound is how many messages a job takes at a time; their
	// outcomes are recorded in one transaction. Rounds of 100 spent half
	// the sending's CPU time reading and recording rounds
	// (BenchmarkDispatcher). It is also how many messages of an endpoint
	// a crash may send twice.
	DefaultRound = 250
	// DefaultPassInterval is how often the elected node looks for
	// endpoints with messages due (retries, and those whose job was
	// lost) and gives each a job.
	DefaultPassInterval = 5 * time.Second
	// DefaultDisableAfter is how long an endpoint may fail before it is
	// turned off.
	DefaultDisableAfter = 5 * 24 * time.Hour
	// DefaultKeep is how long a finished message and its attempts stay in
	// the delivery log.
	DefaultKeep = 30 * 24 * time.Hour
	// jobBudget is how long a job sends before it hands the rest of its
	// endpoint's messages to its next run, well within River's job
	// timeout; with the round in flight at most DefaultTimeout more.
	jobBudget = 20 * time.Second
	// kickTimeout bounds giving endpoints their jobs after a commit.
	kickTimeout = 10 * time.Second
	// sweepBatch is how many messages the sweep deletes per transaction.
	sweepBatch = 1000
)

// Config configures a Dispatcher; zero values take the defaults.
type Config struct {
	// Guard checks every address the requests connect to; required.
	Guard *netguard.Guard
	// Mail sends the email that tells an organization's admins an
	// endpoint was turned off.
	Mail *mail.Service
	// BaseURL starts the link in that email.
	BaseURL string
	// Timeout bounds each request (DefaultTimeout).
	Timeout time.Duration
	// Backoff is the wait after each failed attempt (DefaultBackoff);
	// NoJitter sends retries exactly then, for tests.
	Backoff  []time.Duration
	NoJitter bool
	// RetryFor is how long after it was written a message is retried
	// (DefaultRetryFor); DisableAfter how long an endpoint may fail before
	// it is turned off (DefaultDisableAfter); Keep how long finished
	// messages stay in the log (DefaultKeep).
	RetryFor, DisableAfter, Keep time.Duration
	// PassInterval is how often the pass looks for due messages
	// (DefaultPassInterval).
	PassInterval time.Duration
	// Concurrency and Round: see DefaultConcurrency and DefaultRound.
	Concurrency, Round int
	// Now is the clock (time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Dispatcher sends webhook messages to their endpoints from the job
// queue: a job per endpoint, unique while it waits or runs, takes the
// endpoint's due messages in id order, a round at a time, sends them
// Concurrency at once (messages about one subject one after another),
// records each attempt, and runs again while work is left.
type Dispatcher struct {
	db                           *store.DB
	mail                         *mail.Service
	baseURL                      string
	client                       *http.Client
	schedule                     []time.Duration
	jitter                       bool
	retryFor, disableAfter, keep time.Duration
	passInterval                 time.Duration
	concurrency, round           int
	now                          func() time.Time
	logger                       *slog.Logger
}

// NewDispatcher returns the dispatcher of db.
func NewDispatcher(db *store.DB, cfg Config) *Dispatcher {
	if cfg.Guard == nil {
		cfg.Guard = netguard.New(netguard.Options{})
	}
	d := &Dispatcher{
		db: db, mail: cfg.Mail, baseURL: cfg.BaseURL,
		client:       cfg.Guard.Client(cmp.Or(cfg.Timeout, DefaultTimeout)),
		schedule:     cfg.Backoff,
		jitter:       !cfg.NoJitter,
		retryFor:     cmp.Or(cfg.RetryFor, DefaultRetryFor),
		disableAfter: cmp.Or(cfg.DisableAfter, DefaultDisableAfter),
		keep:         cmp.Or(cfg.Keep, DefaultKeep),
		passInterval: cmp.Or(cfg.PassInterval, DefaultPassInterval),
		concurrency:  cmp.Or(cfg.Concurrency, DefaultConcurrency),
		round:        cmp.Or(cfg.Round, DefaultRound),
		now:          cfg.Now,
		logger:       cmp.Or(cfg.Logger, slog.Default()),
	}
	if d.now == nil {
		d.now = time.Now
	}
	if len(d.schedule) == 0 {
		d.schedule = DefaultBackoff
	}
	return d
}

// SendArgs is the job that sends an endpoint's due messages.
type SendArgs struct {
	EndpointID int64 `json:"endpoint_id"`
}

// Kind names the job for River.
func (SendArgs) Kind() string { return "webhook_send" }

// InsertOpts makes the job unique per endpoint while it waits or runs (the
// states River requires), so that the events of many changes give one
// job, and one endpoint's messages are never sent by two jobs at once.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateScheduled, rivertype.JobStateRetryable}}}
}

// Kick gives each endpoint a job once q's transaction has committed,
// unless it has one waiting or running: the messages written in the
// transaction go out then. The job is inserted after the commit rather
// than in the transaction, because a unique job inserted there would make
// every other transaction kicking the endpoint (each batch of deliveries)
// wait for this one to commit. A node that stops between the commit and
// the insert leaves the messages to the next pass, as does a message
// written while its endpoint's job is about to end: at most PassInterval
// later. Outside a transaction Kick gives the jobs at once.
func (d *Dispatcher) Kick(ctx context.Context, q *store.Queries, endpointIDs []int64) error {
	k, _ := q.TxValue(kickKey{d}).(*kicked)
	if k == nil {
		k = &kicked{}
		later := q.AfterCommit(func(ctx context.Context) {
			// The messages are committed: a caller gone meanwhile (a
			// closed request) does not leave them to the pass.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), kickTimeout)
			defer cancel()
			if err := d.kickNow(ctx, k.endpointIDs); err != nil {
				d.logger.Warn("webhook endpoints left to the next pass", "endpoints", len(k.endpointIDs), "err", err)
			}
		})
		if !later {
			return d.kickNow(ctx, endpointIDs)
		}
		q.SetTxValue(kickKey{d}, k)
	}
	// A batch of deliveries kicks an endpoint for each of its events;
	// kickNow gives each endpoint one job.
	k.endpointIDs = append(k.endpointIDs, endpointIDs...)
	return nil
}

// kicked holds the endpoints kicked in a transaction; kickKey finds it.
type kicked struct{ endpointIDs []int64 }

type kickKey struct{ d *Dispatcher }

// kickNow gives each endpoint a job, unless it has one waiting or running.
func (d *Dispatcher) kickNow(ctx context.Context, endpointIDs []int64) error {
	ids := slices.Clone(endpointIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	jobs := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		jobs[i] = river.InsertManyParams{Args: SendArgs{EndpointID: id}}
	}
	if _, err := d.db.EnqueueMany(ctx, jobs); err != nil {
		return fmt.Errorf("kick webhook endpoints: %w", err)
	}
	return nil
}

// AddWorkers registers the dispatcher's job workers.
func (d *Dispatcher) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &sendWorker{d: d})
	river.AddWorker(workers, &passWorker{d: d})
	river.AddWorker(workers, &sweepWorker{d: d})
}

// PeriodicJobs runs the pass every PassInterval and the sweep daily, on
// the node River elects, and both when it is elected.
func (d *Dispatcher) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(d.passInterval),
			func() (river.JobArgs, *river.InsertOpts) { return PassArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
	}
}

type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	d *Dispatcher
}

// Timeout leaves the job its budget, a round in flight, and the time to
// record it.
func (w *sendWorker) Timeout(*river.Job[SendArgs]) time.Duration {
	return jobBudget + DefaultTimeout + 30*time.Second
}

func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	// One budget for the whole run, second looks included, so that the
	// job ends within its Timeout: cut off there, a round already sent
	// would go again.
	deadline := time.Now().Add(jobBudget)
	tried, more, err := w.d.sendDue(ctx, job.Args.EndpointID, deadline)
	// A transaction that committed after this job's last look, and
	// kicked while the job was still running, gave it no job (it is
	// unique while running): its messages would wait for the pass.
	// Looking again a little later, a few times, finds those of the
	// transactions that were committing; with deliveries committing all
	// the time, most of them. A run that found nothing to send (a
	// disabled or deleted endpoint, a kick whose messages another run
	// took) ends at once.
	for look := 0; look < lingerLooks && err == nil && !more && tried > 0 && time.Until(deadline) > lingerWait; look++ {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(lingerWait):
		}
		_, more, err = w.d.sendDue(ctx, job.Args.EndpointID, deadline)
	}
	if err != nil {
		return err
	}
	if more {
		// The same job runs again at once, and stays the endpoint's one.
		return river.JobSnooze(0)
	}
	return nil
}

// lingerLooks and lingerWait: how often, and after how long each time, a
// job that sent something and found nothing more looks again before it
// ends.
const (
	lingerLooks = 3
	lingerWait  = 100 * time.Millisecond
)

// SendDue sends an endpoint's due messages, a round at a time, until none
// is left or budget has passed, and reports whether some are left. A
// disabled endpoint's messages wait.
func (d *Dispatcher) SendDue(ctx context.Context, endpointID int64, budget time.Duration) (more bool, err error) {
	_, more, err = d.sendDue(ctx, endpointID, time.Now().Add(budget))
	return more, err
}

// sendDue is SendDue until deadline; it also reports how many messages it
// tried.
func (d *Dispatcher) sendDue(ctx context.Context, endpointID int64, deadline time.Time) (tried int, more bool, err error) {
	for {
		ep, err := d.db.Read().WebhookEndpointToSend(ctx, endpointID)
		if errors.Is(err, store.ErrNotFound) {
			return tried, false, nil // deleted, its messages with it
		}
		if err != nil {
			return tried, false, err
		}
		if !ep.Enabled {
			return tried, false, nil
		}
		msgs, err := d.db.Read().NextWebhookMessages(ctx, endpointID, d.now(), d.round)
		if err != nil || len(msgs) == 0 {
			return tried, false, err
		}
		if err := d.sendRound(ctx, ep, msgs, deadline); err != nil {
			return tried, false, err
		}
		tried += len(msgs)
		if time.Now().After(deadline) {
			return tried, true, nil
		}
	}
}

// sendRound sends a round of messages, concurrency at a time, and records
// their outcomes in one transaction once all have answered: a crash
// before that sends them again, with the same webhook-id. No request
// starts after deadline: the messages left stay pending for the next
// round, so that a slow endpoint's round ends within the job's time.
func (d *Dispatcher) sendRound(ctx context.Context, ep store.WebhookEndpoint, msgs []store.WebhookMessage, deadline time.Time) error {
	attempts := make([]attempt, len(msgs))
	var wg sync.WaitGroup
	slots := make(chan struct{}, d.concurrency)
	started := 0
	for i, m := range msgs {
		slots <- struct{}{}
		if i > 0 && time.Now().After(deadline) {
			break
		}
		started++
		wg.Go(func() {
			defer func() { <-slots }()
			attempts[i] = d.send(ctx, ep, m)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Cut off: what was sent goes again with the same id.
		return ctx.Err()
	}
	return d.record(ctx, ep, attempts[:started])
}

// record writes a round's attempts and what they mean for their messages
// and their endpoint: failing since the first failure, delivering again
// after a success, and turned off, its admins emailed, once it has failed
// for DisableAfter.
func (d *Dispatcher) record(ctx context.Context, ep store.WebhookEndpoint, attempts []attempt) error {
	now := d.now()
	outcomes := make([]store.WebhookOutcome, len(attempts))
	succeeded := false
	for i, a := range attempts {
		outcomes[i] = d.outcome(a, now)
		succeeded = succeeded || outcomes[i].Status == store.WebhookDelivered
	}
	return d.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := q.RecordWebhookOutcomes(ctx, outcomes); err != nil {
			return err
		}
		// A round with any success shows the endpoint works.
		if succeeded {
			return q.ClearWebhookEndpointFailing(ctx, ep.ID)
		}
		since, err := q.SetWebhookEndpointFailing(ctx, ep.ID, now)
		if err != nil {
			return err
		}
		if now.Sub(since) < d.disableAfter {
			return nil
		}
		return d.disable(ctx, q, ep, since, now)
	})
}

// disable turns off an endpoint that has failed since a time and emails
// its organization's owner and admins.
func (d *Dispatcher) disable(ctx context.Context, q *store.Queries, ep store.WebhookEndpoint, since, now time.Time) error {
	days := int(now.Sub(since) / (24 * time.Hour))
	reason := fmt.Sprintf("Every delivery failed for %s days, since %s.", strconv.Itoa(days), since.UTC().Format("2 January 2006 15:04 MST"))
	changed, err := q.DisableWebhookEndpoint(ctx, ep.ID, reason, now)
	if err != nil || !changed {
		return err
	}
	d.logger.Warn("webhook endpoint turned off", "endpoint", ep.ID, "organization", ep.OrganizationID, "failing_since", since)
	if d.mail == nil {
		return nil
	}
	org, err := q.OrganizationByID(ctx, ep.OrganizationID)
	if err != nil {
		return fmt.Errorf("turn off webhook endpoint %d: %w", ep.ID, err)
	}
	admins, err := q.OrganizationAdminEmails(ctx, ep.OrganizationID)
	if err != nil {
		return err
	}
	for _, to := range admins {
		_, err := d.mail.Enqueue(ctx, q, mail.Email{Kind: mail.KindWebhookDisabled, To: to, OrganizationID: ep.OrganizationID,
			Organization: &mail.Branding{Name: org.Name}, Data: mail.WebhookDisabled{
				OrganizationName: org.Name, EndpointURL: ep.URL, FailingSince: since, Reason: reason,
				URL: d.baseURL + EndpointPath(ep.OrganizationID, ep.ID),
			}})
		if err != nil {
			return fmt.Errorf("tell %s of webhook endpoint %d turned off: %w", to, ep.ID, err)
		}
	}
	return nil
}

// EndpointPath is the page of an endpoint: its delivery log, and where it
// is turned on again.
func EndpointPath(orgID, endpointID int64) string {
	return "/email-learning/platform/organizations/" + strconv.FormatInt(orgID, 10) + "/webhooks/" + strconv.FormatInt(endpointID, 10) + "/"
}

// PassArgs is the periodic job that gives a job to every endpoint with
// messages due.
type PassArgs struct{}

// Kind names the job for River.
func (PassArgs) Kind() string { return "webhook_pass" }

// InsertOpts puts the pass on the webhook queue.
func (PassArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

type passWorker struct {
	river.WorkerDefaults[PassArgs]
	d *Dispatcher
}

func (w *passWorker) Work(ctx context.Context, _ *river.Job[PassArgs]) error {
	_, err := w.d.Pass(ctx)
	return err
}

// Pass gives a job to every enabled endpoint with a message due (a retry
// whose time came, or a message whose job was lost), and returns how many
// it found.
func (d *Dispatcher) Pass(ctx context.Context) (int, error) {
	const batch = 500
	var after int64
	found := 0
	for {
		ids, err := d.db.Read().DueWebhookEndpoints(ctx, d.now(), after, batch)
		if err != nil || len(ids) == 0 {
			return found, err
		}
		if err := d.kickNow(ctx, ids); err != nil {
			return found, err
		}
		found += len(ids)
		if len(ids) < batch {
			return found, nil
		}
		after = ids[len(ids)-1]
	}
}

// SweepArgs is the daily job that deletes finished messages past Keep.
type SweepArgs struct{}

// Kind names the job for River.
func (SweepArgs) Kind() string { return "webhook_sweep" }

// InsertOpts puts the sweep on the webhook queue.
func (SweepArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	d *Dispatcher
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	n, err := w.d.Sweep(ctx)
	if n > 0 {
		w.d.logger.Info("swept old webhook messages", "count", n)
	}
	return err
}

// Sweep deletes the messages delivered or given up more than Keep ago,
// and their attempts, and returns how many messages it deleted.
func (d *Dispatcher) Sweep(ctx context.Context) (int64, error) {
	before := d.now().Add(-d.keep)
	var total int64
	for {
		var n int64
		err := d.db.InTx(ctx, func(q *store.Queries) error {
			var err error
			n, err = q.DeleteFinishedWebhookMessages(ctx, before, sweepBatch)
			return err
		})
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}
