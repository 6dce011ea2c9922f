package web

import (
	"net/http"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
)

// enrollmentJSON is an enrollment in the API.
type enrollmentJSON struct {
	ID           int64      `json:"id"`
	LearnerID    int64      `json:"learner_id"`
	LearnerEmail string     `json:"learner_email"`
	CourseID     int64      `json:"course_id"`
	CourseTitle  string     `json:"course_title"`
	Status       string     `json:"status"`
	ActivatedAt  *time.Time `json:"activated_at"`
	EndedAt      *time.Time `json:"ended_at"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

func toEnrollmentJSON(e store.Enrollment) enrollmentJSON {
	return enrollmentJSON{ID: e.ID, LearnerID: e.LearnerID, LearnerEmail: e.LearnerEmail, CourseID: e.CourseID, CourseTitle: e.CourseTitle,
		Status: string(e.Status), ActivatedAt: e.ActivatedAt, EndedAt: e.EndedAt, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

// learnerJSON is a learner in the API, with their enrollments.
type learnerJSON struct {
	ID          int64                   `json:"id"`
	Email       string                  `json:"email"`
	Enrollments []learnerEnrollmentJSON `json:"enrollments"`
	CreatedAt   time.Time               `json:"created_at"`
	UpdatedAt   time.Time               `json:"updated_at"`
}

type learnerEnrollmentJSON struct {
	ID          int64  `json:"id"`
	CourseID    int64  `json:"course_id"`
	CourseTitle string `json:"course_title"`
	Status      string `json:"status"`
}

// blockedEmailJSON is a blocked address in the API.
type blockedEmailJSON struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func toBlockedEmailJSON(b store.BlockedEmail) blockedEmailJSON {
	return blockedEmailJSON{ID: b.ID, Email: b.Email, CreatedBy: b.CreatorEmail, CreatedAt: b.CreatedAt}
}

func toLearnerJSON(l learning.LearnerRow) learnerJSON {
	j := learnerJSON{ID: l.ID, Email: l.Email, Enrollments: []learnerEnrollmentJSON{}, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
	for _, e := range l.Enrollments {
		j.Enrollments = append(j.Enrollments, learnerEnrollmentJSON{ID: e.ID, CourseID: e.CourseID, CourseTitle: e.CourseTitle, Status: string(e.Status)})
	}
	return j
}

func (s *Server) apiLearnerList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	page, err := cursorPage(r)
	if err != nil {
		return err
	}
	p, err := s.learning.Learners(r.Context(), currentUser(r.Context()), id, r.URL.Query().Get("q"), page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(p.Items, p.Page, p.Pages, toLearnerJSON))
	return nil
}

// apiEnrollmentList lists enrollments, newest first; ?status= and
// ?course_id= narrow the list.
func (s *Server) apiEnrollmentList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	page, err := cursorPage(r)
	if err != nil {
		return err
	}
	eq := learning.EnrollmentQuery{Status: r.URL.Query().Get("status"), Page: page}
	if eq.CourseID, err = queryID(r, "course_id", "invalid_course_id", "course_id is a course's id."); err != nil {
		return err
	}
	list, err := s.learning.Enrollments(r.Context(), currentUser(r.Context()), id, eq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(list.Items, list.Page, list.Pages, toEnrollmentJSON))
	return nil
}

// apiEnrollmentCreate enrolls an address directly, without the emailed
// confirmation: for integrations that have the learner's consent.
func (s *Server) apiEnrollmentCreate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		Email    string `json:"email"`
		CourseID int64  `json:"course_id"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	e, err := s.learning.EnrollDirectly(r.Context(), currentUser(r.Context()), id, in.CourseID, in.Email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toEnrollmentJSON(e))
	return nil
}

func (s *Server) apiEnrollmentCancel(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := orgAndID(r, "enrollment_id")
	if err != nil {
		return err
	}
	e, err := s.learning.CancelEnrollment(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEnrollmentJSON(e))
	return nil
}

func (s *Server) apiBlockedList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	page, err := cursorPage(r)
	if err != nil {
		return err
	}
	p, err := s.learning.BlockedEmails(r.Context(), currentUser(r.Context()), id, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(p.Items, p.Page, p.Pages, toBlockedEmailJSON))
	return nil
}

func (s *Server) apiBlockedAdd(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		Email string `json:"email"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	b, err := s.learning.BlockEmail(r.Context(), currentUser(r.Context()), id, in.Email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toBlockedEmailJSON(b))
	return nil
}

// apiBlockedRemove lifts a block; the address comes in the body
// ({"email", "note"}) or, for clients that send no body with DELETE, as
// ?email=.
func (s *Server) apiBlockedRemove(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		Email string `json:"email"`
		Note  string `json:"note"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if in.Email == "" {
		in.Email = r.URL.Query().Get("email")
	}
	if err := s.learning.UnblockEmailNoted(r.Context(), currentUser(r.Context()), id, in.Email, in.Note); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
