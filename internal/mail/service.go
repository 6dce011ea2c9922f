package mail

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/time/rate"

	"github.com/mailschool/mailschool/internal/store"
)

// Queue is the River queue that sends email.
const Queue = "mail"

// MaxAttempts is how often a message is tried before it counts as failed.
const MaxAttempts = 8

// QueueConfig is how the mail queue is worked. Sending waits on the network
// far more than it computes, so many jobs run at once; they share the SMTP
// transport's few connections.
var QueueConfig = river.QueueConfig{MaxWorkers: 50}

// FetchCooldown is the shortest pause between two fetches of jobs. River
// fetches at most MaxWorkers jobs at a time, so the pause caps throughput.
const FetchCooldown = 20 * time.Millisecond

// Config configures a Service.
type Config struct {
	From      string // the From header: "Name <address>"
	BaseURL   string
	Transport Transport
	// TransportName is "smtp" or "outbox"; the outbox marks messages
	// stored rather than sent.
	TransportName string
	// SendRate limits messages per second on this node; 0 means no limit.
	SendRate float64
	// RetryBase is the wait before the first retry; each retry doubles it,
	// up to an hour. Default one minute.
	RetryBase time.Duration
	// JobTimeout bounds each send job; DefaultJobTimeout when zero. A job
	// cut short hands the emails it did not try to jobs of their own.
	JobTimeout time.Duration
	Logger     *slog.Logger
	// Observer, when set, is told the outcome of every attempt to send.
	Observer Observer
	// ReturnPaths, when enabled (MAILSCHOOL_BOUNCE_DOMAIN), gives each
	// email an envelope sender of its own, which names it to bounces.
	ReturnPaths ReturnPaths
}

// RefusalRecorder is told of an email whose recipient the server refused
// for good (IsRecipientRefused: no such mailbox or domain), inside the
// transaction that marks it failed: the bounce rules count such a refusal
// as a hard bounce. An error undoes the
// record, and the email is tried again.
type RefusalRecorder func(ctx context.Context, q *store.Queries, m store.MailMessage, diagnostic string) error

// Observer is told what became of each attempt to send an email, for the
// metrics.
type Observer interface {
	// EmailAttempted reports an attempt's outcome as recorded: the
	// message's status afterwards (store.MailSent, MailStored, MailFailed,
	// or MailQueued for one to be tried again).
	EmailAttempted(kind string, status string)
	// SMTPSendTook reports how long the SMTP server took with one message.
	SMTPSendTook(d time.Duration)
}

// DefaultJobTimeout is how long a send job may run.
const DefaultJobTimeout = time.Minute

// recordPatience is how long a node keeps trying to record what became
// of an email it handed to the transport, while the database refuses
// (down, or its disk full): an email the server took and the node could
// not record is sent again later.
const recordPatience = 20 * time.Second

// handOffTimeout bounds handing a stopped batch's emails to jobs.
const handOffTimeout = 15 * time.Second

// HeldAtMost is how long a send job of a service with this JobTimeout
// (zero: the default) holds its emails at most: its timeout, then
// recording the sends under way and handing on the rest. A job running
// longer than that belongs to a node that died, and may be taken over
// (River's RescueStuckJobsAfter) without sending anything twice.
func HeldAtMost(jobTimeout time.Duration) time.Duration {
	return cmp.Or(jobTimeout, DefaultJobTimeout) + recordPatience + handOffTimeout
}

// RescueAfter is how long a job may run before River counts its node as
// dead and runs it again (RescueStuckJobsAfter): longer than any job of a
// live node runs, sends included (HeldAtMost), with room to spare.
var RescueAfter = HeldAtMost(0) + 25*time.Second

// Service renders, records and sends every email of mailschool.
type Service struct {
	db        *store.DB
	renderer  *Renderer
	transport Transport
	name      string
	limiter   *rate.Limiter
	// batchSending holds a slot for each email of a batch being sent and
	// recorded, on this node: see batchSendSlots.
	batchSending chan struct{}
	retryBase    time.Duration
	jobTimeout   time.Duration
	logger       *slog.Logger
	observer     Observer
	returnPaths  ReturnPaths
	refused      RefusalRecorder
	outcomes     outcomes
}

