// Package delivery sends each active enrollment its course's content, one
// item after another, each after its waiting period.
//
// Every (enrollment, content item) pair has one delivery row, unique, that
// moves from scheduled to sent (or cancelled) exactly once, in the same
// transaction that records the item's email in the mail queue: an item is
// never emailed twice, and a crash loses nothing, because the job that
// works a delivery is enqueued in the transaction that schedules it.
package delivery

import (
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
)

// Queue is the River queue that works deliveries.
const Queue = "delivery"

// QueueConfig is how the delivery queue is worked: each job is a short
// transaction, and the email itself goes out on the mail queue. River
// fetches at most MaxWorkers jobs per mail.FetchCooldown: 10 workers
// capped a pass at 500 deliveries a second.
var QueueConfig = river.QueueConfig{MaxWorkers: 50}

// Engine schedules and works deliveries.
type Engine struct {
	db       *store.DB
	mail     *mail.Service
	learning *learning.Service
	logger   *slog.Logger
	now      func() time.Time
}

// New returns the engine and attaches it to the learning service, so that
// activating an enrollment schedules its first item and ending one cancels
// what is still scheduled.
func New(db *store.DB, mailer *mail.Service, l *learning.Service, logger *slog.Logger) *Engine {
	if logger == nil {
		logger = slog.Default()
	}
	e := &Engine{db: db, mail: mailer, learning: l, logger: logger, now: time.Now}
	l.OnActivate(e.scheduleFirst)
	l.OnEnd(e.cancelPending)
	l.SetDeliveryLister(e.list)
	return e
}

// AddWorkers registers the engine's job workers.
func (e *Engine) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &deliverWorker{engine: e})
	river.AddWorker(workers, &passWorker{engine: e})
}

// DeliverArgs is the job that works one delivery when it is due. The due
// time makes the job unique per scheduling: a copy of the job is not
// inserted twice, but a delivery scheduled again gets a new job.
type DeliverArgs struct {
	DeliveryID int64 `json:"delivery_id"`
	DueAt      int64 `json:"due_at"` // Unix microseconds
}

// Kind names the job for River.
func (DeliverArgs) Kind() string { return "deliver_content" }

// scheduleFirst schedules the first item of a newly active enrollment. An
// enrollment active again (unsubscribed, then enrolled again) goes on
// after the last item it was sent.
func (e *Engine) scheduleFirst(ctx context.Context, q *store.Queries, en store.Enrollment) error {
	last, err := q.LastSentPosition(ctx, en.OrganizationID, en.ID)
	if err != nil {
		return err
	}
	item, err := q.PublishedContentAfter(ctx, en.OrganizationID, en.CourseID, last)
	if errors.Is(err, store.ErrNotFound) {
		return nil // nothing (more) to send
	}
	if err != nil {
		return err
	}
	return e.schedule(ctx, q, en.OrganizationID, en.ID, item, e.now())
}

// schedule creates the delivery of item to an enrollment, due its waiting
// period after from, and enqueues the job that works it then.
func (e *Engine) schedule(ctx context.Context, q *store.Queries, orgID, enrollmentID int64, item store.ContentItem, from time.Time) error {
	due := from.Add(time.Duration(item.WaitingPeriodSeconds) * time.Second)
	id, scheduled, err := q.ScheduleDelivery(ctx, orgID, enrollmentID, item.ID, 1, due)
	if err != nil || !scheduled {
		return err
	}
	_, err = q.Enqueue(ctx, DeliverArgs{DeliveryID: id, DueAt: due.UnixMicro()}, deliverOpts(due))
	return err
}

// deliverOpts inserts a delivery's job on the delivery queue, due when the
// delivery is, once per delivery and due time. A job due already is
// inserted ready to run: River inserts any job with a ScheduledAt as
// scheduled, to be made available by its scheduler, every 5 seconds.
func deliverOpts(due time.Time) *river.InsertOpts {
	opts := &river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
	if due.After(time.Now()) {
		opts.ScheduledAt = due
	}
	return opts
}

func (e *Engine) cancelPending(ctx context.Context, q *store.Queries, en store.Enrollment) error {
	_, err := q.CancelEnrollmentDeliveries(ctx, en.OrganizationID, en.ID)
	return err
}

