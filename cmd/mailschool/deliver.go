package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/config"
	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// deliver runs one delivery pass and works what it found until done: for
// installs that send from cron rather than from serve's workers.
func deliver(ctx context.Context, a *app, args []string) error {
	var (
		cfg  config.Config
		once bool
	)
	fs := a.newFlagSet("deliver", "deliver --once [flags]\n\n"+
		"Finds the course content that is due, sends it (and any other queued email)\n"+
		"and exits. serve does the same every minute on its own; this is for cron.")
	fs.BoolVar(&once, "once", false, "run one pass and exit (required)")
	cfg.Register(fs, a.env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if !once {
		fmt.Fprintln(a.stderr, "--once is required: deliver runs one pass (serve runs them continuously)")
		fs.Usage()
		return errUsage
	}
	if err := cfg.Finish(); err != nil {
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
	learn := learning.NewService(db, learning.Config{Mail: mailer, BaseURL: cfg.BaseURL, SecretKey: cfg.SecretKey})
	engine := delivery.New(db, mailer, learn, delivery.Config{PassInterval: cfg.DeliveryInterval, Logger: a.logger.With("component", "delivery")})
	// Completions worked here are the organizations' webhook events too;
	// serve's workers send them.
	guard := newGuard(cfg)
	dispatcher := newDispatcher(a, cfg, db, mailer, guard)
	hooks := webhooks.NewService(db, webhooks.Options{CheckURL: guard.CheckURL, Learning: learn})
	hooks.Attach(nil, learn)
	hooks.SetKick(dispatcher.Kick)
	newBounces(a, cfg, db, mailer, learn)
	// Only the mail queue: this process works the deliveries itself.
	queue := jobsConfig(a, db, mailer, learn, engine, dispatcher, false)
	queue.Queues = map[string]river.QueueConfig{mail.Queue: mail.QueueConfig}
	queue.ID = fmt.Sprintf("deliver-%d-%d", os.Getpid(), time.Now().UnixNano())
	jobs, err := db.NewJobs(queue)
	if err != nil {
		return err
	}

	lastReport := time.Now()
	n, err := engine.DeliverDue(ctx, func(done int) {
		if time.Since(lastReport) >= time.Second {
			fmt.Fprintf(a.stdout, "%s worked…\n", count(done, "delivery", "deliveries"))
			lastReport = time.Now()
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s worked.\n", count(n, "delivery", "deliveries"))
	if err := jobs.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		jobs.Stop(stopCtx)
	}()

	// Working deliveries recorded their emails and, for each batch of
	// them, a job that sends them, ready to run; the queue is drained when
	// no such job is left, nor one due in a moment (a run after a failure
	// that hands emails on, an email waiting a second for the one before
	// it). Jobs that a stopped process left running are taken over once
	// they have run longer than any job runs (River's rescue). Emails
	// waiting longer for a retry go out with a later run.
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	kinds := []string{mail.SendArgs{}.Kind(), mail.SendBatchArgs{}.Kind()}
	for {
		left, err := db.JobsLeft(ctx, time.Now().Add(5*time.Second), queue.ID, kinds...)
		if err != nil {
			return err
		}
		if left == (store.JobsLeft{}) {
			break
		}
		if time.Since(lastReport) >= time.Second {
			fmt.Fprintf(a.stdout, "sending emails: %s left…\n", count(left.Runnable+left.HeldElsewhere, "job", "jobs"))
			if left.HeldElsewhere > 0 {
				fmt.Fprintf(a.stdout, "  %d of them running in another process; if it stopped, they are taken over %v after they started\n",
					left.HeldElsewhere, mail.RescueAfter)
			}
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
	fmt.Fprintln(a.stdout, "Done.")
	return nil
}

// count is n followed by the noun in the number it takes: "1 delivery",
// "2 deliveries".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
