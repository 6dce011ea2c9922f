package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/mailbox"
	"github.com/mailschool/mailschool/internal/config"
	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// newMailService builds the mail service for cfg: SMTP when an SMTP URL is
// set, the built-in outbox otherwise. observer, when not nil, is told the
// outcome of every send (the metrics).
func newMailService(a *app, cfg config.Config, db *store.DB, observer mail.Observer) (*mail.Service, error) {
	transport, name, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	return mail.NewService(db, mail.Config{
		From:          cfg.From,
		BaseURL:       cfg.BaseURL,
		Transport:     transport,
		TransportName: name,
		SendRate:      cfg.SendRate,
		Logger:        a.logger,
		Observer:      observer,
		ReturnPaths:   mail.NewReturnPaths(cfg.SecretKey, cfg.BounceDomain),
	})
}

// newBounces returns the bounce rules of cfg and tells mailer to count its
// refusals at send time as hard bounces.
func newBounces(a *app, cfg config.Config, db *store.DB, mailer *mail.Service, learn *learning.Service) *bounces.Service {
	rules := bounces.NewService(db, learn, bounces.Config{
		ReturnPaths:       mailer.ReturnPaths(),
		SoftLimit:         cfg.BounceSoftLimit,
		SoftWindow:        cfg.BounceSoftWindow,
		BlockPlatformWide: cfg.BounceBlockPlatform,
		Logger:            a.logger.With("component", "bounces"),
	})
	mailer.SetRefusalRecorder(rules.RecordRefusal)
	return rules
}

// newBouncePoller returns the reader of MAILSCHOOL_BOUNCE_MAILBOX, which
// hands what it finds to rules; nil when no mailbox is set.
func newBouncePoller(a *app, cfg config.Config, rules bounces.Recorder) (*mailbox.Poller, error) {
	if cfg.BounceMailbox == "" {
		return nil, nil
	}
	return mailbox.New(mailbox.Config{URL: cfg.BounceMailbox, Recorder: rules, Logger: a.logger})
}

func mailTransportName(cfg config.Config) string {
	if cfg.SMTPURL == "" {
		return "outbox"
	}
	return "smtp"
}

func newTransport(cfg config.Config) (mail.Transport, string, error) {
	if cfg.SMTPURL == "" {
		return mail.Outbox{}, "outbox", nil
	}
	// As many connections as the benchmarks were measured with; the mail
	// queue's workers take turns on them.
	smtpCfg := mail.SMTPConfig{URL: cfg.SMTPURL, MaxConns: 8}
	if cfg.DKIMKeyFile != "" {
		key, err := mail.LoadDKIMKey(cfg.DKIMKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("MAILSCHOOL_DKIM_KEY_FILE: %w", err)
		}
		smtpCfg.DKIM = &mail.DKIMConfig{Domain: cfg.DKIMDomain, Selector: cfg.DKIMSelector, Signer: key}
	}
	transport, err := mail.NewSMTP(smtpCfg)
	if err != nil {
		return nil, "", err
	}
	return transport, "smtp", nil
}

// startJobs creates the job queue with the workers of every subsystem (and
// the bounce mailbox's poller, when not nil) and,
// when workers run in this process, starts working it, queues a delivery
// pass and returns it (nil otherwise). Jobs run on after ctx ends: the returned stop function
// stops fetching new ones, lets running ones finish for up to
// shutdownTimeout, and then cancels those left (a send job hands on the
// emails it did not try).
func startJobs(ctx context.Context, a *app, cfg config.Config, db *store.DB, mailer *mail.Service, learn *learning.Service,
	engine *delivery.Engine, dispatcher *webhooks.Dispatcher, poller *mailbox.Poller, shutdownTimeout time.Duration) (working *store.Jobs, stop func(), err error) {
	queue := jobsConfig(a, db, mailer, learn, engine, dispatcher, cfg.Workers)
	if poller != nil {
		poller.AddWorkers(queue.Workers)
		if cfg.Workers {
			queue.Queues[mailbox.Queue] = mailbox.QueueConfig
			queue.PeriodicJobs = append(queue.PeriodicJobs, poller.PeriodicJobs()...)
		}
	}
	queue.SoftStopTimeout = shutdownTimeout
	jobs, err := db.NewJobs(queue)
	if err != nil {
		return nil, nil, err
	}
	if !cfg.Workers {
		return nil, func() {}, nil
	}
	if err := jobs.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, nil, fmt.Errorf("start job queue: %w", err)
	}
	// River elects a node to run the periodic pass, which takes until a
	// dead leader's term runs out; this node does not wait for that.
	if err := engine.QueuePass(ctx); err != nil {
		a.logger.Error("queue a delivery pass", "err", err)
	}
	var once sync.Once
	return jobs, func() {
		once.Do(func() { stopJobs(a, jobs, shutdownTimeout) })
	}, nil
}

