package mail

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
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
	Logger    *slog.Logger
}

// Service renders, records and sends every email of mailschool.
type Service struct {
	db        *store.DB
	renderer  *Renderer
	transport Transport
	name      string
	limiter   *rate.Limiter
	retryBase time.Duration
	logger    *slog.Logger
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
		limiter: limiter, retryBase: cfg.RetryBase, logger: cfg.Logger}, nil
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
// it commits. It returns the id of the recorded message.
func (s *Service) Enqueue(ctx context.Context, q *store.Queries, e Email) (int64, error) {
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
	messageID := e.Key + "@" + domainOf(s.renderer.from)
	if e.Key == "" {
		random := make([]byte, 16)
		rand.Read(random)
		messageID = newMessageID(s.renderer.from, random)
	}
	msg, err := s.renderer.Render(e, messageID, time.Now().UTC())
	if err != nil {
		return store.MailMessage{}, err
	}
	var org *int64
	if e.OrganizationID != 0 {
		org = &e.OrganizationID
	}
	return q.CreateMailMessage(ctx, store.NewMailMessage{
		OrganizationID: org,
		Kind:           string(e.Kind),
		Sender:         s.renderer.from.Address,
		Recipient:      e.To,
		Subject:        msg.Subject,
		MessageID:      msg.MessageID,
		Raw:            msg.Bytes(),
	})
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
	sendErr := s.deliver(ctx, m.ID, true)
	m, err = s.db.Read().MailMessageByID(ctx, m.ID)
	if err != nil {
		return store.MailMessage{}, err
	}
	return m, sendErr
}

// deliver sends one recorded message through the transport and records the
// outcome. lastTry marks a failure as final rather than to be retried.
func (s *Service) deliver(ctx context.Context, id int64, lastTry bool) error {
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
	if err := s.limiter.Wait(ctx); err != nil {
		return err
	}
	providerID, sendErr := s.transport.Send(ctx, Envelope{From: m.Sender, To: []string{m.Recipient}}, m.Raw)
	attempt := store.MailAttempt{Transport: s.name, ProviderMessageID: providerID}
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
	// Recorded even when ctx ended mid-send: the outcome must not be lost,
	// or a message the server took would stay queued and go out again.
	record := context.WithoutCancel(ctx)
	err = s.db.InTx(record, func(q *store.Queries) error {
		_, err := q.RecordMailAttempt(record, id, attempt)
		return err
	})
	if err != nil {
		return errors.Join(sendErr, err)
	}
	if sendErr != nil {
		s.logger.Warn("email not sent", "message", id, "kind", m.Kind, "status", attempt.Status, "err", sendErr)
		return fmt.Errorf("send email %d: %w", id, sendErr)
	}
	s.logger.Info("email sent", "message", id, "kind", m.Kind, "transport", s.name)
	return nil
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
}

type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	service *Service
}

func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	err := w.service.deliver(ctx, job.Args.MessageID, job.Attempt >= job.MaxAttempts)
	if IsPermanent(err) {
		// Retrying cannot help; the failure is recorded on the message.
		return river.JobCancel(err)
	}
	return err
}

// NextRetry backs off exponentially from the service's retry base, up to
// an hour: a relay that refuses for a while gets room to recover.
func (w *sendWorker) NextRetry(job *river.Job[SendArgs]) time.Time {
	wait := w.service.retryBase << min(job.Attempt-1, 16)
	return time.Now().Add(min(wait, time.Hour))
}

func (w *sendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return 2 * time.Minute }
