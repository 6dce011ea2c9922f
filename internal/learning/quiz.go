package learning

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Rules of quizzes.
const (
	// QuizValidity is how long a quiz link works after its email was
	// sent, unless it is answered before.
	QuizValidity = 30 * 24 * time.Hour
	// QuizRetryDelay is when a quiz comes again after a failed attempt.
	QuizRetryDelay = 24 * time.Hour
	// MaxQuizAttempts is how often a learner may take a quiz in one run
	// of a course (from the enrollment's last activation): failing the
	// last attempt ends the enrollment as failed.
	MaxQuizAttempts = 2
)

// Errors of quiz links.
var (
	ErrQuizLinkInvalid = problem.New(problem.NotFound, "quiz_link_invalid",
		"This quiz link is not valid. Check that you copied all of it from the email.")
	ErrQuizLinkExpired = problem.New(problem.Gone, "quiz_link_expired",
		"This quiz link has expired: a quiz can be answered for 30 days after its email was sent.")
	ErrQuizLinkReplaced = problem.New(problem.Gone, "quiz_link_replaced",
		"A newer email of this quiz replaced this link: answer the quiz from the newest one.")
	ErrQuizClosed = problem.New(problem.Gone, "quiz_closed",
		"This quiz is closed: the course has ended for this address.")
	ErrQuizAnswerUnknown = problem.New(problem.Invalid, "quiz_answer_unknown",
		"These answers do not belong to this quiz; it may have changed since the page was opened. Reload the page and answer again.")
)

// Scheduler creates the delivery of a content item to an enrollment as
// the given attempt, due at a time, together with the job that sends it
// then, in q's transaction. The delivery engine provides it.
type Scheduler func(ctx context.Context, q *store.Queries, orgID, enrollmentID, contentID int64, attempt int, due time.Time) error

// SetScheduler makes answered quizzes schedule what comes next with f:
// the delivery engine owns deliveries. Set it at start-up, before the
// service is used; without one, answering a quiz fails.
func (s *Service) SetScheduler(f Scheduler) { s.scheduler = f }

// QuizPath is where the link of a quiz email leads.
func QuizPath(deliveryID int64, signature string) string {
	return "/email-learning/public/quizzes/" + strconv.FormatInt(deliveryID, 10) + "/" + signature + "/"
}

// QuizURL is the absolute link of a quiz email: the page of one delivery,
// signed like unsubscribe links with the link key of the delivery's
// enrollment (nothing stored), so it opens that delivery's questions and
// no other.
func (s *Service) QuizURL(deliveryID int64, linkKey string) string {
	return s.baseURL + QuizPath(deliveryID, s.sign("quiz", deliveryID, linkKey))
}

