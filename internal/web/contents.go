package web

import (
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

func contentPath(orgID, courseID, contentID int64) string {
	return coursePath(orgID, courseID) + "contents/" + itoa(contentID) + "/"
}

// contentIDs reads the organization, course and content ids of a URL.
func contentIDs(r *http.Request) (orgID, courseID, contentID int64, err error) {
	if orgID, courseID, err = courseIDs(r); err != nil {
		return 0, 0, 0, err
	}
	contentID, err = pathInt64(r, "content_id")
	return orgID, courseID, contentID, err
}

var errNoSuchKind = problem.New(problem.NotFound, "not_found", "There is no such kind of content: add a lesson or a quiz.")

// kindName is how pages name a kind of content.
func kindName(kind string) string {
	if kind == store.KindQuiz {
		return "quiz"
	}
	return "lesson"
}

// contentPage is the read-only page of a lesson or a quiz.
type contentPage struct {
	learning.ContentView
	HTML  template.HTML // a lesson's body, rendered and sanitized
	Error string        // why a deletion was refused
}

func (s *Server) contentDetail(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, contentID, err := contentIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	cv, err := s.learning.Content(r.Context(), currentUser(r.Context()), orgID, courseID, contentID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	html, err := learning.RenderMarkdown(cv.Item.Body)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "content.html", cv.Item.Title, contentPage{ContentView: cv, HTML: template.HTML(html)})
}

// contentForm is the data of the lesson and quiz forms. The form posts
// back to itself; its buttons either save or redraw it (a preview, one
// more question or answer row), so it works without JavaScript.
type contentForm struct {
	Org           orgs.View
	Course        store.Course
	ID            int64 // 0 when adding
	Kind          string
	Title         string
	Body          string
	WaitAmount    string
	WaitUnit      string
	Units         []learning.WaitingUnit
	Published     bool
	RequiredScore string
	Questions     []questionRow
	Locked        bool          // a published quiz: rows may be reworded only
	Preview       template.HTML // the body rendered, after "Preview"
	formErrors
}

// questionRow is a question of the quiz form.
type questionRow struct {
	Text    string
	Answers []answerRow
}

// answerRow is an answer of the quiz form.
type answerRow struct {
	Text    string
	Correct bool
}

// shownFields are the fields the form shows messages beside: the domain's
// names for them, rows by their index.
func (f contentForm) shownFields() fieldSet {
	shown := fieldSet{"title": true, "waiting_period_seconds": true}
	if f.Kind == store.KindLesson {
		shown["body"] = true
		return shown
	}
	shown["required_score"], shown["questions"] = true, true
	for i, q := range f.Questions {
		key := fmt.Sprintf("questions[%d]", i)
		shown[key+".text"], shown[key+".answers"] = true, true
		for j := range q.Answers {
			shown[fmt.Sprintf("%s.answers[%d].text", key, j)] = true
		}
	}
	return shown
}

// Action is where the form posts.
func (f contentForm) Action() string {
	if f.ID == 0 {
		return coursePath(f.Org.ID, f.Course.ID) + "contents/new"
	}
	return contentPath(f.Org.ID, f.Course.ID, f.ID) + "edit"
}

// KindName names the form's kind of content.
func (f contentForm) KindName() string { return kindName(f.Kind) }

func blankQuestion() questionRow { return questionRow{Answers: []answerRow{{}, {}}} }

func (s *Server) contentNewForm(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	kind := r.URL.Query().Get("kind")
	if kind != store.KindLesson && kind != store.KindQuiz {
		s.pageError(w, r, errNoSuchKind)
		return
	}
	cv, err := s.learning.CourseForEditing(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	form := contentForm{Org: cv.Org, Course: cv.Course, Kind: kind, WaitAmount: "0", WaitUnit: "days", Units: learning.WaitingUnits, RequiredScore: "0"}
	if kind == store.KindQuiz {
		form.Questions = []questionRow{blankQuestion()}
	}
	s.render(w, r, http.StatusOK, "content_form.html", fmt.Sprintf("Add %s to %s", kindName(kind), cv.Course.Title), form)
}

func (s *Server) contentEditForm(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, contentID, err := contentIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	cv, err := s.learning.ContentForEditing(r.Context(), currentUser(r.Context()), orgID, courseID, contentID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	item := cv.Item
	amount, unit := learning.SplitWaitingPeriod(item.WaitingPeriodSeconds)
	form := contentForm{Org: cv.Org, Course: cv.Course, ID: item.ID, Kind: item.Kind, Title: item.Title, Body: item.Body,
		WaitAmount: strconv.Itoa(amount), WaitUnit: unit, Units: learning.UnitsFor(item.WaitingPeriodSeconds),
		Published: item.Published, RequiredScore: strconv.Itoa(item.RequiredScore), Locked: cv.Locked}
	for _, q := range item.Questions {
		row := questionRow{Text: q.Text}
		for _, a := range q.Answers {
			row.Answers = append(row.Answers, answerRow{Text: a.Text, Correct: a.Correct})
		}
		form.Questions = append(form.Questions, row)
	}
	s.render(w, r, http.StatusOK, "content_form.html", "Edit "+item.Title, form)
}

func (s *Server) contentCreate(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.contentSave(w, r, orgID, courseID, 0)
}

func (s *Server) contentUpdate(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, contentID, err := contentIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.contentSave(w, r, orgID, courseID, contentID)
}

// contentSave handles a post of the lesson or quiz form: save, or redraw
// it with a preview or one more row.
func (s *Server) contentSave(w http.ResponseWriter, r *http.Request, orgID, courseID, contentID int64) {
	user := currentUser(r.Context())
	form := readContentForm(r)
	// Loading the form's course (and item) also checks that the actor may
	// change them, before anything is rendered for a preview.
	if contentID == 0 {
		if form.Kind != store.KindLesson && form.Kind != store.KindQuiz {
			s.pageError(w, r, errNoSuchKind)
			return
		}
		cv, err := s.learning.CourseForEditing(r.Context(), user, orgID, courseID)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		form.Org, form.Course = cv.Org, cv.Course
	} else {
		cv, err := s.learning.ContentForEditing(r.Context(), user, orgID, courseID, contentID)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		form.Org, form.Course, form.ID, form.Kind, form.Locked = cv.Org, cv.Course, cv.Item.ID, cv.Item.Kind, cv.Locked
	}
	title := fmt.Sprintf("Add %s to %s", kindName(form.Kind), form.Course.Title)
	if contentID != 0 {
		title = "Edit " + form.Title
	}

	action := r.PostFormValue("action")
	switch {
	case action == "preview":
		html, err := learning.PreviewLesson(form.Body)
		if p, ok := problem.As(err); ok {
			form.formErrors = errorsFor(p, form.shownFields())
			s.render(w, r, statusOf(p.Kind), "content_form.html", title, form)
			return
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		form.Preview = template.HTML(html)
		s.render(w, r, http.StatusOK, "content_form.html", title, form)
		return
	case action == "add_question":
		if !form.Locked {
			form.Questions = append(form.Questions, blankQuestion())
		}
		s.render(w, r, http.StatusOK, "content_form.html", title, form)
		return
	case strings.HasPrefix(action, "add_answer_"):
		i, err := strconv.Atoi(strings.TrimPrefix(action, "add_answer_"))
		if !form.Locked && err == nil && i >= 0 && i < len(form.Questions) {
			form.Questions[i].Answers = append(form.Questions[i].Answers, answerRow{})
		}
		s.render(w, r, http.StatusOK, "content_form.html", title, form)
		return
	}

	item, err := s.saveContentForm(r, &form)
	if err == nil {
		if contentID == 0 {
			s.flashNext(r, fmt.Sprintf("The %s %q was added.", kindName(item.Kind), item.Title))
		} else {
			s.flashNext(r, fmt.Sprintf("Your changes to %q were saved.", item.Title))
		}
		http.Redirect(w, r, coursePath(orgID, courseID)+"#contents", http.StatusSeeOther)
		return
	}
	if refused(err) {
		s.pageError(w, r, err)
		return
	}
	p, _ := problem.As(err)
	if form.Kind == store.KindQuiz && len(form.Questions) == 0 {
		form.Questions = []questionRow{blankQuestion()}
	}
	form.formErrors = errorsFor(p, form.shownFields())
	s.render(w, r, statusOf(p.Kind), "content_form.html", title, form)
}

// saveContentForm saves the form's values. The quiz rows left empty are
// dropped first, and the form keeps the rows that were saved, so that the
// domain's messages (questions[1].text) land on the rows they are about.
func (s *Server) saveContentForm(r *http.Request, form *contentForm) (store.ContentItem, error) {
	invalid := map[string]string{}
	wait, err := learning.WaitingPeriodSeconds(form.WaitAmount, form.WaitUnit)
	if p, ok := problem.As(err); ok {
		maps.Copy(invalid, p.Fields)
	}
	f := learning.ContentFields{Kind: form.Kind, Title: &form.Title, WaitingPeriodSeconds: &wait, Published: &form.Published}
	switch form.Kind {
	case store.KindLesson:
		f.Body = &form.Body
	case store.KindQuiz:
		score, err := strconv.Atoi(strings.TrimSpace(form.RequiredScore))
		if err != nil {
			invalid["required_score"] = "Enter a required score from 0 to 100: the percentage of correct answers needed to pass."
		}
		f.RequiredScore = &score
		form.Questions = withoutEmptyRows(form.Questions)
		f.Questions = make([]learning.Question, 0, len(form.Questions))
		for _, q := range form.Questions {
			lq := learning.Question{Text: q.Text}
			for _, a := range q.Answers {
				lq.Answers = append(lq.Answers, learning.Answer{Text: a.Text, Correct: a.Correct})
			}
			f.Questions = append(f.Questions, lq)
		}
	}
	if len(invalid) > 0 {
		return store.ContentItem{}, &problem.Error{Kind: problem.Invalid, Code: "invalid_content",
			Message: fmt.Sprintf("The %s was not saved: correct the marked fields.", kindName(form.Kind)), Fields: invalid}
	}
	user := currentUser(r.Context())
	if form.ID == 0 {
		return s.learning.CreateContent(r.Context(), user, form.Org.ID, form.Course.ID, f)
	}
	return s.learning.UpdateContent(r.Context(), user, form.Org.ID, form.Course.ID, form.ID, f)
}

// withoutEmptyRows drops the answers without text and the questions left
// with neither text nor answers: the blank rows the form offers.
func withoutEmptyRows(rows []questionRow) []questionRow {
	var kept []questionRow
	for _, q := range rows {
		var answers []answerRow
		for _, a := range q.Answers {
			if strings.TrimSpace(a.Text) != "" {
				answers = append(answers, a)
			}
		}
		if strings.TrimSpace(q.Text) == "" && len(answers) == 0 {
			continue
		}
		kept = append(kept, questionRow{Text: q.Text, Answers: answers})
	}
	return kept
}

// readContentForm reads the posted values of the lesson or quiz form, its
// rows as posted, empty ones included.
func readContentForm(r *http.Request) contentForm {
	f := contentForm{Kind: r.PostFormValue("kind"), Title: r.PostFormValue("title"), Body: r.PostFormValue("body"),
		WaitAmount: r.PostFormValue("waiting_period"), WaitUnit: r.PostFormValue("waiting_unit"),
		Published: r.PostFormValue("published") == "on", RequiredScore: r.PostFormValue("required_score")}
	f.Units = learning.WaitingUnits
	if f.WaitUnit == "seconds" {
		f.Units = learning.UnitsFor(1)
	}
	f.Questions = readQuestions(r.PostForm)
	return f
}

// questionField matches the quiz form's field names:
// questions[i].text, questions[i].answers[j].text and
// questions[i].answers[j].correct.
var questionField = regexp.MustCompile(`^questions\[(\d{1,2})\]\.(?:text|answers\[(\d{1,2})\]\.(text|correct))$`)

// readQuestions collects the quiz rows of a form in the order of their
// indexes.
func readQuestions(form url.Values) []questionRow {
	type question struct {
		text    string
		answers map[int]*answerRow
	}
	byIndex := map[int]*question{}
	for name, values := range form {
		m := questionField.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		q := byIndex[i]
		if q == nil {
			q = &question{answers: map[int]*answerRow{}}
			byIndex[i] = q
		}
		if m[2] == "" {
			q.text = values[0]
			continue
		}
		j, _ := strconv.Atoi(m[2])
		a := q.answers[j]
		if a == nil {
			a = &answerRow{}
			q.answers[j] = a
		}
		if m[3] == "text" {
			a.Text = values[0]
		} else {
			a.Correct = values[0] == "on"
		}
	}
	var rows []questionRow
	for _, i := range slices.Sorted(maps.Keys(byIndex)) {
		q := byIndex[i]
		row := questionRow{Text: q.text}
		for _, j := range slices.Sorted(maps.Keys(q.answers)) {
			row.Answers = append(row.Answers, *q.answers[j])
		}
		rows = append(rows, row)
	}
	return rows
}

func (s *Server) contentDeleteForm(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, contentID, err := contentIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	cv, err := s.learning.ContentForEditing(r.Context(), currentUser(r.Context()), orgID, courseID, contentID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "content_delete.html", "Delete "+cv.Item.Title, contentPage{ContentView: cv})
}

func (s *Server) contentDelete(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, contentID, err := contentIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	cv, err := s.learning.ContentForEditing(r.Context(), user, orgID, courseID, contentID)
	if err == nil {
		err = s.learning.DeleteContent(r.Context(), user, orgID, courseID, contentID)
	}
	if err == nil {
		s.flashNext(r, fmt.Sprintf("The %s %q was deleted.", kindName(cv.Item.Kind), cv.Item.Title))
		http.Redirect(w, r, coursePath(orgID, courseID)+"#contents", http.StatusSeeOther)
		return
	}
	if refused(err) {
		s.pageError(w, r, err)
		return
	}
	p, _ := problem.As(err)
	s.render(w, r, statusOf(p.Kind), "content_delete.html", "Delete "+cv.Item.Title, contentPage{ContentView: cv, Error: p.Message})
}

// contentMove is a course page's up or down button.
func (s *Server) contentMove(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, contentID, err := contentIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	err = s.learning.MoveContent(r.Context(), currentUser(r.Context()), orgID, courseID, contentID, learning.Direction(r.PostFormValue("direction")))
	if err != nil {
		s.courseRefusal(w, r, orgID, courseID, err)
		return
	}
	http.Redirect(w, r, coursePath(orgID, courseID)+"#contents", http.StatusSeeOther)
}