// NewService returns the mail service of db.
func NewService(db *store.DB, cfg Config) (*Service, error) {
	renderer, err := NewRenderer(cfg.From, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	limiter := rate.NewLimiter(rate.Inf, 1)
	if cfg.SendRate > 0 {
		limiter = rate.NewLimiter(rate.Limit(cfg.SendRate), max(1, int(cfg.SendRate)))
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{db: db, renderer: renderer, transport: cfg.Transport, name: cfg.TransportName,
		limiter: limiter, batchSending: make(chan struct{}, batchSendSlots), retryBase: cfg.RetryBase,
		jobTimeout: cmp.Or(cfg.JobTimeout, DefaultJobTimeout), logger: cfg.Logger, observer: cfg.Observer,
		returnPaths: cfg.ReturnPaths}, nil
}

// SetRefusalRecorder makes r hear of every email refused for good. Set it
// at start-up, before emails are sent.
func (s *Service) SetRefusalRecorder(r RefusalRecorder) { s.refused = r }

// ReturnPaths returns the service's return paths.
func (s *Service) ReturnPaths() ReturnPaths { return s.returnPaths }

// EnvelopeSender is the address an email goes out from in SMTP's MAIL
// FROM, where bounces return: its own return path when a bounce domain is
// set, the From address otherwise. Each attempt records the one it used
// as the message's Sender.
func (s *Service) EnvelopeSender(m store.MailMessage) string {
	if rp := s.returnPaths.For(m.ID, m.MessageID); rp != "" {
		return rp
	}
	return m.Sender
}

// Messages lists up to limit recorded messages without their source,
// newest first, below the id before (0: from the newest).
func (s *Service) Messages(ctx context.Context, before int64, limit int) ([]store.MailMessage, error) {
	return s.db.Read().ListMailMessages(ctx, before, limit)
}

// Message returns a recorded message with its source, taken apart for
// display; store.ErrNotFound when there is none.
func (s *Service) Message(ctx context.Context, id int64) (store.MailMessage, Parsed, error) {
	m, err := s.db.Read().MailMessageByID(ctx, id)
	if err != nil {
		return store.MailMessage{}, Parsed{}, err
	}
	p, err := Parse(m.Raw)
	if err != nil {
		return store.MailMessage{}, Parsed{}, fmt.Errorf("email %d: %w", id, err)
	}
	return m, p, nil
}

// Close closes the transport's connections.
func (s *Service) Close() error { return s.transport.Close() }

// Renderer returns the service's renderer.
func (s *Service) Renderer() *Renderer { return s.renderer }

// Enqueue renders e, records it and enqueues the job that sends it, all in
// q's transaction: the email goes out if and only if the change that caused
// it commits. Inside a batch's context (WithBatch) it joins the batch
// instead. It returns the id of the recorded message.
func (s *Service) Enqueue(ctx context.Context, q *store.Queries, e Email) (int64, error) {
	if b, ok := ctx.Value(batchKey{}).(*Batch); ok && b.service == s {
		return b.Add(ctx, q, e)
	}
	m, err := s.record(ctx, q, e)
	if err != nil {
		return 0, err
	}
	if _, err := q.Enqueue(ctx, SendArgs{MessageID: m.ID}, nil); err != nil {
		return 0, err
	}
	return m.ID, nil
}

func (s *Service) record(ctx context.Context, q *store.Queries, e Email) (store.MailMessage, error) {
	random := make([]byte, 16)
	rand.Read(random)
	messageID := newMessageID(e.Key, s.renderer.from, random)
	msg, err := s.renderer.Render(e, messageID, time.Now().UTC())
	if err != nil {
		return store.MailMessage{}, err
	}
	return q.CreateMailMessage(ctx, store.NewMailMessage{
		OrganizationID: nonZero(e.OrganizationID),
		EnrollmentID:   nonZero(e.EnrollmentID),
		Kind:           string(e.Kind),
		Sender:         s.renderer.from.Address,
		Recipient:      e.To,
		Subject:        msg.Subject,
		MessageID:      msg.MessageID,
		Raw:            msg.Bytes(),
	})
}

func nonZero(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// SendNow records e and sends it at once, without the job queue, for the
// sendtest command. It returns the message as recorded after the attempt.
func (s *Service) SendNow(ctx context.Context, e Email) (store.MailMessage, error) {
	var m store.MailMessage
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		m, err = s.record(ctx, q, e)
		return err
	})
	if err != nil {
		return store.MailMessage{}, err
	}
	sendErr := s.deliver(ctx, m.ID, true, time.Time{})
	m, err = s.db.Read().MailMessageByID(ctx, m.ID)
	if err != nil {
		return store.MailMessage{}, err
	}
	return m, sendErr
}

// waitingError stops the sending of an email that waits for an earlier
// one of its enrollment, until a time when that one may have gone out:
// when it is tried again after a failure, or, when it was never tried,
// in a moment.
type waitingError struct {
	id, waitsFor int64
	until        time.Time
}

func (e *waitingError) Error() string {
	return fmt.Sprintf("email %d waits for email %d of its enrollment", e.id, e.waitsFor)
}

func (s *Service) waitFor(ctx context.Context, m store.MailMessage) error {
	w := &waitingError{id: m.ID, waitsFor: m.WaitsFor}
	earlier, err := s.db.Read().MailMessageByID(ctx, m.WaitsFor)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if earlier.RetryAt != nil {
		w.until = *earlier.RetryAt
	}
	return w
}

// deliver sends one recorded message through the transport and records the
// outcome, unless it waits for an earlier one (a waitingError). lastTry
// marks a failure as final rather than to be retried at retryAt.
func (s *Service) deliver(ctx context.Context, id int64, lastTry bool, retryAt time.Time) error {
	m, err := s.db.Read().MailMessageByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted with its organization: nothing to send.
		return nil
	}
	if err != nil {
		return err
	}
	if m.Status != store.MailQueued {
		return nil // already sent, stored or given up: never twice
	}
	if m.WaitsFor != 0 {
		return s.waitFor(ctx, m)
	}
	_, sendErr, err := s.attempt(ctx, m, lastTry, retryAt, false)
	if err != nil {
		return errors.Join(sendErr, err)
	}
	if sendErr != nil {
		return fmt.Errorf("send email %d: %w", id, sendErr)
	}
	return nil
}

