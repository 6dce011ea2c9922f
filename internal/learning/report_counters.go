package learning

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/mailschool/mailschool/internal/store"
)

// The metrics of report_daily that enrollments count, by the UTC day they
// happen: started (asked for, or enrolled directly), confirmed (became
// active), and the ends, named after the status an enrollment ends in.
const (
	MetricStarted   = "started"
	MetricConfirmed = "confirmed"
)

// The metrics of report_items: a course's funnel and quiz statistics.
const (
	ItemReceived     = "received"     // first sends of the item to an enrollment
	ItemAnswered     = "answered"     // first answers to the quiz
	ItemAttempts     = "attempts"     // every answer to the quiz
	ItemPassed       = "passed"       // passing answers
	ItemFailed       = "failed"       // enrollments failed on the quiz's last attempt
	ItemUnsubscribed = "unsubscribed" // learners who unsubscribed with this item the last one sent
	ItemScorePrefix  = "score:"       // + the score's tenth, 0 to 10: the histogram
	ItemWrongPrefix  = "wrong:"       // + a question id: answers not wholly right
)

// countStarted counts an enrollment asked for or made now, and announces
// it as created.
func (s *Service) countStarted(ctx context.Context, q *store.Queries, e store.Enrollment) error {
	if err := q.CountDaily(ctx, e.OrganizationID, s.now(), MetricStarted, 1); err != nil {
		return err
	}
	return s.emitEnrollment(ctx, q, EnrollmentCreated, e)
}

// countActivated is an OnActivate hook: the enrollment is confirmed.
func (s *Service) countActivated(ctx context.Context, q *store.Queries, e store.Enrollment) error {
	return q.CountDaily(ctx, e.OrganizationID, s.now(), MetricConfirmed, 1)
}

// countEnded is an OnEnd and OnFinish hook: the day's count of the status
// the enrollment ended in and, for a learner who unsubscribed, the item
// after which they did.
func (s *Service) countEnded(ctx context.Context, q *store.Queries, e store.Enrollment) error {
	if err := q.CountDaily(ctx, e.OrganizationID, s.now(), string(e.Status), 1); err != nil {
		return err
	}
	if e.Status != store.EnrollmentUnsubscribed {
		return nil
	}
	content, err := q.LastSentContent(ctx, e.OrganizationID, e.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // before the first item
	}
	if err != nil {
		return err
	}
	return q.CountItem(ctx, e.OrganizationID, e.CourseID, content, ItemUnsubscribed, 1)
}

// countAnswer counts an answer to a quiz for its statistics: attempt is
// the attempt of the current run of the course (1 for a first answer),
// lastFailed whether it failed the enrollment.
func countAnswer(ctx context.Context, q *store.Queries, d store.DueDelivery, item store.ContentItem, answers map[int64][]int64, attempt, score int, passed bool) error {
	metrics := []string{ItemAttempts, ItemScorePrefix + strconv.Itoa(score/10)}
	if attempt == 1 {
		metrics = append(metrics, ItemAnswered)
	}
	if passed {
		metrics = append(metrics, ItemPassed)
	} else if attempt >= MaxQuizAttempts {
		metrics = append(metrics, ItemFailed)
	}
	for _, qu := range item.Questions {
		if ScoreQuiz([]store.QuizQuestion{qu}, answers) < 100 {
			metrics = append(metrics, ItemWrongPrefix+strconv.FormatInt(qu.ID, 10))
		}
	}
	for _, m := range metrics {
		if err := q.CountItem(ctx, d.OrganizationID, d.CourseID, d.ContentID, m, 1); err != nil {
			return fmt.Errorf("count the answer to quiz %d: %w", d.ContentID, err)
		}
	}
	return nil
}
