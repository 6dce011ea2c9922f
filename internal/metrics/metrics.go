// Package metrics gathers mailschool's Prometheus metrics: HTTP requests,
// the job queue's backlog, deliveries due, emails sent, SMTP latency, the
// database pools and the Go runtime, in a registry of its own.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
)

// Options configures Metrics.
type Options struct {
	DB *store.DB
	// Queues are the job queues reported even when they hold no job.
	Queues []string
	// OverdueAfter is how long a delivery may wait past its time before
	// it counts as overdue; zero takes DefaultOverdueAfter.
	OverdueAfter time.Duration
	Logger       *slog.Logger
}

// DefaultOverdueAfter: the delivery pass runs every minute by default, so
// a delivery still waiting five minutes after its time is late.
const DefaultOverdueAfter = 5 * time.Minute

// Metrics is the registry of mailschool's metrics and the instruments the
// rest of the program reports to.
type Metrics struct {
	registry        *prometheus.Registry
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	emailsSent      *prometheus.CounterVec
	emailsFailed    *prometheus.CounterVec
	emailsRetried   *prometheus.CounterVec
	smtpDuration    prometheus.Histogram
	backlog         *backlogCollector
	handler         http.Handler
}

// requestBuckets span the pages' times, from a cached public page (about
// a millisecond) to a logo upload or a large report (seconds).
var requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// smtpBuckets span an SMTP server's answers, from a relay on the same
// network to a slow provider.
var smtpBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New registers every metric for opts.DB.
func New(opts Options) (*Metrics, error) {
	if opts.OverdueAfter <= 0 {
		opts.OverdueAfter = DefaultOverdueAfter
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailschool_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status (499: the client left first).",
		}, []string{"method", "route", "status"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mailschool_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route pattern.",
			Buckets: requestBuckets,
		}, []string{"method", "route"}),
		emailsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailschool_emails_sent_total",
			Help: "Emails handed to the SMTP server or kept in the outbox, by kind.",
		}, []string{"kind"}),
		emailsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailschool_emails_failed_total",
			Help: "Emails given up on (refused for good, or out of attempts), by kind.",
		}, []string{"kind"}),
		emailsRetried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailschool_emails_retried_total",
			Help: "Attempts to send an email that failed and will be tried again, by kind.",
		}, []string{"kind"}),
		smtpDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mailschool_smtp_send_duration_seconds",
			Help:    "Time the SMTP server took with one email, failures included.",
			Buckets: smtpBuckets,
		}),
	}
	// Every kind is reported from the start, at zero, so that a rate
	// over the first email of a kind is not lost.
	for _, kind := range mail.Kinds() {
		m.emailsSent.WithLabelValues(string(kind))
		m.emailsFailed.WithLabelValues(string(kind))
		m.emailsRetried.WithLabelValues(string(kind))
	}
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.requestDuration, m.emailsSent, m.emailsFailed, m.emailsRetried, m.smtpDuration,
	}
	m.backlog = newBacklogCollector(opts)
	cs = append(cs, m.backlog)
	for name, pool := range opts.DB.SQLPools() {
		cs = append(cs, collectors.NewDBStatsCollector(pool, name))
	}
	if opts.DB.PostgresPoolStat() != nil {
		cs = append(cs, pgxPoolCollector{opts.DB})
	}
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return nil, err
		}
	}
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m, nil
}

// Handler serves the metrics in Prometheus' text format (or the one the
// scraper asks for).
func (m *Metrics) Handler() http.Handler { return m.handler }

// ObserveRequest counts an answered request. route is the pattern the
// request matched, never its path, so that the series stay few; a method
// outside HTTP's usual ones counts as "other", for the same reason.
func (m *Metrics) ObserveRequest(method, route string, status int, took time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(method, route).Observe(took.Seconds())
}

// EmailAttempted counts an attempt to send an email by its outcome.
func (m *Metrics) EmailAttempted(kind, status string) {
	switch status {
	case store.MailSent, store.MailStored:
		m.emailsSent.WithLabelValues(kind).Inc()
	case store.MailFailed:
		m.emailsFailed.WithLabelValues(kind).Inc()
	case store.MailQueued:
		m.emailsRetried.WithLabelValues(kind).Inc()
	}
}

// SMTPSendTook records how long the SMTP server took with one email.
func (m *Metrics) SMTPSendTook(d time.Duration) { m.smtpDuration.Observe(d.Seconds()) }