// attempt hands a queued message to the transport once and records the
// outcome; it returns the status recorded, the transport's error and any
// error recording it. lastTry marks a failure as final rather than to be
// retried; with retryJob, a failure to retry gets a send job of its own,
// in the transaction that records it.
func (s *Service) attempt(ctx context.Context, m store.MailMessage, lastTry bool, retryAt time.Time, retryJob bool) (status string, sendErr, err error) {
	if err := s.limiter.Wait(ctx); err != nil {
		return "", nil, err
	}
	start := time.Now()
	envelopeFrom := s.EnvelopeSender(m)
	providerID, sendErr := s.transport.Send(ctx, Envelope{From: envelopeFrom, To: []string{m.Recipient}}, m.Raw)
	if s.observer != nil && s.name == "smtp" {
		s.observer.SMTPSendTook(time.Since(start))
	}
	attempt := store.MailAttempt{Transport: s.name, ProviderMessageID: providerID, RetryAt: retryAt, Sender: envelopeFrom}
	switch {
	case sendErr == nil && s.name == "outbox":
		attempt.Status = store.MailStored
	case sendErr == nil:
		attempt.Status = store.MailSent
	case IsPermanent(sendErr) || lastTry:
		attempt.Status, attempt.Error = store.MailFailed, sendErr.Error()
	default:
		attempt.Status, attempt.Error = store.MailQueued, sendErr.Error()
	}
	refused := sendErr != nil && IsRecipientRefused(sendErr)
	if err := s.recordAttempt(ctx, m, attempt, retryJob, refused); err != nil {
		return "", sendErr, err
	}
	if s.observer != nil {
		s.observer.EmailAttempted(m.Kind, attempt.Status)
	}
	if sendErr != nil {
		s.logger.Warn("email not sent", "message", m.ID, "kind", m.Kind, "status", attempt.Status, "err", sendErr)
		return attempt.Status, sendErr, nil
	}
	s.logger.Info("email sent", "message", m.ID, "kind", m.Kind, "transport", s.name)
	return attempt.Status, nil, nil
}

