// Package mailbox reads the bounce mailbox (MAILSCHOOL_BOUNCE_MAILBOX)
// over IMAP or POP3 every minute, parses each email into bounce and
// complaint reports and hands them to a bounces.Recorder, then deletes
// the email, or moves it to a folder of processed ones.
package mailbox

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	netmail "net/mail"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/parse"
)

// Queue is the job queue of the poller's job.
const Queue = "bounce_mailbox"

// QueueConfig runs one poll at a time on each node.
var QueueConfig = river.QueueConfig{MaxWorkers: 1}

const (
	// DefaultInterval is how often the mailbox is read.
	DefaultInterval = time.Minute
	// DefaultBatch is how many emails one run reads at most; the rest
	// wait for the next run.
	DefaultBatch = 200
	// maxEmail is the largest email read whole; a larger one is logged
	// and removed unread.
	maxEmail = parse.MaxSize
	// dialTimeout bounds connecting to the server.
	dialTimeout = 30 * time.Second
	// failureLogEvery is how often the same connection failure is logged
	// again while it lasts.
	failureLogEvery = time.Hour
)

// Config configures a Poller.
type Config struct {
	// URL is MAILSCHOOL_BOUNCE_MAILBOX (see ParseURL).
	URL string
	// Recorder records each report found.
	Recorder bounces.Recorder
	Logger   *slog.Logger
	// Interval is how often the periodic job runs; 0: DefaultInterval.
	Interval time.Duration
	// Batch is how many emails one run reads at most; 0: DefaultBatch.
	Batch int
	// TLSConfig, when set, is used to connect (tests trust their
	// server's certificate with it); nil: the system's roots.
	TLSConfig *tls.Config
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Poller reads the bounce mailbox.
type Poller struct {
	settings  Settings
	recorder  bounces.Recorder
	logger    *slog.Logger
	interval  time.Duration
	batch     int
	tlsConfig *tls.Config
	now       func() time.Time

	mu sync.Mutex
	// The connection failure last logged, since when it lasts and when
	// it was logged: a mailbox down for a day is logged once an hour,
	// not every minute.
	failure       string
	failingSince  time.Time
	failureLogged time.Time
}

// New checks cfg and returns a Poller.
func New(cfg Config) (*Poller, error) {
	s, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("MAILSCHOOL_BOUNCE_MAILBOX: %w", err)
	}
	if cfg.Recorder == nil {
		return nil, errors.New("bounce mailbox: no recorder")
	}
	p := &Poller{
		settings:  s,
		recorder:  cfg.Recorder,
		logger:    cmp.Or(cfg.Logger, slog.Default()).With("component", "bounce_mailbox"),
		interval:  cmp.Or(cfg.Interval, DefaultInterval),
		batch:     cmp.Or(cfg.Batch, DefaultBatch),
		tlsConfig: cfg.TLSConfig,
		now:       cfg.Now,
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Result counts what one run did.
type Result struct {
	// Read is how many emails were read.
	Read int
	// Reports is how many reports were recorded.
	Reports int
	// Skipped is how many emails were no bounce, or could not be read:
	// logged and removed all the same.
	Skipped int
	// Kept is how many emails stay for the next run: recording one of
	// their reports failed.
	Kept int
}

// entry is one email in the mailbox: its UID (IMAP) or number (POP3),
// and its size.
type entry struct {
	id   uint32
	size int64
}

// session is a connection to the mailbox, logged in, its folder open.
type session interface {
	// list gives the first max emails.
	list(max int) ([]entry, error)
	// fetch hands each email's bytes to fn.
	fetch(ids []uint32, fn func(id uint32, raw []byte)) error
	// remove deletes the emails, or moves them to the processed folder.
	remove(ids []uint32) error
	close() error
}

func (p *Poller) dial(ctx context.Context) (session, error) {
	if p.settings.Protocol == "pop3" {
		return dialPOP3(ctx, p.settings, p.tlsConfig)
	}
	return dialIMAP(ctx, p.settings, p.tlsConfig)
}

// Poll reads up to a batch of emails, records the reports they hold and
// removes the emails processed: those recorded, and those that are no
// bounce or cannot be read (logged first). An email whose report could
// not be recorded stays for the next run. Reading the same email twice,
// as two nodes polling at once may, records it once: the recorder
// ignores a report whose source id it has.
func (p *Poller) Poll(ctx context.Context) (Result, error) {
	var res Result
	sess, err := p.dial(ctx)
	if errors.Is(err, errInUse) {
		p.logger.Debug("bounce mailbox: another node is reading it", "mailbox", p.settings.String())
		return res, nil
	}
	if err != nil {
		return res, err
	}
	closed := false
	defer func() {
		if !closed {
			sess.close()
		}
	}()
	entries, err := sess.list(p.batch)
	if err != nil {
		return res, err
	}
	var toFetch, processed []uint32
	for _, e := range entries {
		if e.size > maxEmail {
			p.logger.Warn("bounce mailbox: an email too large to be a bounce was removed unread",
				"mailbox", p.settings.String(), "id", e.id, "bytes", e.size)
			res.Skipped++
			processed = append(processed, e.id)
			continue
		}
		toFetch = append(toFetch, e.id)
	}
	err = sess.fetch(toFetch, func(id uint32, raw []byte) {
		res.Read++
		if p.process(ctx, id, raw, &res) {
			processed = append(processed, id)
		}
	})
	if err != nil {
		// Remove what was processed before the failure all the same.
		if rerr := sess.remove(processed); rerr != nil {
			return res, errors.Join(err, rerr)
		}
		return res, err
	}
	if err := sess.remove(processed); err != nil {
		return res, err
	}
	closed = true
	// POP3 deletes at QUIT: a failed close may leave the emails for the
	// next run, which records nothing twice.
	return res, sess.close()
}

// process parses one email and records its reports. It tells whether
// the email may be removed.
func (p *Poller) process(ctx context.Context, id uint32, raw []byte, res *Result) bool {
	reports, err := safeParse(raw)
	switch {
	case errors.Is(err, parse.ErrNotBounce):
		p.logger.Info("bounce mailbox: an email that is no bounce or complaint was removed",
			append(describe(raw), "mailbox", p.settings.String(), "id", id, "bytes", len(raw))...)
		res.Skipped++
		return true
	case err != nil:
		p.logger.Warn("bounce mailbox: an email that could not be read was removed",
			append(describe(raw), "mailbox", p.settings.String(), "id", id, "bytes", len(raw), "err", err)...)
		res.Skipped++
		return true
	}
	now := p.now().UTC()
	for _, r := range reports {
		// A date the email makes up, or none, is when it was read.
		if r.At.IsZero() || r.At.After(now.Add(time.Hour)) || r.At.Before(now.AddDate(0, 0, -30)) {
			r.At = now
		}
		if err := p.recorder.Record(ctx, r); err != nil {
			p.logger.Warn("bounce mailbox: a report could not be recorded; the email stays for the next run",
				"mailbox", p.settings.String(), "id", id, "recipient", r.Recipient, "err", err)
			res.Kept++
			return false
		}
		res.Reports++
	}
	return true
}

// safeParse is parse.Parse, with a panic taken for a malformed email: one
// email must not stop the mailbox being read.
func safeParse(raw []byte) (reports []bounces.Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			reports, err = nil, fmt.Errorf("%w: the parser failed: %v", parse.ErrMalformed, r)
		}
	}()
	return parse.Parse(raw)
}

