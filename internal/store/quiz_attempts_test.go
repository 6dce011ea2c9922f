package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestQuizAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollmentFixture(t, db)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var (
			e                    store.Enrollment
			quiz                 int64
			lessonSent, quizSent int64
		)
		// A lesson and a quiz, both sent to one enrollment.
		f.tx(t, func(q *store.Queries) error {
			l, err := q.SaveLearner(ctx, f.orgA, "ada@example.com")
			if err != nil {
				return err
			}
			if e, _, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgA, CourseID: f.courseA, LearnerID: l.ID,
				Status: store.EnrollmentActive, At: at}); err != nil {
				return err
			}
			for _, kind := range []string{store.KindLesson, store.KindQuiz} {
				id, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: f.orgA, CourseID: f.courseA, Kind: kind, Title: kind, Published: true})
				if err != nil {
					return err
				}
				d, _, err := q.ScheduleDelivery(ctx, f.orgA, e.ID, id, 1, at)
				if err != nil {
					return err
				}
				m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: &f.orgA, Kind: kind, Sender: "a@example.com",
					Recipient: "ada@example.com", Subject: kind, MessageID: fmt.Sprintf("%s@example.com", kind), Raw: []byte("x")})
				if err != nil {
					return err
				}
				if err := q.MarkDeliverySent(ctx, d, m.ID); err != nil {
					return err
				}
				if kind == store.KindLesson {
					lessonSent = d
				} else {
					quiz, quizSent = id, d
				}
			}
			return nil
		})
		read := db.Read()
		// A quiz sent but not answered is not done.
		if pos, err := read.LastDonePosition(ctx, f.orgA, e.ID); err != nil || pos != 1 {
			t.Errorf("last done position with the quiz unanswered: %d, %v; want the lesson's, 1", pos, err)
		}
		if _, err := read.QuizAttemptByDelivery(ctx, f.orgA, quizSent); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unanswered delivery: %v", err)
		}

		answers := map[int64][]int64{10: {11, 12}, 20: {}}
		na := store.NewQuizAttempt{OrganizationID: f.orgA, EnrollmentID: e.ID, DeliveryID: quizSent, ContentID: quiz, Attempt: 1,
			Score: 40, Passed: false, Answers: answers, At: at.Add(time.Hour)}
		var created, again bool
		f.tx(t, func(q *store.Queries) (err error) {
			if created, err = q.CreateQuizAttempt(ctx, na); err != nil {
				return err
			}
			na.Score, na.Passed = 100, true
			again, err = q.CreateQuizAttempt(ctx, na)
			return err
		})
		if !created || again {
			t.Errorf("recording twice: created %v, then %v; want true, then false", created, again)
		}
		a, err := read.QuizAttemptByDelivery(ctx, f.orgA, quizSent)
		if err != nil {
			t.Fatal(err)
		}
		if a.Score != 40 || a.Passed || a.ContentTitle != "quiz" || !a.CreatedAt.Equal(at.Add(time.Hour)) || !reflect.DeepEqual(a.Answers, answers) {
			t.Errorf("stored attempt: %+v", a)
		}
		if _, err := read.QuizAttemptByDelivery(ctx, f.orgB, quizSent); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another organization's delivery: %v", err)
		}
		if _, err := read.QuizAttemptByDelivery(ctx, f.orgA, lessonSent); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a lesson: %v", err)
		}
		for since, want := range map[time.Time]int{at: 1, at.Add(time.Hour): 1, at.Add(2 * time.Hour): 0} {
			if n, err := read.CountFailedQuizAttempts(ctx, f.orgA, e.ID, quiz, since); err != nil || n != want {
				t.Errorf("failed attempts since %v: %d, %v; want %d", since, n, err, want)
			}
		}
		// A failed quiz is still not done; a passed one is.
		if pos, _ := read.LastDonePosition(ctx, f.orgA, e.ID); pos != 1 {
			t.Errorf("last done position after failing: %d, want 1", pos)
		}
		var retry int64
		f.tx(t, func(q *store.Queries) (err error) {
			if retry, _, err = q.ScheduleDelivery(ctx, f.orgA, e.ID, quiz, 2, at.Add(25*time.Hour)); err != nil {
				return err
			}
			if err := q.MarkDeliverySent(ctx, retry, mustMail(t, ctx, q, f.orgA)); err != nil {
				return err
			}
			_, err = q.CreateQuizAttempt(ctx, store.NewQuizAttempt{OrganizationID: f.orgA, EnrollmentID: e.ID, DeliveryID: retry, ContentID: quiz,
				Attempt: 2, Score: 90, Passed: true, Answers: map[int64][]int64{}, At: at.Add(26 * time.Hour)})
			return err
		})
		if pos, _ := read.LastDonePosition(ctx, f.orgA, e.ID); pos != 2 {
			t.Errorf("last done position after passing: %d, want 2", pos)
		}
		if d, err := read.LastDelivery(ctx, f.orgA, e.ID, quiz); err != nil || d.ID != retry || d.Attempt != 2 {
			t.Errorf("last delivery of the quiz: %+v, %v", d, err)
		}
		if _, err := read.LastDelivery(ctx, f.orgB, e.ID, quiz); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("last delivery through another organization: %v", err)
		}
		list, err := read.EnrollmentQuizAttempts(ctx, f.orgA, e.ID)
		if err != nil || len(list) != 2 || list[0].Attempt != 1 || list[1].Attempt != 2 || !list[1].Passed {
			t.Errorf("attempts of the enrollment: %+v, %v", list, err)
		}
		if list, _ := read.EnrollmentQuizAttempts(ctx, f.orgB, e.ID); len(list) != 0 {
			t.Errorf("another organization sees %d attempts", len(list))
		}
		if _, err := read.NextScheduledDelivery(ctx, f.orgA, e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("nothing scheduled: %v", err)
		}

		// Deleting the enrollment removes its attempts.
		f.tx(t, func(q *store.Queries) error { return q.DeleteCourse(ctx, f.orgA, f.courseA) })
		if n, _ := db.RowsWith(ctx, "enrollment_id", e.ID); n["quiz_attempts"] != 0 {
			t.Errorf("%d attempts left after the course was deleted", n["quiz_attempts"])
		}
	})
}

func mustMail(t *testing.T, ctx context.Context, q *store.Queries, orgID int64) int64 {
	t.Helper()
	m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: &orgID, Kind: "quiz", Sender: "a@example.com",
		Recipient: "ada@example.com", Subject: "quiz", MessageID: fmt.Sprintf("quiz-%d@example.com", time.Now().UnixNano()), Raw: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}
