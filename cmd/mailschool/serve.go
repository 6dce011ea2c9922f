package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/mailschool/mailschool/internal/bounces/providers"
	"github.com/mailschool/mailschool/internal/config"
	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/metrics"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/web"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// serverGCPercent is the garbage collector's target for serve when GOGC
// does not set one. A server's live heap is small (tens of MiB) and its
// requests allocate quickly, and the collector's work per request grows
// with what the request allocates over GOGC, not with the heap: at Go's
// default of 100, collection was a third of the CPU of a staff page.
// Letting the heap grow to five times what is live before collecting
// costs some tens of MiB and takes most of that back.
const serverGCPercent = 400

func serve(ctx context.Context, a *app, args []string) error {
	var cfg config.Config
	fs := a.newFlagSet("serve", "serve [flags]")
	cfg.Register(fs, a.env)
	cfg.RegisterServer(fs, a.env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.Finish(); err != nil {
		return err
	}
	if a.env("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	db, err := openDatabase(ctx, a, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if db.Dialect() == store.Postgres && a.env("MAILSCHOOL_SECRET_KEY") == "" {
		a.logger.Warn("MAILSCHOOL_SECRET_KEY is not set: this node generated its own; set the same key on every node that shares the database")
	}
	if err := announceFirstStart(ctx, a, db); err != nil {
		return err
	}

	var (
		meter    *metrics.Metrics
		observer mail.Observer
	)
	if cfg.Metrics {
		meter, err = metrics.New(metrics.Options{DB: db, Queues: []string{mail.Queue, delivery.Queue, webhooks.Queue},
			OverdueAfter: delivery.OverdueAfter(cfg.DeliveryInterval), Logger: a.logger.With("component", "metrics")})
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		observer = meter
	}
	mailer, err := newMailService(a, cfg, db, observer)
	if err != nil {
		return err
	}
	defer mailer.Close()
	learn := learning.NewService(db, learning.Config{Mail: mailer, BaseURL: cfg.BaseURL, SecretKey: cfg.SecretKey})
	engine := delivery.New(db, mailer, learn, delivery.Config{PassInterval: cfg.DeliveryInterval, Logger: a.logger.With("component", "delivery")})
	guard := newGuard(cfg)
	dispatcher := newDispatcher(a, cfg, db, mailer, guard)
	// The web server attaches it to the organizations and learning.
	hooks := webhooks.NewService(db, webhooks.Options{CheckURL: guard.CheckURL, Learning: learn})
	hooks.SetKick(dispatcher.Kick)
	rules := newBounces(a, cfg, db, mailer, learn)
	poller, err := newBouncePoller(a, cfg, rules)
	if err != nil {
		return err
	}

	var (
		jobs        *store.Jobs
		stopJobs    func()
		jobsRunning func() bool
	)
	if cfg.Workers {
		// Asked by /readyz, whose requests are served once the queue started.
		jobsRunning = func() bool { return jobs != nil && jobs.Running() }
	}
	bounceWebhooks, err := providers.New(cfg.BounceWebhooks, providers.Options{})
	if err != nil {
		return err
	}
	handler, err := web.New(web.Options{
		DB:            db,
		Mail:          mailer,
		Logger:        a.logger,
		BaseURL:       cfg.BaseURL,
		SecureCookies: cfg.SecureCookies(),
		Version:       versionString(),
		InvitationTTL: cfg.InvitationTTL,
		SecretKey:     cfg.SecretKey,
		Learning:      learn,
		Webhooks:      hooks,

		LoginPerIP:               cfg.Limits.LoginPerIP,
		LoginPerAccountIP:        cfg.Limits.LoginPerAccountIP,
		LoginPerAccount:          cfg.Limits.LoginPerAccount,
		PasswordChangePerAccount: cfg.Limits.PasswordChangePerAccount,
		InvitationPerIP:          cfg.Limits.InvitationPerIP,
		Signup:                   cfg.Signup,
		SignupPerIP:              cfg.Limits.SignupPerIP,
		SignupPerAddress:         cfg.Limits.SignupPerAddress,
		ResetPerIP:               cfg.Limits.ResetPerIP,
		ResetPerAddress:          cfg.Limits.ResetPerAddress,
		EnrollPerIP:              cfg.Limits.EnrollPerIP,
		EnrollPerAddress:         cfg.Limits.EnrollPerAddress,
		APIKeyLimit:              cfg.Limits.APIPerKey,
		TrustedProxies:           cfg.TrustedProxies,
		Metrics:                  meter,
		MetricsToken:             cfg.MetricsToken,
		JobsRunning:              jobsRunning,
		Bounces:                  rules,
		BounceWebhooks:           bounceWebhooks,
		BounceWebhookPerIP:       cfg.Limits.BounceWebhookPerIP,
	})
	if err != nil {
		return err
	}
	// Bound before any worker starts: a second instance started by
	// mistake fails here, having worked nothing.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	jobs, stopJobs, err = startJobs(ctx, a, cfg, db, mailer, learn, engine, dispatcher, poller, cfg.ShutdownTimeout)
	if err != nil {
		return err
	}
	defer stopJobs()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go sweepSessions(ctx, a, db)

	served := make(chan error, 1)
	if cfg.ACMEHost != "" {
		srv.TLSConfig = acmeTLSConfig(cfg)
		go func() { served <- srv.ServeTLS(ln, "", "") }()
	} else if cfg.TLSCert != "" {
		go func() { served <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey) }()
	} else {
		go func() { served <- srv.Serve(ln) }()
	}
	a.logger.Info("mailschool is listening", "addr", ln.Addr().String(), "url", cfg.BaseURL, "tls", cfg.TLSCert != "" || cfg.ACMEHost != "",
		"database", string(db.Dialect()), "mail", mailTransportName(cfg), "workers", cfg.Workers, "version", versionString())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.logger.Info("shutting down: finishing requests and running jobs", "timeout", cfg.ShutdownTimeout)
	// The job queue stops fetching and lets running jobs finish while
	// requests in flight are answered.
	var stopped sync.WaitGroup
	stopped.Go(stopJobs)
	defer stopped.Wait()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	stopped.Wait()
	a.logger.Info("stopped")
	return nil
}