// recordAttempt records the outcome of an attempt, even when ctx ended
// mid-send. An email refused for good (refused) is told to the refusal
// recorder in the same transaction; with retryJob, one to try again gets
// its send job there too.
//
// The outcomes of emails sent at the same time are recorded together:
// each is written with those that came while the one before was being
// written, in one transaction, so that a node sending many emails at once
// takes the database's writer once per group rather than once per email
// (on SQLite there is one writer, and delivery waits for it too). Each
// caller still returns only once its outcome is committed. A group that
// fails is tried again outcome by outcome, so that one outcome the
// database refuses holds up no other. A refusal is recorded on its own
// from the start: what it brings along (the bounce rules, which may block
// the address and end its enrollments) is work no other email should
// wait for.
func (s *Service) recordAttempt(ctx context.Context, m store.MailMessage, attempt store.MailAttempt, retryJob, refused bool) error {
	ctx = context.WithoutCancel(ctx)
	o := &outcome{message: m, attempt: attempt, retryJob: retryJob, refused: refused,
		done: make(chan error, 1), lead: make(chan struct{})}
	if refused {
		return s.recordAlone(ctx, o)
	}
	g := &s.outcomes
	g.mu.Lock()
	g.pending = append(g.pending, o)
	if g.writing {
		g.mu.Unlock()
		select {
		case err := <-o.done:
			if err == nil {
				return nil
			}
			return s.recordAlone(ctx, o)
		case <-o.lead: // the group before is written: this one writes the next
		}
	} else {
		g.writing = true
		g.mu.Unlock()
	}
	s.writeOutcomes(ctx)
	if err := <-o.done; err == nil {
		return nil
	}
	return s.recordAlone(ctx, o)
}

// outcome is an attempt to send an email waiting to be recorded.
type outcome struct {
	message           store.MailMessage
	attempt           store.MailAttempt
	retryJob, refused bool
	done              chan error    // the result of writing its group
	lead              chan struct{} // closed when its caller is to write the next group
}

// outcomes are the outcomes waiting for a group to be written; writing
// tells whether a caller is writing one.
type outcomes struct {
	mu      sync.Mutex
	pending []*outcome
	writing bool
}

// errGroupPanicked is what the outcomes of a group hear when writing it
// panicked: each is then recorded on its own.
var errGroupPanicked = errors.New("recording a group of outcomes panicked")

// writeOutcomes records every pending outcome in one transaction, tells
// each what came of it, and hands the writing of the next group to the
// first outcome that came meanwhile, if any: each caller writes at most
// one group, and no outcome waits on a caller that went on, even one
// whose write panicked.
func (s *Service) writeOutcomes(ctx context.Context) {
	g := &s.outcomes
	g.mu.Lock()
	group := g.pending
	g.pending = nil
	g.mu.Unlock()
	err := errGroupPanicked
	defer func() {
		for _, o := range group {
			o.done <- err
		}
		g.mu.Lock()
		if len(g.pending) > 0 {
			close(g.pending[0].lead)
		} else {
			g.writing = false
		}
		g.mu.Unlock()
	}()
	err = s.db.InTx(ctx, func(q *store.Queries) error { return s.recordOutcomes(ctx, q, group) })
}