// RoutePattern is the label of a ServeMux pattern: its path, without the
// method ("GET /healthz" is "/healthz"); a request that matched no route
// (refused before routing) is "none".
func RoutePattern(pattern string) string {
	if pattern == "" {
		return "none"
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// backlogCollector reads the job queue's backlog and the deliveries due
// when scraped, at most once a second: a flood of scrapes costs the
// database two small queries a second.
type backlogCollector struct {
	db           *store.DB
	queues       []string
	overdueAfter time.Duration
	logger       *slog.Logger

	jobsAvailable, oldestAge, due, overdue *prometheus.Desc

	mu      sync.Mutex
	readAt  time.Time
	metrics []prometheus.Metric
}

// backlogCacheTime is how long a reading of the backlog is served again.
const backlogCacheTime = time.Second

// backlogTimeout bounds the queries of a scrape: a database that hangs
// must not hang the scraper too.
const backlogTimeout = 2 * time.Second

func newBacklogCollector(opts Options) *backlogCollector {
	return &backlogCollector{
		db: opts.DB, queues: opts.Queues, overdueAfter: opts.OverdueAfter, logger: opts.Logger,
		jobsAvailable: prometheus.NewDesc("mailschool_jobs_available",
			"Jobs ready to run and waiting for a worker, by queue.", []string{"queue"}, nil),
		oldestAge: prometheus.NewDesc("mailschool_jobs_oldest_available_age_seconds",
			"How long the oldest job ready to run has waited for a worker, by queue (0 when none waits).", []string{"queue"}, nil),
		due: prometheus.NewDesc("mailschool_deliveries_due",
			"Course content whose time has come and that the delivery pass has not yet handed to a job.", nil, nil),
		overdue: prometheus.NewDesc("mailschool_deliveries_overdue",
			"Course content due that has waited for the delivery pass past the overdue limit (three pass intervals, at least five minutes).", nil, nil),
	}
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobsAvailable
	ch <- c.oldestAge
	ch <- c.due
	ch <- c.overdue
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.readAt) >= backlogCacheTime {
		c.metrics = c.read()
		c.readAt = time.Now()
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

// read queries the backlog. A query that fails leaves its series out of
// the scrape (Prometheus then shows them as absent), with a warning.
func (c *backlogCollector) read() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	var metrics []prometheus.Metric
	if backlog, err := c.db.JobBacklog(ctx); err != nil {
		c.logger.Warn("metrics: read the job backlog", "err", err)
	} else {
		byQueue := map[string]store.QueueBacklog{}
		for _, q := range c.queues {
			byQueue[q] = store.QueueBacklog{Queue: q}
		}
		for _, b := range backlog {
			byQueue[b.Queue] = b
		}
		for q, b := range byQueue {
			metrics = append(metrics,
				prometheus.MustNewConstMetric(c.jobsAvailable, prometheus.GaugeValue, float64(b.Available), q),
				prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, b.OldestAge.Seconds(), q))
		}
	}
	now := time.Now()
	if counts, err := c.db.Read().CountDueDeliveries(ctx, now, now.Add(-c.overdueAfter)); err != nil {
		c.logger.Warn("metrics: count the deliveries due", "err", err)
	} else {
		metrics = append(metrics,
			prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(counts.Due)),
			prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(counts.Overdue)))
	}
	return metrics
}

// pgxPoolCollector reports the PostgreSQL pool under the names that
// collectors.NewDBStatsCollector gives database/sql pools (db_name
// "postgres"), so that one dashboard serves both databases.
type pgxPoolCollector struct{ db *store.DB }

var pgxPoolDescs = struct {
	maxOpen, open, inUse, idle, waitCount, waitDuration *prometheus.Desc
}{
	maxOpen: prometheus.NewDesc("go_sql_max_open_connections", "Maximum number of open connections to the database.",
		nil, prometheus.Labels{"db_name": "postgres"}),
	open: prometheus.NewDesc("go_sql_open_connections", "The number of established connections both in use and idle.",
		nil, prometheus.Labels{"db_name": "postgres"}),
	inUse: prometheus.NewDesc("go_sql_in_use_connections", "The number of connections currently in use.",
		nil, prometheus.Labels{"db_name": "postgres"}),
	idle: prometheus.NewDesc("go_sql_idle_connections", "The number of idle connections.",
		nil, prometheus.Labels{"db_name": "postgres"}),
	waitCount: prometheus.NewDesc("go_sql_wait_count_total", "The total number of connections waited for.",
		nil, prometheus.Labels{"db_name": "postgres"}),
	waitDuration: prometheus.NewDesc("go_sql_wait_duration_seconds_total", "The total time blocked waiting for a new connection.",
		nil, prometheus.Labels{"db_name": "postgres"}),
}

func (pgxPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	d := pgxPoolDescs
	for _, desc := range []*prometheus.Desc{d.maxOpen, d.open, d.inUse, d.idle, d.waitCount, d.waitDuration} {
		ch <- desc
	}
}

func (c pgxPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s, d := c.db.PostgresPoolStat(), pgxPoolDescs
	ch <- prometheus.MustNewConstMetric(d.maxOpen, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(d.open, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(d.inUse, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(d.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	// Acquisitions that found no idle connection had to wait for one.
	ch <- prometheus.MustNewConstMetric(d.waitCount, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(d.waitDuration, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
}