// NextAttempt is the attempt that a new delivery of an item to an
// enrollment takes. A lesson goes out once, as attempt 1. A quiz takes the
// attempt of its last delivery when that one was never sent (scheduled,
// sending, or cancelled and scheduled again), else the one after it: a quiz sent
// before the enrollment ended, or failed in an earlier run, is sent anew.
func NextAttempt(ctx context.Context, q *store.Queries, orgID, enrollmentID int64, item store.ContentItem) (int, error) {
	if item.Kind != store.KindQuiz {
		return 1, nil
	}
	last, err := q.LastDelivery(ctx, orgID, enrollmentID, item.ID)
	if errors.Is(err, store.ErrNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	if last.Status == store.DeliveryScheduled || last.Status == store.DeliverySending || last.Status == store.DeliveryCancelled {
		return last.Attempt, nil
	}
	return last.Attempt + 1, nil
}

// QuizAttemptNumber is which attempt of the current run of the course
// the next answer of an enrollment to a quiz is: 1, plus the failed
// answers to it since the enrollment was last activated. An enrollment
// that failed and is enrolled again has MaxQuizAttempts afresh.
func QuizAttemptNumber(ctx context.Context, q *store.Queries, orgID, enrollmentID, contentID int64) (int, error) {
	e, err := q.Enrollment(ctx, orgID, enrollmentID)
	if err != nil {
		return 0, err
	}
	var since time.Time
	if e.ActivatedAt != nil {
		since = *e.ActivatedAt
	}
	n, err := q.CountFailedQuizAttempts(ctx, orgID, enrollmentID, contentID, since)
	if err != nil {
		return 0, err
	}
	return n + 1, nil
}

// QuizNext says what happens after an answered quiz.
type QuizNext string

const (
	QuizNextItem      QuizNext = "next"      // the next lesson or quiz is due at NextAt
	QuizNextRetry     QuizNext = "retry"     // the quiz comes again at NextAt
	QuizNextSent      QuizNext = "sent"      // what came next was emailed already
	QuizNextCompleted QuizNext = "completed" // the course is completed
	QuizNextFailed    QuizNext = "failed"    // the last attempt failed: the course has ended
	QuizNextEnded     QuizNext = "ended"     // the enrollment ended otherwise
)

// QuizResult is an answered quiz: the stored answer and what follows.
type QuizResult struct {
	store.QuizAttempt
	RequiredScore int
	Next          QuizNext
	NextAt        time.Time // for QuizNextItem and QuizNextRetry
	NextTitle     string    // for QuizNextItem
	NextKind      string    // for QuizNextItem: lesson or quiz
}

// QuizPage is what a quiz link shows: the questions, or once answered,
// the result.
type QuizPage struct {
	DeliveryID       int64
	OrganizationID   int64
	OrganizationName string
	CourseTitle      string
	LearnerEmail     string
	Title            string
	RequiredScore    int
	// Questions are the quiz's questions and answers in order, without
	// which answers are correct.
	Questions []store.QuizQuestion
	Attempt   int // of the current run: 1, or 2 for the retry
	Attempts  int // MaxQuizAttempts
	ExpiresAt time.Time
	// Result is set when the quiz was answered from this link.
	Result *QuizResult
}

// CheckQuiz returns the page of a quiz link without changing anything:
// the questions, or the result when it was answered. A link that was
// never valid gives ErrQuizLinkInvalid; one that no longer is (expired,
// replaced by a newer email, or the enrollment ended) a Gone error, with
// the page's organization and course still set.
func (s *Service) CheckQuiz(ctx context.Context, deliveryID int64, signature string) (QuizPage, error) {
	q := s.db.Read()
	d, err := s.quizDelivery(ctx, q, deliveryID, signature)
	if err != nil {
		return QuizPage{}, err
	}
	return s.quizPage(ctx, q, d, s.now().UTC())
}

// AnswerQuiz records the answers chosen on a quiz link's page (answer
// ids by question id), scores them and acts on the score, in one
// transaction that holds the enrollment's lock:
//   - pass: the next published item is scheduled after its waiting
//     period, counted from now; after the last item the enrollment is
//     completed;
//   - fail, with attempts left: the quiz is scheduled again, due in
//     QuizRetryDelay;
//   - fail on the last attempt: the enrollment ends as failed, and the
//     learner gets a course_failed email.
//
// A link is answered once: answering again, even concurrently, changes
// nothing and returns the recorded result. Ids that are not answers of
// the quiz's questions give ErrQuizAnswerUnknown and record nothing.
func (s *Service) AnswerQuiz(ctx context.Context, deliveryID int64, signature string, chosen map[int64][]int64) (QuizPage, error) {
	at := s.now().UTC()
	var p QuizPage
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		d, err := s.quizDelivery(ctx, q, deliveryID, signature)
		if err != nil {
			return err
		}
		if _, err := q.LockEnrollment(ctx, d.OrganizationID, d.EnrollmentID); err != nil {
			return err
		}
		// Read again under the lock: a concurrent answer may have
		// committed meanwhile.
		if d, err = q.DeliveryForSending(ctx, deliveryID); err != nil {
			return err
		}
		if p, err = s.quizPage(ctx, q, d, at); err != nil || p.Result != nil {
			return err
		}
		item, err := q.ContentItem(ctx, d.OrganizationID, d.ContentID)
		if err != nil {
			return err
		}
		answers, err := checkAnswers(item.Questions, chosen)
		if err != nil {
			return err
		}
		score := ScoreQuiz(item.Questions, answers)
		passed := score >= item.RequiredScore
		created, err := q.CreateQuizAttempt(ctx, store.NewQuizAttempt{OrganizationID: d.OrganizationID, EnrollmentID: d.EnrollmentID,
			DeliveryID: d.ID, ContentID: d.ContentID, Attempt: d.Attempt, Score: score, Passed: passed, Answers: answers, At: at})
		if err != nil {
			return err
		}
		if !created {
			return fmt.Errorf("delivery %d was answered under the enrollment's lock", d.ID)
		}
		if err := countAnswer(ctx, q, d, item, answers, p.Attempt, score, passed); err != nil {
			return err
		}
		if len(s.onEvent) > 0 {
			if err := s.emit(ctx, q, Event{Kind: QuizAnswered, OrganizationID: d.OrganizationID, QuizDeliveryID: d.ID}); err != nil {
				return err
			}
		}
		if err := s.afterQuiz(ctx, q, d, item, p.Attempt, score, passed, at); err != nil {
			return err
		}
		p, err = s.quizPage(ctx, q, d, at)
		return err
	})
	if err != nil {
		return QuizPage{}, fmt.Errorf("answer the quiz of delivery %d: %w", deliveryID, err)
	}
	return p, nil
}