// stopJobs stops the job queue: running jobs finish for up to timeout
// (the queue's SoftStopTimeout), then are cancelled, and have as long as
// a cancelled send takes to wind up (it records what it sent and hands
// on the rest).
func stopJobs(a *app, jobs *store.Jobs, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+mail.HeldAtMost(0)-mail.DefaultJobTimeout)
	defer cancel()
	stop := jobs.Stop
	if timeout == 0 {
		stop = jobs.StopAndCancel
	}
	if err := stop(ctx); err != nil {
		a.logger.Error("stop job queue", "err", err)
	}
}

// jobsConfig is the job queue with the workers of every subsystem, and,
// when work is set, the queues they work and the periodic jobs (the
// delivery pass, the daily sweeps), which River runs on one elected node.
// Every job has a timeout, and a job running past mail.RescueAfter is
// run again: its node died.
func jobsConfig(a *app, db *store.DB, mailer *mail.Service, learn *learning.Service, engine *delivery.Engine, dispatcher *webhooks.Dispatcher, work bool) *river.Config {
	accounts := auth.NewAccounts(db, mailer)
	organizations := orgs.NewService(db, orgs.Config{Mail: mailer})
	workers := river.NewWorkers()
	mailer.AddWorkers(workers)
	accounts.AddWorkers(workers)
	organizations.AddWorkers(workers)
	learn.AddWorkers(workers)
	engine.AddWorkers(workers)
	dispatcher.AddWorkers(workers)
	queue := &river.Config{Workers: workers, Logger: a.logger.With("component", "jobs"), FetchCooldown: mail.FetchCooldown,
		JobTimeout: time.Minute, RescueStuckJobsAfter: mail.RescueAfter}
	if work {
		queue.Queues = map[string]river.QueueConfig{mail.Queue: mail.QueueConfig, delivery.Queue: delivery.QueueConfig, webhooks.Queue: webhooks.QueueConfig}
		queue.PeriodicJobs = slices.Concat(engine.PeriodicJobs(), accounts.PeriodicJobs(), organizations.PeriodicJobs(), dispatcher.PeriodicJobs())
	}
	return queue
}

func sendTest(ctx context.Context, a *app, args []string) error {
	var (
		cfg config.Config
		to  string
	)
	fs := a.newFlagSet("sendtest", "sendtest --to ADDRESS [flags]\n\n"+
		"Sends one test email through the configured transport (MAILSCHOOL_SMTP_URL, or the\n"+
		"built-in outbox) and prints the result.")
	fs.StringVar(&to, "to", "", "address to send the test email to (required)")
	cfg.Register(fs, a.env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if to == "" {
		fmt.Fprintln(a.stderr, "--to is required")
		fs.Usage()
		return errUsage
	}
	if err := cfg.Finish(); err != nil {
		return err
	}
	recipient, err := auth.NormalizeEmail(to)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, a, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	mailer, err := newMailService(a, cfg, db, nil)
	if err != nil {
		return err
	}
	defer mailer.Close()
	m, err := mailer.SendNow(ctx, mail.Email{Kind: mail.KindTest, To: recipient})
	if err != nil {
		return fmt.Errorf("the test email to %s was not sent: %w", recipient, err)
	}
	switch m.Status {
	case store.MailStored:
		fmt.Fprintf(a.stdout, "No SMTP server is configured: the test email to %s is in the outbox.\nRead it at %s/email-learning/platform/outbox/%d/\n",
			recipient, cfg.BaseURL, m.ID)
	default:
		fmt.Fprintf(a.stdout, "Sent the test email to %s through SMTP.\nServer reply: %s\nMessage-ID: <%s>\n", recipient, m.ProviderMessageID, m.MessageID)
	}
	return nil
}
