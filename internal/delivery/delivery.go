// Package delivery sends each active enrollment its course's content, one
// item after another, each after its waiting period.
//
// Every (enrollment, content item, attempt) has one delivery row, unique,
// that moves from scheduled (and sending, once a pass has handed it to a
// job) to sent (or cancelled) exactly once, in the
// same transaction that records the item's email in the mail queue: an
// item is never emailed twice. A crash loses nothing: a delivery due
// before the next pass gets its job in the transaction that schedules it,
// and the pass hands the others to jobs, many per job, in the transaction
// that marks them sending.
// A lesson is sent once, as attempt 1; a quiz waits for its answer
// (learning.Service.AnswerQuiz), which schedules what comes next through
// the engine: the next item, or the same quiz again as the next attempt.
package delivery

import (
	"cmp"
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

// QueueConfig is how the delivery queue is worked: each job is one
// transaction, and the emails go out on the mail queue. A pass's jobs work
// JobBatch deliveries each, and more of them at once only queue for the
// database: with 50, the transactions that record sent emails waited
// behind them, and sending started only once every delivery was worked.
// River fetches at most MaxWorkers jobs per mail.FetchCooldown, which caps
// deliveries with a job of their own at 400 a second.
var QueueConfig = river.QueueConfig{MaxWorkers: 8}

// Config configures an Engine.
type Config struct {
	// PassInterval is how often the periodic pass runs; 0 means
	// DefaultPassInterval. A delivery due sooner than one interval after
	// it is scheduled gets a job of its own at its time; the pass finds
	// the others, within one interval of their time.
	PassInterval time.Duration
	// JobTimeout bounds each job of the engine (a pass, or working a batch
	// of deliveries in one transaction); DefaultJobTimeout when zero.
	JobTimeout time.Duration
	Logger     *slog.Logger
}

// DefaultJobTimeout is how long a delivery job may run. A batch takes
// well under a second; a pass cut short leaves the rest to the next.
const DefaultJobTimeout = time.Minute

// Engine schedules and works deliveries.
type Engine struct {
	db           *store.DB
	mail         *mail.Service
	learning     *learning.Service
	passInterval time.Duration
	jobTimeout   time.Duration
	logger       *slog.Logger
	now          func() time.Time
	render       func(body string) (learning.Rendered, error) // learning.RenderLesson
}

// New returns the engine and attaches it to the learning service, so that
// activating an enrollment schedules its first item, ending one cancels
// what is still to be sent, and answering a quiz schedules what follows.
func New(db *store.DB, mailer *mail.Service, l *learning.Service, cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PassInterval <= 0 {
		cfg.PassInterval = DefaultPassInterval
	}
	e := &Engine{db: db, mail: mailer, learning: l, passInterval: cfg.PassInterval, jobTimeout: cmp.Or(cfg.JobTimeout, DefaultJobTimeout),
		logger: cfg.Logger, now: time.Now, render: learning.RenderLesson}
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

// DeliverArgs is the job that works deliveries: one when it is due, or
// many that a pass found due. A job for one carries its due time, which
// makes the job unique per scheduling: a copy of the job is not inserted
// twice, but a delivery scheduled again gets a new job.
type DeliverArgs struct {
	DeliveryIDs []int64 `json:"delivery_ids"`
	DueAt       int64   `json:"due_at,omitempty"` // Unix microseconds, for one delivery
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
// attempt, due at a time, and, when it is due before the next pass could
// find it, enqueues the job that works it then. It is the learning
// service's Scheduler, for what follows an answered quiz.
func (e *Engine) schedule(ctx context.Context, q *store.Queries, orgID, enrollmentID, contentID int64, attempt int, due time.Time) error {
	id, scheduled, err := q.ScheduleDelivery(ctx, orgID, enrollmentID, contentID, attempt, due)
	if err != nil || !scheduled {
		return err
	}
	now := e.now()
	if due.After(now.Add(e.passInterval)) {
		// A pass will find it: a job per delivery due days ahead cost
		// more than everything else in sending it.
		return nil
	}
	_, err = q.Enqueue(ctx, oneDelivery(id, due), deliverOpts(due, now))
	return err
}

func oneDelivery(id int64, due time.Time) DeliverArgs {
	return DeliverArgs{DeliveryIDs: []int64{id}, DueAt: due.UnixMicro()}
}

// deliverOpts inserts the job of one delivery on the delivery queue, once
// per delivery and due time. A job with a time waits for River's
// scheduler (every few seconds), so only one due later gets it; one due
// now is worked at once.
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
		list[i] = learning.Delivery{ContentID: d.ContentID, Title: d.ContentTitle, Kind: d.ContentKind, Status: d.Status, Attempt: d.Attempt, ScheduledAt: d.DueAt, SentAt: d.SentAt}
	}
	return list, nil
}

// Deliver works one delivery, as DeliverBatch does.
func (e *Engine) Deliver(ctx context.Context, id int64) error {
	return e.DeliverBatch(ctx, []int64{id})
}

// DeliverBatch works deliveries, as deliverBatch does, whatever their due
// time: for the deliver command, which found them due, and for tests.
func (e *Engine) DeliverBatch(ctx context.Context, ids []int64) error {
	return e.deliverBatch(ctx, ids, anyDue)
}

// workable says whether a job may work a delivery still to be worked.
type workable func(store.DueDelivery) bool

func anyDue(store.DueDelivery) bool { return true }

// deliverBatch works deliveries in one transaction: it records each one's
// email, or cancels the delivery when the learner must no longer be
// mailed, and enqueues one job that sends the emails. After a lesson it
// schedules what comes next; after a quiz the learner's answer does. A
// delivery no longer to be worked, or one that may not say, is left
// alone, so a job run twice sends once. When the transaction fails, each
// delivery is worked in a transaction of its own, so that one that cannot
// be worked holds up none of the others.
func (e *Engine) deliverBatch(ctx context.Context, ids []int64, may workable) error {
	err := e.deliverRendered(ctx, ids, may)
	if err == nil || len(ids) == 1 || ctx.Err() != nil {
		return err
	}
	e.logger.Warn("delivery batch failed, working its deliveries one by one", "deliveries", len(ids), "err", err)
	var errs []error
	for _, id := range ids {
		if err := e.deliverRendered(ctx, []int64{id}, may); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errNotRendered stops a delivery transaction that would send a lesson
// not rendered before it: one changed since, say.
var errNotRendered = errors.New("lesson not rendered before the transaction")

// renderTries is how many times deliverRendered renders and tries again
// when a lesson changed in between.
const renderTries = 3

// deliverRendered renders the lessons that deliveries send, and then works
// the deliveries in one transaction, which renders no Markdown: on SQLite
// the transaction holds the only write connection, which every other
// write of every organization waits for. When a lesson changed in
// between, it renders and tries again.
func (e *Engine) deliverRendered(ctx context.Context, ids []int64, may workable) error {
	var err error
	for range renderTries {
		var rendered lessons
		if rendered, err = e.renderLessons(ctx, ids, may); err != nil {
			return err
		}
		err = e.db.InTx(ctx, func(q *store.Queries) error { return e.deliverIn(ctx, q, ids, may, rendered) })
		if !errors.Is(err, errNotRendered) {
			return err
		}
	}
	return err
}

// lessons are the renderings of lesson bodies, by body.
type lessons map[string]learning.Rendered

// renderLessons renders, outside any transaction, the lessons that working
// deliveries would send: each one's own lesson, and the lessons without a
// waiting period after it, which go out with it.
func (e *Engine) renderLessons(ctx context.Context, ids []int64, may workable) (lessons, error) {
	q := e.db.Read()
	found, err := q.DeliveriesForSending(ctx, ids)
	if err != nil {
		return nil, err
	}
	rendered := lessons{}
	render := func(body string) error {
		if _, ok := rendered[body]; ok {
			return nil
		}
		r, err := e.render(body)
		if err != nil {
			return err
		}
		rendered[body] = r
		return nil
	}
	followed := map[position]bool{}
	for _, d := range found {
		if d.ContentKind != store.KindLesson || !may(d) || stopReason(d) != "" || d.OrganizationSuspended ||
			(d.Status != store.DeliveryScheduled && d.Status != store.DeliverySending) {
			continue
		}
		if err := render(d.ContentBody); err != nil {
			return nil, fmt.Errorf("render the lesson of delivery %d: %w", d.ID, err)
		}
		for at := (position{d.CourseID, d.ContentPosition}); !followed[at]; {
			followed[at] = true
			next, err := q.PublishedContentAfter(ctx, d.OrganizationID, at.course, at.at)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				return nil, err
			}
			if next.WaitingPeriodSeconds > 0 || next.Kind != store.KindLesson {
				break
			}
			if err := render(next.Body); err != nil {
				return nil, fmt.Errorf("render lesson %d: %w", next.ID, err)
			}
			at.at = next.Position
		}
	}
	return rendered, nil
}

// deliverIn works deliveries in q's transaction; their emails go out with
// one job. A delivery not found was removed with its enrollment, course or
// organization.
func (e *Engine) deliverIn(ctx context.Context, q *store.Queries, ids []int64, may workable, rendered lessons) error {
	found, err := q.LockDeliveriesForSending(ctx, ids)
	if err != nil {
		return err
	}
	w := &batchWork{emails: e.mail.NewBatch(), next: map[position]nextItem{}, lessons: rendered}
	// Emails the learning service records meanwhile (a course's completion)
	// follow the lessons in the batch.
	ctx = mail.WithBatch(ctx, w.emails)
	for _, d := range found {
		if !may(d) {
			continue
		}
		if err := e.deliverOne(ctx, q, w, d); err != nil {
			return fmt.Errorf("deliver %d: %w", d.ID, err)
		}
	}
	if err := w.countReceived(ctx, q); err != nil {
		return err
	}
	return w.emails.Enqueue(ctx, q)
}

// received counts an item sent to an enrollment for the first time, for
// the course report's funnel.
func (w *batchWork) received(d store.DueDelivery) {
	if d.Attempt != 1 {
		return
	}
	if w.receivedBy == nil {
		w.receivedBy = map[itemOf]int{}
	}
	w.receivedBy[itemOf{d.OrganizationID, d.CourseID, d.ContentID}]++
}

// countReceived adds the batch's first sends to the items' counters,
// which the store writes as the batch's transaction commits.
func (w *batchWork) countReceived(ctx context.Context, q *store.Queries) error {
	for it, n := range w.receivedBy {
		if err := q.CountItem(ctx, it.org, it.course, it.content, learning.ItemReceived, n); err != nil {
			return err
		}
	}
	return nil
}

// batchWork is what the deliveries worked in one transaction share: the
// batch of their emails, the item that follows each place in a course,
// looked up once, and the lessons rendered before the transaction.
type batchWork struct {
	emails     *mail.Batch
	next       map[position]nextItem
	lessons    lessons
	receivedBy map[itemOf]int // first sends of each item
}

type itemOf struct{ org, course, content int64 }

type position struct {
	course int64
	at     int
}

type nextItem struct {
	item store.ContentItem
	err  error // store.ErrNotFound after the last
}

func (w *batchWork) nextAfter(ctx context.Context, q *store.Queries, d store.DueDelivery) (store.ContentItem, error) {
	at := position{d.CourseID, d.ContentPosition}
	next, ok := w.next[at]
	if !ok {
		next.item, next.err = q.PublishedContentAfter(ctx, d.OrganizationID, d.CourseID, d.ContentPosition)
		w.next[at] = next
	}
	return next.item, next.err
}

func (e *Engine) deliverOne(ctx context.Context, q *store.Queries, w *batchWork, d store.DueDelivery) error {
	if d.Status != store.DeliveryScheduled && d.Status != store.DeliverySending {
		return nil
	}
	if reason := stopReason(d); reason != "" {
		e.logger.Info("delivery cancelled", "delivery", d.ID, "reason", reason)
		if err := q.CancelDelivery(ctx, d.ID); err != nil {
			return err
		}
		if reason == reasonBlocked {
			// The address may receive nothing: the enrollment ends, and
			// once the block is lifted the person can enroll again and
			// go on where they stopped.
			_, err := e.learning.CancelBlocked(ctx, q, d.OrganizationID, d.EnrollmentID, e.now())
			return err
		}
		return nil
	}
	if d.OrganizationSuspended {
		// Held until the organization is resumed, which schedules it
		// again: the suspension may have committed after the pass
		// handed it to this job, or after the job was inserted.
		e.logger.Info("delivery held", "delivery", d.ID, "reason", "organization suspended")
		return q.HoldDelivery(ctx, d.ID)
	}
	if d.ContentKind == store.KindQuiz {
		msgID, err := e.sendQuiz(ctx, q, w.emails, d)
		if err != nil {
			return err
		}
		// What follows waits for the answer.
		w.received(d)
		return q.MarkDeliverySent(ctx, d.ID, msgID)
	}
	msgID, err := e.sendLesson(ctx, q, w, d)
	if err != nil {
		return err
	}
	if err := q.MarkDeliverySent(ctx, d.ID, msgID); err != nil {
		return err
	}
	w.received(d)
	next, err := w.nextAfter(ctx, q, d)
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
	due := e.now().Add(waitingPeriod(next))
	if next.WaitingPeriodSeconds > 0 {
		return e.schedule(ctx, q, d.OrganizationID, d.EnrollmentID, next.ID, attempt, due)
	}
	// Due at once: it goes out now, with its email after this one's in the
	// same batch, which sends a learner's emails one after the other. With
	// a job of its own, it could overtake this one.
	id, scheduled, err := q.ScheduleDelivery(ctx, d.OrganizationID, d.EnrollmentID, next.ID, attempt, due)
	if err != nil || !scheduled {
		return err
	}
	following, err := q.LockDeliveriesForSending(ctx, []int64{id})
	if err != nil {
		return err
	}
	for _, f := range following {
		if err := e.deliverOne(ctx, q, w, f); err != nil {
			return fmt.Errorf("deliver %d: %w", f.ID, err)
		}
	}
	return nil
}

// stopReason says why a delivery must not go out, or "" when it may.
func stopReason(d store.DueDelivery) string {
	switch {
	case d.EnrollmentStatus != "active":
		return "enrollment " + d.EnrollmentStatus
	case !d.CourseEnabled:
		return "course disabled"
	case !d.OrganizationOn:
		return "organization inactive"
	case d.LearnerBlocked:
		return reasonBlocked
	}
	return ""
}

const reasonBlocked = "address blocked"

func (e *Engine) sendLesson(ctx context.Context, q *store.Queries, w *batchWork, d store.DueDelivery) (int64, error) {
	lesson, ok := w.lessons[d.ContentBody]
	if !ok {
		return 0, fmt.Errorf("lesson %d: %w", d.ContentID, errNotRendered)
	}
	return w.emails.Add(ctx, q, e.courseEmail(d, mail.KindLesson, mail.Lesson{
		CourseTitle: d.CourseTitle,
		Title:       d.ContentTitle,
		HTML:        htmltemplate.HTML(lesson.HTML), // sanitized by RenderLesson
		Text:        lesson.Text,
	}))
}

// sendQuiz emails the link to a quiz's page, which shows its questions.
func (e *Engine) sendQuiz(ctx context.Context, q *store.Queries, emails *mail.Batch, d store.DueDelivery) (int64, error) {
	item, err := q.ContentItem(ctx, d.OrganizationID, d.ContentID)
	if err != nil {
		return 0, err
	}
	attempt, err := learning.QuizAttemptNumber(ctx, q, d.OrganizationID, d.EnrollmentID, d.ContentID)
	if err != nil {
		return 0, err
	}
	return emails.Add(ctx, q, e.courseEmail(d, mail.KindQuiz, mail.Quiz{
		CourseTitle:   d.CourseTitle,
		Title:         item.Title,
		Questions:     len(item.Questions),
		RequiredScore: item.RequiredScore,
		URL:           e.learning.QuizURL(d.ID, d.LinkKey),
		ExpiresAt:     e.now().Add(learning.QuizValidity),
		Attempt:       attempt,
		Attempts:      learning.MaxQuizAttempts,
	}))
}

// courseEmail is the email of a delivery: branded and signed as the
// organization chose, with the unsubscribe link and headers, in the
// course's list.
func (e *Engine) courseEmail(d store.DueDelivery, kind mail.Kind, data any) mail.Email {
	return mail.Email{
		Kind:           kind,
		To:             d.LearnerEmail,
		OrganizationID: d.OrganizationID,
		Organization:   &mail.Branding{Name: d.OrganizationName},
		Sender:         mail.OrganizationSender(d.OrganizationSender),
		Unsubscribe:    &mail.Unsubscribe{URL: e.learning.UnsubscribeURL(store.Enrollment{ID: d.EnrollmentID, LinkKey: d.LinkKey})},
		List:           &mail.List{Labels: []string{d.CourseSlug, d.OrganizationSlug}, Description: d.CourseTitle},
		// The same Message-ID for every try: the store refuses a second
		// email for one delivery.
		Key:          fmt.Sprintf("delivery-%d", d.ID),
		EnrollmentID: d.EnrollmentID,
		Data:         data,
	}
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	engine *Engine
}

// Work works the job's deliveries that are still its to work: a job of
// one delivery, those still due at the time it was made for; a pass's job,
// those still sending. A delivery cancelled and scheduled again meanwhile
// is due at its new time, and has a job of its own or waits for a pass.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	may := func(d store.DueDelivery) bool { return d.Status == store.DeliverySending }
	if job.Args.DueAt != 0 {
		may = func(d store.DueDelivery) bool { return d.DueAt.UnixMicro() == job.Args.DueAt }
	}
	return w.engine.deliverBatch(ctx, job.Args.DeliveryIDs, may)
}

func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return w.engine.jobTimeout }