// describe gives an email's From, Subject and Message-ID for the log, so
// that a removed email can be found (in the processed folder, or the
// server's logs), as much as can be read of them.
func describe(raw []byte) []any {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	var attrs []any
	for _, name := range []string{"From", "Subject", "Message-Id"} {
		v := msg.Header.Get(name)
		if decoded, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
			v = decoded
		}
		if v = strings.ToValidUTF8(v, "\uFFFD"); len(v) > 200 {
			v = v[:200]
		}
		attrs = append(attrs, strings.ToLower(name), v)
	}
	return attrs
}

// run is one run of the periodic job: a failure to reach the mailbox is
// logged (once an hour while it lasts) and tried again next run, rather
// than failing the job every minute.
func (p *Poller) run(ctx context.Context) {
	res, err := p.Poll(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down
		}
		if p.failingSince.IsZero() {
			p.failingSince = now
		}
		if err.Error() != p.failure || now.Sub(p.failureLogged) >= failureLogEvery {
			p.logger.Warn("bounce mailbox: could not be read; trying again every run",
				"mailbox", p.settings.String(), "err", err, "failing_since", p.failingSince, "every", p.interval)
			p.failure, p.failureLogged = err.Error(), now
		}
		return
	}
	if !p.failingSince.IsZero() {
		p.logger.Info("bounce mailbox: read again", "mailbox", p.settings.String(), "failed_for", now.Sub(p.failingSince).Round(time.Second))
		p.failure, p.failingSince, p.failureLogged = "", time.Time{}, time.Time{}
	}
	if res.Read > 0 || res.Skipped > 0 {
		p.logger.Info("bounce mailbox: read", "mailbox", p.settings.String(),
			"emails", res.Read, "reports", res.Reports, "skipped", res.Skipped, "kept", res.Kept)
	}
}

// PollArgs is the periodic job that reads the bounce mailbox.
type PollArgs struct{}

// Kind names the job for River.
func (PollArgs) Kind() string { return "bounce_mailbox_poll" }

// InsertOpts puts the job on the poller's own queue, which only nodes
// given the mailbox work (deliver --once, which works the mail queue,
// has no poller).
func (PollArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// AddWorkers registers the poller's job worker.
func (p *Poller) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &pollWorker{poller: p})
}

// PeriodicJobs reads the mailbox every interval, on the node River
// elects to run periodic jobs, and once when the job queue starts.
func (p *Poller) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(p.interval),
		func() (river.JobArgs, *river.InsertOpts) { return PollArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

type pollWorker struct {
	river.WorkerDefaults[PollArgs]
	poller *Poller
}

// Work reads the mailbox once; it never fails, see run.
func (w *pollWorker) Work(ctx context.Context, _ *river.Job[PollArgs]) error {
	w.poller.run(ctx)
	return nil
}