// quizDelivery returns the delivery a quiz link names when the signature
// is right and it is a quiz that was sent.
func (s *Service) quizDelivery(ctx context.Context, q *store.Queries, id int64, signature string) (store.DueDelivery, error) {
	// The link names no organization: the delivery is looked up by id
	// alone, and the signature, made with its enrollment's link key,
	// proves the link was made for this row.
	d, err := q.DeliveryForSending(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.DueDelivery{}, ErrQuizLinkInvalid
	}
	if err != nil {
		return store.DueDelivery{}, err
	}
	if !s.signedBy("quiz", d.ID, d.LinkKey, signature) {
		return store.DueDelivery{}, ErrQuizLinkInvalid
	}
	if d.ContentKind != store.KindQuiz || d.Status != store.DeliverySent || d.SentAt == nil {
		return store.DueDelivery{}, ErrQuizLinkInvalid
	}
	if d.OrganizationSuspended {
		return store.DueDelivery{}, orgs.ErrUnavailable
	}
	return d, nil
}

// quizPage is the page of a sent quiz delivery at the time at: the
// result when it was answered, else the questions, if it may still be
// answered.
func (s *Service) quizPage(ctx context.Context, q *store.Queries, d store.DueDelivery, at time.Time) (QuizPage, error) {
	item, err := q.ContentItem(ctx, d.OrganizationID, d.ContentID)
	if err != nil {
		return QuizPage{}, err
	}
	p := QuizPage{DeliveryID: d.ID, OrganizationID: d.OrganizationID, OrganizationName: d.OrganizationName, CourseTitle: d.CourseTitle, LearnerEmail: d.LearnerEmail,
		Title: item.Title, RequiredScore: item.RequiredScore, Attempts: MaxQuizAttempts, ExpiresAt: d.SentAt.Add(QuizValidity)}
	a, err := q.QuizAttemptByDelivery(ctx, d.OrganizationID, d.ID)
	if err == nil {
		r, err := quizResult(ctx, q, d, item, a)
		p.Result = &r
		return p, err
	}
	if !errors.Is(err, store.ErrNotFound) {
		return QuizPage{}, err
	}
	last, err := q.LastDelivery(ctx, d.OrganizationID, d.EnrollmentID, d.ContentID)
	if err != nil {
		return QuizPage{}, err
	}
	// A link that no longer works still names its organization and
	// course, for the page that says so.
	switch {
	case last.ID != d.ID:
		return p, ErrQuizLinkReplaced
	case d.EnrollmentStatus != string(store.EnrollmentActive) || !d.OrganizationOn:
		return p, ErrQuizClosed
	case !at.Before(p.ExpiresAt):
		return p, ErrQuizLinkExpired
	}
	if p.Attempt, err = QuizAttemptNumber(ctx, q, d.OrganizationID, d.EnrollmentID, d.ContentID); err != nil {
		return QuizPage{}, err
	}
	// The page needs the texts only: which answers are correct stays on
	// the server.
	for _, question := range item.Questions {
		shown := store.QuizQuestion{ID: question.ID, Text: question.Text}
		for _, answer := range question.Answers {
			shown.Answers = append(shown.Answers, store.QuizAnswer{ID: answer.ID, Text: answer.Text})
		}
		p.Questions = append(p.Questions, shown)
	}
	return p, nil
}

