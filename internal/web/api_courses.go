package web

import (
	"net/http"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// contentBodyLimit bounds a content request: a lesson may hold up to
// learning.MaxBodyRunes characters, more than readJSON's 64 KiB.
const contentBodyLimit = 1 << 20

// courseJSON is a course in the API.
type courseJSON struct {
	ID          int64     `json:"id"`
	Title       string    `json:"title"`
	Slug        string    `json:"slug"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	Public      bool      `json:"public"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toCourseJSON(c store.Course) courseJSON {
	return courseJSON{ID: c.ID, Title: c.Title, Slug: c.Slug, Description: c.Description, Enabled: c.Enabled, Public: c.Public,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// contentJSON is a lesson or a quiz in the API.
type contentJSON struct {
	ID                   int64          `json:"id"`
	CourseID             int64          `json:"course_id"`
	Kind                 string         `json:"kind"`
	Title                string         `json:"title"`
	Body                 string         `json:"body"`
	Position             int            `json:"position"`
	WaitingPeriodSeconds int            `json:"waiting_period_seconds"`
	Published            bool           `json:"published"`
	RequiredScore        int            `json:"required_score"`
	Questions            []questionJSON `json:"questions"`
	CreatedAt            time.Time      `json:"created_at"`
	UpdatedAt            time.Time      `json:"updated_at"`
}

// questionJSON is a quiz question, in answers and requests alike.
type questionJSON struct {
	Text    string       `json:"text"`
	Answers []answerJSON `json:"answers"`
}

type answerJSON struct {
	Text    string `json:"text"`
	Correct bool   `json:"correct"`
}

func toContentJSON(i store.ContentItem) contentJSON {
	j := contentJSON{ID: i.ID, CourseID: i.CourseID, Kind: i.Kind, Title: i.Title, Body: i.Body, Position: i.Position,
		WaitingPeriodSeconds: i.WaitingPeriodSeconds, Published: i.Published, RequiredScore: i.RequiredScore,
		Questions: []questionJSON{}, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
	for _, q := range i.Questions {
		qj := questionJSON{Text: q.Text, Answers: []answerJSON{}}
		for _, a := range q.Answers {
			qj.Answers = append(qj.Answers, answerJSON{Text: a.Text, Correct: a.Correct})
		}
		j.Questions = append(j.Questions, qj)
	}
	return j
}

func (s *Server) apiCourseList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	page, err := cursorPage(r)
	if err != nil {
		return err
	}
	p, err := s.learning.Courses(r.Context(), currentUser(r.Context()), id, r.URL.Query().Get("q"), page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(p.Items, p.Page, p.Pages, func(c store.CourseSummary) courseJSON { return toCourseJSON(c.Course) }))
	return nil
}

// courseInput is the body of POST and PATCH; absent fields are nil.
type courseInput struct {
	Title       *string `json:"title"`
	Slug        *string `json:"slug"` // create; on update only its current value is accepted
	Description *string `json:"description"`
	Enabled     *bool   `json:"enabled"`
	Public      *bool   `json:"public"`
}

func (in courseInput) fields() learning.CourseFields {
	return learning.CourseFields{Title: in.Title, Slug: in.Slug, Description: in.Description, Enabled: in.Enabled, Public: in.Public}
}

func (s *Server) apiCourseCreate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in courseInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	c, err := s.learning.CreateCourse(r.Context(), currentUser(r.Context()), id, in.fields())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toCourseJSON(c))
	return nil
}

func (s *Server) apiCourseGet(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		return err
	}
	cv, err := s.learning.Course(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toCourseJSON(cv.Course))
	return nil
}

func (s *Server) apiCourseUpdate(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		return err
	}
	var in courseInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	c, err := s.learning.UpdateCourse(r.Context(), currentUser(r.Context()), orgID, courseID, in.fields())
	if err != nil {
		return err
	}
	s.publicPages.forget(orgID)
	writeJSON(w, http.StatusOK, toCourseJSON(c))
	return nil
}