// list is what the enrollment page shows as sent and due.
func (e *Engine) list(ctx context.Context, q *store.Queries, en store.Enrollment) ([]learning.Delivery, error) {
	rows, err := q.EnrollmentDeliveries(ctx, en.OrganizationID, en.ID)
	if err != nil {
		return nil, err
	}
	list := make([]learning.Delivery, len(rows))
	for i, d := range rows {
		list[i] = learning.Delivery{Title: d.ContentTitle, Kind: d.ContentKind, Status: d.Status, ScheduledAt: d.DueAt, SentAt: d.SentAt}
	}
	return list, nil
}

// Deliver works one delivery: it sends the item's email, or cancels the
// delivery when the learner must no longer be mailed, and schedules what
// comes next. A delivery that is no longer scheduled is left alone, so a
// job run twice sends once.
func (e *Engine) Deliver(ctx context.Context, id int64) error {
	err := e.db.InTx(ctx, func(q *store.Queries) error {
		d, err := q.DeliveryForSending(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil // removed with its enrollment, course or organization
		}
		if err != nil {
			return err
		}
		if d.Status != store.DeliveryScheduled {
			return nil
		}
		if reason, err := stopReason(ctx, q, d); err != nil {
			return err
		} else if reason != "" {
			e.logger.Info("delivery cancelled", "delivery", id, "reason", reason)
			if err := q.CancelDelivery(ctx, id); err != nil {
				return err
			}
			if reason == reasonBlocked {
				// The address may receive nothing: the enrollment ends, and
				// once the block is lifted the person can enroll again and
				// go on where they stopped.
				_, err := q.EndEnrollment(ctx, d.OrganizationID, d.EnrollmentID, store.EnrollmentCancelled, e.now())
				return err
			}
			return nil
		}
		if d.ContentKind != "lesson" {
			// Quizzes are sent with their answer pages; until then the
			// delivery waits, scheduled.
			return nil
		}
		msgID, err := e.sendLesson(ctx, q, d)
		if err != nil {
			return err
		}
		if err := q.MarkDeliverySent(ctx, id, msgID); err != nil {
			return err
		}
		next, err := q.PublishedContentAfter(ctx, d.OrganizationID, d.CourseID, d.ContentPosition)
		if errors.Is(err, store.ErrNotFound) {
			// The last item is sent: the course is done.
			_, err := e.learning.Finish(ctx, q, d.OrganizationID, d.EnrollmentID, store.EnrollmentCompleted)
			return err
		}
		if err != nil {
			return err
		}
		// A lesson's waiting period counts from when the one before was sent.
		return e.schedule(ctx, q, d.OrganizationID, d.EnrollmentID, next, e.now())
	})
	if err != nil {
		return fmt.Errorf("deliver %d: %w", id, err)
	}
	return nil
}

// stopReason says why a delivery must not go out, or "" when it may.
func stopReason(ctx context.Context, q *store.Queries, d store.DueDelivery) (string, error) {
	switch {
	case d.EnrollmentStatus != "active":
		return "enrollment " + d.EnrollmentStatus, nil
	case !d.CourseEnabled:
		return "course disabled", nil
	case !d.OrganizationOn:
		return "organization inactive", nil
	}
	blocked, err := q.EmailBlocked(ctx, d.OrganizationID, d.LearnerEmail)
	if err != nil || !blocked {
		return "", err
	}
	return reasonBlocked, nil
}

const reasonBlocked = "address blocked"

func (e *Engine) sendLesson(ctx context.Context, q *store.Queries, d store.DueDelivery) (int64, error) {
	html, err := learning.RenderMarkdown(d.ContentBody)
	if err != nil {
		return 0, err
	}
	return e.mail.Enqueue(ctx, q, mail.Email{
		Kind:           mail.KindLesson,
		To:             d.LearnerEmail,
		OrganizationID: d.OrganizationID,
		Organization:   &mail.Branding{Name: d.OrganizationName},
		Unsubscribe:    &mail.Unsubscribe{URL: e.learning.UnsubscribeURL(store.Enrollment{ID: d.EnrollmentID, OrganizationID: d.OrganizationID})},
		ListID:         fmt.Sprintf("%s <course-%d.%s>", d.CourseTitle, d.CourseID, e.mail.Renderer().ListDomain()),
		// The same Message-ID for every attempt: the store refuses a
		// second email for one delivery.
		Key: fmt.Sprintf("delivery-%d", d.ID),
		Data: mail.Lesson{
			CourseTitle: d.CourseTitle,
			Title:       d.ContentTitle,
			HTML:        htmltemplate.HTML(html), // sanitized by RenderMarkdown
			Text:        learning.PlainText(d.ContentBody),
		},
	})
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	engine *Engine
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.engine.Deliver(ctx, job.Args.DeliveryID)
}