// acmeTLSConfig gets and renews the certificate of cfg.ACMEHost from
// Let's Encrypt through the TLS-ALPN-01 challenge, which needs the host's
// port 443 to reach this listener, and keeps it in the data directory.
// Setting the host accepts Let's Encrypt's terms of service.
func acmeTLSConfig(cfg config.Config) *tls.Config {
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(cfg.ACMEHost),
		Cache:      autocert.DirCache(filepath.Join(cfg.DataDir, "acme")),
	}
	return m.TLSConfig()
}

// openDatabase opens the configured database and brings its schema up to
// date.
func openDatabase(ctx context.Context, a *app, cfg config.Config) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, a.logger); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// announceFirstStart tells a new install how to create its first admin.
func announceFirstStart(ctx context.Context, a *app, db *store.DB) error {
	n, err := db.Read().CountPlatformAdmins(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(a.stderr, "No platform admin exists yet. Create one with:")
		fmt.Fprintln(a.stderr, "  go run ./cmd/mailschool createsuperuser --email you@example.com")
	}
	return nil
}

// sweepSessions deletes expired login sessions every hour, and on
// PostgreSQL the rate limit rows that have expired (full buckets, ended
// marks), which would otherwise stay for every address ever seen.
func sweepSessions(ctx context.Context, a *app, db *store.DB) {
	ticker := time.NewTicker(time.Hour)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if n, err := db.Sessions().DeleteExpired(ctx); err != nil {
				a.logger.Error("sweep sessions", "err", err)
			} else if n > 0 {
				a.logger.Info("swept expired sessions", "count", n)
			}
			if db.Dialect() != store.Postgres {
				continue
			}
			if n, err := db.RateLimits().DeleteExpiredRateLimits(ctx, time.Now()); err != nil {
				a.logger.Error("sweep rate limits", "err", err)
			} else if n > 0 {
				a.logger.Info("swept expired rate limits", "count", n)
			}
		}
	}
}

func migrate(ctx context.Context, a *app, args []string) error {
	var cfg config.Config
	fs := a.newFlagSet("migrate", "migrate [flags]")
	cfg.Register(fs, a.env)
	if err := parse(fs, args); err != nil {
		return err
	}
	db, err := openDatabase(ctx, a, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(a.stdout, "Database (%s) is up to date.\n", db.Dialect())
	return nil
}