// checkAnswers refuses ids that are not answers of the quiz's questions,
// and returns the choices with an entry for every question, each chosen
// answer once, in the quiz's order.
func checkAnswers(questions []store.QuizQuestion, chosen map[int64][]int64) (map[int64][]int64, error) {
	answersOf := map[int64]map[int64]bool{}
	for _, question := range questions {
		answersOf[question.ID] = map[int64]bool{}
		for _, a := range question.Answers {
			answersOf[question.ID][a.ID] = true
		}
	}
	picked := map[int64]bool{}
	for questionID, ids := range chosen {
		answers, ok := answersOf[questionID]
		if !ok {
			return nil, ErrQuizAnswerUnknown
		}
		for _, id := range ids {
			if !answers[id] {
				return nil, ErrQuizAnswerUnknown
			}
			picked[id] = true
		}
	}
	out := make(map[int64][]int64, len(questions))
	for _, question := range questions {
		list := []int64{}
		for _, a := range question.Answers {
			if picked[a.ID] {
				list = append(list, a.ID)
			}
		}
		out[question.ID] = list
	}
	return out, nil
}

// afterQuiz acts on a quiz answered as the given attempt of the run.
func (s *Service) afterQuiz(ctx context.Context, q *store.Queries, d store.DueDelivery, item store.ContentItem, attempt, score int, passed bool, at time.Time) error {
	if s.scheduler == nil {
		return errors.New("no delivery engine schedules what follows a quiz")
	}
	org, enrollment := d.OrganizationID, d.EnrollmentID
	if passed {
		next, err := q.PublishedContentAfter(ctx, org, d.CourseID, d.ContentPosition)
		if errors.Is(err, store.ErrNotFound) {
			_, err := s.Finish(ctx, q, org, enrollment, store.EnrollmentCompleted)
			return err
		}
		if err != nil {
			return err
		}
		n, err := NextAttempt(ctx, q, org, enrollment, next)
		if err != nil {
			return err
		}
		return s.scheduler(ctx, q, org, enrollment, next.ID, n, at.Add(time.Duration(next.WaitingPeriodSeconds)*time.Second))
	}
	if attempt < MaxQuizAttempts {
		return s.scheduler(ctx, q, org, enrollment, d.ContentID, d.Attempt+1, at.Add(QuizRetryDelay))
	}
	ended, err := s.Finish(ctx, q, org, enrollment, store.EnrollmentFailed)
	if err != nil || !ended {
		return err
	}
	return s.send(ctx, q, store.Organization{ID: org, Name: d.OrganizationName, Sender: d.OrganizationSender}, mail.Email{Kind: mail.KindCourseFailed, To: d.LearnerEmail, EnrollmentID: enrollment,
		Data: mail.CourseFailed{OrganizationName: d.OrganizationName, CourseTitle: d.CourseTitle, QuizTitle: item.Title,
			Score: score, RequiredScore: item.RequiredScore}})
}

// quizResult says what followed an answered quiz, as things stand now.
func quizResult(ctx context.Context, q *store.Queries, d store.DueDelivery, item store.ContentItem, a store.QuizAttempt) (QuizResult, error) {
	r := QuizResult{QuizAttempt: a, RequiredScore: item.RequiredScore}
	e, err := q.Enrollment(ctx, d.OrganizationID, d.EnrollmentID)
	if err != nil {
		return QuizResult{}, err
	}
	switch e.Status {
	case store.EnrollmentCompleted:
		r.Next = QuizNextCompleted
	case store.EnrollmentFailed:
		r.Next = QuizNextFailed
	case store.EnrollmentActive:
		next, err := q.NextScheduledDelivery(ctx, d.OrganizationID, d.EnrollmentID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			r.Next = QuizNextSent
		case err != nil:
			return QuizResult{}, err
		case next.ContentID == a.ContentID:
			r.Next, r.NextAt = QuizNextRetry, next.DueAt
		default:
			r.Next, r.NextAt, r.NextTitle, r.NextKind = QuizNextItem, next.DueAt, next.ContentTitle, next.ContentKind
		}
	default:
		r.Next = QuizNextEnded
	}
	return r, nil
}