// recordAlone records o in a transaction of its own, trying again for
// recordPatience while the database refuses: an outcome lost leaves a
// message the server took queued, to go out again.
func (s *Service) recordAlone(ctx context.Context, o *outcome) error {
	giveUp := time.Now().Add(recordPatience)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := s.db.InTx(ctx, func(q *store.Queries) error { return s.recordOutcomes(ctx, q, []*outcome{o}) })
		if err == nil || time.Now().Add(wait).After(giveUp) {
			return err
		}
		s.logger.Warn("recording an email's outcome failed; trying again", "message", o.message.ID, "status", o.attempt.Status, "err", err)
		time.Sleep(wait)
	}
}

// recordOutcomes records outcomes in q's transaction, with what each
// brings along: the refusal recorder's record, the retry's send job.
func (s *Service) recordOutcomes(ctx context.Context, q *store.Queries, list []*outcome) error {
	attempts := make([]store.RecordedAttempt, len(list))
	for i, o := range list {
		attempts[i] = store.RecordedAttempt{MessageID: o.message.ID, Attempt: o.attempt}
	}
	changed, err := q.RecordMailAttempts(ctx, attempts)
	if err != nil {
		return err
	}
	for i, o := range list {
		if !changed[i] {
			continue
		}
		if o.refused && s.refused != nil {
			if err := s.refused(ctx, q, o.message, o.attempt.Error); err != nil {
				return err
			}
		}
		if o.retryJob && o.attempt.Status == store.MailQueued {
			if _, err := q.Enqueue(ctx, SendArgs{MessageID: o.message.ID}, &river.InsertOpts{
				ScheduledAt: o.attempt.RetryAt,
				MaxAttempts: MaxAttempts - 1, // this was the first
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Batch gathers emails recorded in one transaction, to be sent by one job:
// for many emails at once, far cheaper than a job each.
type Batch struct {
	service *Service
	ids     []int64
}

// NewBatch returns an empty batch.
func (s *Service) NewBatch() *Batch { return &Batch{service: s} }

type batchKey struct{}

// WithBatch returns a context in which Enqueue adds emails to b: what a
// change records in the transaction that fills a batch (the completion
// email of a course whose last lesson the batch holds) goes out with the
// batch, after what was added before it.
func WithBatch(ctx context.Context, b *Batch) context.Context {
	return context.WithValue(ctx, batchKey{}, b)
}

// Add renders e and records it in q's transaction; Enqueue, in the same
// transaction, sends it with the rest. It returns the id of the recorded
// message.
func (b *Batch) Add(ctx context.Context, q *store.Queries, e Email) (int64, error) {
	m, err := b.service.record(ctx, q, e)
	if err != nil {
		return 0, err
	}
	b.ids = append(b.ids, m.ID)
	return m.ID, nil
}

// Enqueue enqueues the job that sends the batch's emails, in q's
// transaction: they go out if and only if it commits. An empty batch needs
// no job.
func (b *Batch) Enqueue(ctx context.Context, q *store.Queries) error {
	if len(b.ids) == 0 {
		return nil
	}
	_, err := q.Enqueue(ctx, SendBatchArgs{MessageIDs: b.ids}, nil)
	return err
}

// batchSenders is how many emails of one batch are read and sent at once:
// as many as the SMTP transport keeps connections by default. Reading a
// few at a time keeps only their sources in memory.
const batchSenders = 8

// batchSendSlots is how many emails of batches a node sends and records
// at once, whatever the number of batch jobs running: twice the SMTP
// transport's connections, so that some send while others are recorded.
// An email the server took but the node had not recorded when it died is
// sent again after a restart; without the bound, 50 jobs of 8 made that
// up to 400 on SQLite, where the records take turns.
const batchSendSlots = 2 * batchSenders

// sendBatch tries each message of a batch once, batchSenders at a time,
// and the messages to one recipient one after the other, in the order
// they were recorded (a course's items due together). A message that
// fails and may be retried gets a send job of its own; so does each one
// that must wait for an earlier email of its enrollment not sent yet.
// When the batch cannot go on (ctx ended: the job's timeout or the node
// stopping; or a message could not be read or its outcome recorded), the
// messages never tried get a send job each, so that nothing waits on
// this job's last attempts; only when that fails too does it return an
// error, for the job to run again, and a second run hands them on.
func (s *Service) sendBatch(ctx context.Context, ids []int64) error {
	waiting, err := s.trySendBatch(ctx, ids)
	if err == nil && waiting == 0 {
		return nil
	}
	handed, handErr := s.handOff(context.WithoutCancel(ctx), ids)
	switch {
	case handErr != nil:
		return fmt.Errorf("send batch of %d emails: %w", len(ids), errors.Join(err, handErr))
	case err != nil:
		s.logger.Warn("email batch stopped; its emails not tried yet got a job each", "emails", len(ids), "handed_off", handed, "err", err)
	default:
		s.logger.Info("emails that wait for earlier ones of their enrollment got a job each", "emails", len(ids), "handed_off", handed)
	}
	return nil
}

// trySendBatch sends the batch's emails that may go out, and counts those
// that must wait for an earlier email of their enrollment: one not sent
// by this batch, or one this batch could not send.
func (s *Service) trySendBatch(ctx context.Context, ids []int64) (waiting int, err error) {
	var (
		mu      sync.Mutex
		gone    = map[int64]bool{} // emails of the batch no longer queued
		stopped = map[int64]bool{} // enrollments whose next email must wait
		errs    []error
	)
	// mayGo says whether m may go out: it waits for no email, or for one
	// this batch finished, and no email of its enrollment before it in the
	// batch is still queued.
	mayGo := func(m store.MailMessage) bool {
		mu.Lock()
		defer mu.Unlock()
		if m.EnrollmentID == nil {
			return true
		}
		if stopped[*m.EnrollmentID] || (m.WaitsFor != 0 && !gone[m.WaitsFor]) {
			stopped[*m.EnrollmentID] = true
			waiting++
			return false
		}
		return true
	}
	done := func(m store.MailMessage, status string) {
		mu.Lock()
		defer mu.Unlock()
		if status != store.MailQueued {
			gone[m.ID] = true
		} else if m.EnrollmentID != nil {
			stopped[*m.EnrollmentID] = true
		}
	}
	for chunk := range slices.Chunk(ids, batchSenders) {
		if err := ctx.Err(); err != nil {
			return waiting, err
		}
		msgs, err := s.db.Read().MailMessagesToSend(ctx, chunk)
		if err != nil {
			return waiting, err
		}
		var wg sync.WaitGroup
		for _, queue := range byRecipient(msgs) {
			wg.Go(func() {
				for _, m := range queue {
					if !mayGo(m) {
						continue
					}
					status, err := s.attemptInBatch(ctx, m)
					if err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("email %d: %w", m.ID, err))
						mu.Unlock()
						return // later emails would overtake this one
					}
					done(m, status)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return waiting, err
		}
	}
	return waiting, nil
}

// handOff gives each message of ids never tried (or whose outcome could
// not be recorded) a send job of its own, in one transaction, and reports
// how many.
func (s *Service) handOff(ctx context.Context, ids []int64) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, handOffTimeout)
	defer cancel()
	var n int
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		left, err := q.MailMessagesToSend(ctx, ids)
		if err != nil {
			return err
		}
		jobs := make([]river.InsertManyParams, len(left))
		for i, m := range left {
			jobs[i] = river.InsertManyParams{Args: SendArgs{MessageID: m.ID}}
		}
		n = len(jobs)
		_, err = q.EnqueueMany(ctx, jobs)
		return err
	})
	return n, err
}

// attemptInBatch is attempt for an email of a batch, once a slot is free;
// it returns the status recorded.
func (s *Service) attemptInBatch(ctx context.Context, m store.MailMessage) (string, error) {
	select {
	case s.batchSending <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.batchSending }()
	status, _, err := s.attempt(ctx, m, false, s.nextRetry(1), true)
	return status, err
}

// byRecipient groups messages by recipient, each group in the order of
// msgs.
func byRecipient(msgs []store.MailMessage) [][]store.MailMessage {
	var queues [][]store.MailMessage
	index := map[string]int{}
	for _, m := range msgs {
		i, ok := index[m.Recipient]
		if !ok {
			i = len(queues)
			index[m.Recipient] = i
			queues = append(queues, nil)
		}
		queues[i] = append(queues[i], m)
	}
	return queues
}

// SendBatchArgs is the job that sends a batch of recorded messages.
type SendBatchArgs struct {
	MessageIDs []int64 `json:"message_ids"`
}

// Kind names the job for River.
func (SendBatchArgs) Kind() string { return "send_email_batch" }

// InsertOpts puts sending on the mail queue. Runs after the first only
// hand the emails on, which can fail only while the database does:
// retried for a day and more.
func (SendBatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 20}
}

type sendBatchWorker struct {
	river.WorkerDefaults[SendBatchArgs]
	service *Service
}

// Work sends the batch on the job's first run. A run after that (the job
// failed, or its node died and River rescued it) sends nothing itself: it
// gives the emails not tried yet a job each (unique per email), which may
// exist already, so that no email is sent by two jobs at once.
func (w *sendBatchWorker) Work(ctx context.Context, job *river.Job[SendBatchArgs]) error {
	if job.Attempt > 1 {
		_, err := w.service.handOff(ctx, job.Args.MessageIDs)
		return err
	}
	return w.service.sendBatch(ctx, job.Args.MessageIDs)
}

// NextRetry runs the job again soon: the run after a failure, or after
// its node died and River rescued the job, only hands its emails on. It
// backs off from a second, doubling, up to an hour.
func (w *sendBatchWorker) NextRetry(job *river.Job[SendBatchArgs]) time.Time {
	return time.Now().Add(min(time.Second<<min(job.Attempt-1, 16), time.Hour))
}

func (w *sendBatchWorker) Timeout(*river.Job[SendBatchArgs]) time.Duration {
	return w.service.jobTimeout
}

// SendArgs is the job that sends one recorded message.
type SendArgs struct {
	MessageID int64 `json:"message_id"`
}

// Kind names the job for River.
func (SendArgs) Kind() string { return "send_email" }

// InsertOpts puts sending on the mail queue, once per message.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AddWorkers registers the service's job workers.
func (s *Service) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &sendWorker{service: s})
	river.AddWorker(workers, &sendBatchWorker{service: s})
}

