package web

import (
	"net/http"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
)

// enrollmentDetailJSON is an enrollment in the API with what its page
// shows: what was sent and is due, and the quiz attempts.
type enrollmentDetailJSON struct {
	enrollmentJSON
	Deliveries   []deliveryJSON    `json:"deliveries"`
	QuizAttempts []quizAttemptJSON `json:"quiz_attempts"`
}

// deliveryJSON is one content email of an enrollment: when it is due,
// when it was sent, and where it stands.
type deliveryJSON struct {
	ContentID int64      `json:"content_id"`
	Title     string     `json:"title"`
	Kind      string     `json:"kind"`
	Attempt   int        `json:"attempt"`
	Status    string     `json:"status"`
	DueAt     time.Time  `json:"due_at"`
	SentAt    *time.Time `json:"sent_at"`
}

// quizAttemptJSON is a learner's answer to a quiz in the API.
type quizAttemptJSON struct {
	ID           int64     `json:"id"`
	EnrollmentID int64     `json:"enrollment_id"`
	LearnerEmail string    `json:"learner_email"`
	ContentID    int64     `json:"content_id"`
	QuizTitle    string    `json:"quiz_title"`
	Attempt      int       `json:"attempt"`
	Score        int       `json:"score"`
	Passed       bool      `json:"passed"`
	AnsweredAt   time.Time `json:"answered_at"`
}

func toQuizAttemptJSON(a store.QuizAttempt) quizAttemptJSON {
	return quizAttemptJSON{ID: a.ID, EnrollmentID: a.EnrollmentID, LearnerEmail: a.LearnerEmail, ContentID: a.ContentID, QuizTitle: a.ContentTitle,
		Attempt: a.Attempt, Score: a.Score, Passed: a.Passed, AnsweredAt: a.CreatedAt}
}

func (s *Server) apiEnrollmentGet(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := orgAndID(r, "enrollment_id")
	if err != nil {
		return err
	}
	page, err := s.learning.Enrollment(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		return err
	}
	out := enrollmentDetailJSON{enrollmentJSON: toEnrollmentJSON(page.Enrollment), Deliveries: []deliveryJSON{}, QuizAttempts: []quizAttemptJSON{}}
	for _, d := range page.Deliveries {
		out.Deliveries = append(out.Deliveries, deliveryJSON{ContentID: d.ContentID, Title: d.Title, Kind: d.Kind, Attempt: d.Attempt,
			Status: d.Status, DueAt: d.ScheduledAt, SentAt: d.SentAt})
	}
	for _, a := range page.QuizAttempts {
		a.LearnerEmail = page.Enrollment.LearnerEmail
		out.QuizAttempts = append(out.QuizAttempts, toQuizAttemptJSON(a))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiLearnerGet(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := orgAndID(r, "learner_id")
	if err != nil {
		return err
	}
	l, err := s.learning.Learner(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toLearnerJSON(l))
	return nil
}

// apiQuizAttemptList lists a course's quiz attempts, newest first;
// ?content_id= and ?enrollment_id= narrow the list.
func (s *Server) apiQuizAttemptList(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := orgAndID(r, "course_id")
	if err != nil {
		return err
	}
	before, err := cursorID(r)
	if err != nil {
		return err
	}
	aq := learning.QuizAttemptQuery{Before: before}
	if aq.ContentID, err = queryID(r, "content_id", "invalid_content_id", "content_id is a quiz's id."); err != nil {
		return err
	}
	if aq.EnrollmentID, err = queryID(r, "enrollment_id", "invalid_enrollment_id", "enrollment_id is an enrollment's id."); err != nil {
		return err
	}
	list, err := s.learning.QuizAttempts(r.Context(), currentUser(r.Context()), orgID, courseID, aq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listAfter(list.Items, list.Next, toQuizAttemptJSON))
	return nil
}