func (s *Server) apiCourseDelete(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		return err
	}
	if err := s.learning.DeleteCourse(r.Context(), currentUser(r.Context()), orgID, courseID); err != nil {
		return err
	}
	s.publicPages.forget(orgID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiContentList lists all of a course's items in order: a course's
// content is short enough for one page, so next_cursor is always empty.
func (s *Server) apiContentList(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		return err
	}
	cv, err := s.learning.Course(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contentList(cv.Contents))
	return nil
}

func contentList(items []store.ContentItem) listJSON[contentJSON] {
	return listOf(items, 1, 1, toContentJSON)
}

// contentInput is the body of POST and PATCH; absent fields are nil.
type contentInput struct {
	Kind                 string         `json:"kind"`
	Title                *string        `json:"title"`
	Body                 *string        `json:"body"`
	Position             *int           `json:"position"` // refused: the order changes by reorder
	WaitingPeriodSeconds *int           `json:"waiting_period_seconds"`
	Published            *bool          `json:"published"`
	RequiredScore        *int           `json:"required_score"`
	Questions            []questionJSON `json:"questions"`
}

// readContentInput reads a content request into the domain's fields.
func readContentInput(w http.ResponseWriter, r *http.Request) (learning.ContentFields, error) {
	var in contentInput
	if err := readJSONUpTo(w, r, &in, contentBodyLimit); err != nil {
		return learning.ContentFields{}, err
	}
	if in.Position != nil {
		return learning.ContentFields{}, problem.Field("position", "position_not_settable",
			"New items go at the end; change the order with POST .../contents/reorder.")
	}
	f := learning.ContentFields{Kind: in.Kind, Title: in.Title, Body: in.Body, WaitingPeriodSeconds: in.WaitingPeriodSeconds,
		Published: in.Published, RequiredScore: in.RequiredScore}
	if in.Questions != nil {
		f.Questions = make([]learning.Question, 0, len(in.Questions))
		for _, q := range in.Questions {
			lq := learning.Question{Text: q.Text}
			for _, a := range q.Answers {
				lq.Answers = append(lq.Answers, learning.Answer{Text: a.Text, Correct: a.Correct})
			}
			f.Questions = append(f.Questions, lq)
		}
	}
	return f, nil
}

func (s *Server) apiContentCreate(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		return err
	}
	f, err := readContentInput(w, r)
	if err != nil {
		return err
	}
	item, err := s.learning.CreateContent(r.Context(), currentUser(r.Context()), orgID, courseID, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toContentJSON(item))
	return nil
}

// apiContentReorder takes {"ids": [...]}, every item id of the course in
// the new order, and answers the items in that order.
func (s *Server) apiContentReorder(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		return err
	}
	var in struct {
		IDs []int64 `json:"ids"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	items, err := s.learning.ReorderContents(r.Context(), currentUser(r.Context()), orgID, courseID, in.IDs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contentList(items))
	return nil
}

func (s *Server) apiContentGet(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, contentID, err := contentIDs(r)
	if err != nil {
		return err
	}
	cv, err := s.learning.Content(r.Context(), currentUser(r.Context()), orgID, courseID, contentID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toContentJSON(cv.Item))
	return nil
}

func (s *Server) apiContentUpdate(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, contentID, err := contentIDs(r)
	if err != nil {
		return err
	}
	f, err := readContentInput(w, r)
	if err != nil {
		return err
	}
	item, err := s.learning.UpdateContent(r.Context(), currentUser(r.Context()), orgID, courseID, contentID, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toContentJSON(item))
	return nil
}

func (s *Server) apiContentDelete(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, contentID, err := contentIDs(r)
	if err != nil {
		return err
	}
	if err := s.learning.DeleteContent(r.Context(), currentUser(r.Context()), orgID, courseID, contentID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