type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	service *Service
}

func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	err := w.service.deliver(ctx, job.Args.MessageID, job.Attempt >= job.MaxAttempts, w.service.nextRetry(job.Attempt))
	if waiting, ok := errors.AsType[*waitingError](err); ok {
		// Snoozing spends no attempt.
		return river.JobSnooze(waitingBackoff(job.JobRow, waiting.until))
	}
	if IsPermanent(err) {
		// Retrying cannot help; the failure is recorded on the message.
		return river.JobCancel(err)
	}
	return err
}

// NextRetry backs off exponentially from the service's retry base, up to
// an hour: a relay that refuses for a while gets room to recover.
func (w *sendWorker) NextRetry(job *river.Job[SendArgs]) time.Time {
	return w.service.nextRetry(job.Attempt)
}

func (s *Service) nextRetry(attempt int) time.Time {
	wait := s.retryBase << min(attempt-1, 16)
	return time.Now().Add(min(wait, time.Hour))
}

func (w *sendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return w.service.jobTimeout }

// waitingBackoff is how long a send job waits before it looks again at an
// email that waits for an earlier one: until a moment after the earlier
// one's retry; or, for one never tried (in a job about to run), a
// second, doubling with each look up to ten.
func waitingBackoff(job *rivertype.JobRow, retryAt time.Time) time.Duration {
	if wait := time.Until(retryAt); wait > 0 {
		return wait + time.Second
	}
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &meta) // River's own metadata; none means none
	return min(time.Second<<min(meta.Snoozes, 4), 10*time.Second)
}
