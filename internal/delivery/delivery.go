// Package delivery sends each active enrollment its course's content, one
// item after another, each after its waiting period.
//
// Every (enrollment, content item, attempt) has one delivery row, unique,
// that moves from scheduled to sent (or cancelled) exactly once, in the
// same transaction that records the item's email in the mail queue: an
// item is never emailed twice, and a crash loses nothing, because the job
// that works a delivery is enqueued in the transaction that schedules it.
// A lesson is sent once, as attempt 1; a quiz waits for its answer
// (learning.Service.AnswerQuiz), which schedules what comes next through
// the engine: the next item, or the same quiz again as the next attempt.
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
// activating an enrollment schedules its first item, ending one cancels
// what is still scheduled, and answering a quiz schedules what follows.
func New(db *store.DB, mailer *mail.Service, l *learning.Service, logger *slog.Logger) *Engine {
	if logger == nil {
		logger = slog.Default()
	}
	e := &Engine{db: db, mail: mailer, learning: l, logger: logger, now: time.Now}
	l.OnActivate(e.scheduleFirst)
	l.OnEnd(e.cancelPending)
	l.SetDeliveryLister(e.list)
	l.SetScheduler(e.schedule)
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
// enrollment active again (unsubscribed, failed, then enrolled again) goes
// on after the last lesson it was sent or quiz it passed: a quiz it did
// not pass comes again, as a new attempt.
func (e *Engine) scheduleFirst(ctx context.Context, q *store.Queries, en store.Enrollment) error {
	last, err := q.LastDonePosition(ctx, en.OrganizationID, en.ID)
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
	attempt, err := learning.NextAttempt(ctx, q, en.OrganizationID, en.ID, item)
	if err != nil {
		return err
	}
	return e.schedule(ctx, q, en.OrganizationID, en.ID, item.ID, attempt, e.now().Add(waitingPeriod(item)))
}

func waitingPeriod(item store.ContentItem) time.Duration {
	return time.Duration(item.WaitingPeriodSeconds) * time.Second
}

// schedule creates the delivery of a content item to an enrollment as an
// attempt, due at a time, and enqueues the job that works it then. It is
// the learning service's Scheduler, for what follows an answered quiz.
func (e *Engine) schedule(ctx context.Context, q *store.Queries, orgID, enrollmentID, contentID int64, attempt int, due time.Time) error {
	id, scheduled, err := q.ScheduleDelivery(ctx, orgID, enrollmentID, contentID, attempt, due)
	if err != nil || !scheduled {
		return err
	}
	_, err = q.Enqueue(ctx, DeliverArgs{DeliveryID: id, DueAt: due.UnixMicro()}, deliverOpts(due, e.now()))
	return err
}

// deliverOpts inserts a delivery's job on the delivery queue, once per
// delivery and due time. A job with a time waits for River's scheduler
// (every few seconds), so only one due later gets it; one due now is
// worked at once.
func deliverOpts(due, now time.Time) *river.InsertOpts {
	opts := &river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
	if due.After(now) {
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
		list[i] = learning.Delivery{Title: d.ContentTitle, Kind: d.ContentKind, Status: d.Status, Attempt: d.Attempt, ScheduledAt: d.DueAt, SentAt: d.SentAt}
	}
	return list, nil
}

// Deliver works one delivery: it sends the item's email, or cancels the
// delivery when the learner must no longer be mailed. After a lesson it
// schedules what comes next; after a quiz the learner's answer does. A
// delivery that is no longer scheduled is left alone, so a job run twice
// sends once.
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
		if d.ContentKind == store.KindQuiz {
			msgID, err := e.sendQuiz(ctx, q, d)
			if err != nil {
				return err
			}
			// What follows waits for the answer.
			return q.MarkDeliverySent(ctx, id, msgID)
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
		// An item's waiting period counts from when the lesson before was sent.
		attempt, err := learning.NextAttempt(ctx, q, d.OrganizationID, d.EnrollmentID, next)
		if err != nil {
			return err
		}
		return e.schedule(ctx, q, d.OrganizationID, d.EnrollmentID, next.ID, attempt, e.now().Add(waitingPeriod(next)))
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
	return e.mail.Enqueue(ctx, q, e.courseEmail(d, mail.KindLesson, mail.Lesson{
		CourseTitle: d.CourseTitle,
		Title:       d.ContentTitle,
		HTML:        htmltemplate.HTML(html), // sanitized by RenderMarkdown
		Text:        learning.PlainText(d.ContentBody),
	}))
}

// sendQuiz emails the link to a quiz's page, which shows its questions.
func (e *Engine) sendQuiz(ctx context.Context, q *store.Queries, d store.DueDelivery) (int64, error) {
	item, err := q.ContentItem(ctx, d.OrganizationID, d.ContentID)
	if err != nil {
		return 0, err
	}
	attempt, err := learning.QuizAttemptNumber(ctx, q, d.OrganizationID, d.EnrollmentID, d.ContentID)
	if err != nil {
		return 0, err
	}
	return e.mail.Enqueue(ctx, q, e.courseEmail(d, mail.KindQuiz, mail.Quiz{
		CourseTitle:   d.CourseTitle,
		Title:         item.Title,
		Questions:     len(item.Questions),
		RequiredScore: item.RequiredScore,
		URL:           e.learning.QuizURL(d.ID),
		ExpiresAt:     e.now().Add(learning.QuizValidity),
		Attempt:       attempt,
		Attempts:      learning.MaxQuizAttempts,
	}))
}

// courseEmail is the email of a delivery: branded, with the unsubscribe
// link and headers, in the course's list.
func (e *Engine) courseEmail(d store.DueDelivery, kind mail.Kind, data any) mail.Email {
	return mail.Email{
		Kind:           kind,
		To:             d.LearnerEmail,
		OrganizationID: d.OrganizationID,
		Organization:   &mail.Branding{Name: d.OrganizationName},
		Unsubscribe:    &mail.Unsubscribe{URL: e.learning.UnsubscribeURL(store.Enrollment{ID: d.EnrollmentID, OrganizationID: d.OrganizationID})},
		ListID:         fmt.Sprintf("%s <course-%d.%s>", d.CourseTitle, d.CourseID, e.mail.Renderer().ListDomain()),
		// The same Message-ID for every try: the store refuses a second
		// email for one delivery.
		Key:  fmt.Sprintf("delivery-%d", d.ID),
		Data: data,
	}
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	engine *Engine
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.engine.Deliver(ctx, job.Args.DeliveryID)
}
