package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
)

// quizPage is a quiz link's page: the questions with a checkbox per
// answer, or the result once answered.
type quizPage struct {
	Page  learning.QuizPage
	Path  string
	Error string
}

func quizLink(r *http.Request) (int64, string, error) {
	id, err := pathInt64(r, "delivery_id")
	return id, r.PathValue("signature"), err
}

// quizForm shows a quiz link: no login, the signature is the authority.
// A wrong signature is a missing page (404); an expired link, or one the
// course no longer needs, is gone (410); an answered one shows its result.
func (s *Server) quizForm(w http.ResponseWriter, r *http.Request) {
	id, sig, err := quizLink(r)
	var p learning.QuizPage
	if err == nil {
		p, err = s.learning.CheckQuiz(r.Context(), id, sig)
	}
	if err != nil {
		// A link that no longer works still names its organization.
		var brand publicBrand
		if p.OrganizationID != 0 {
			brand = s.brandOf(r.Context(), p.OrganizationID)
		}
		s.publicPageError(w, r, err, brand)
		return
	}
	s.renderQuiz(w, r, http.StatusOK, quizPage{Page: p, Path: learning.QuizPath(id, sig)})
}

// quizAnswer takes the quiz form: checkboxes named q<question id> whose
// values are answer ids. The answer is recorded once; the browser is sent
// to the link's page, which shows the result, so reloading it sends
// nothing again.
func (s *Server) quizAnswer(w http.ResponseWriter, r *http.Request) {
	id, sig, err := quizLink(r)
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	chosen, err := chosenAnswers(r)
	if err == nil {
		_, err = s.learning.AnswerQuiz(r.Context(), id, sig, chosen)
	}
	if p, ok := problem.As(err); ok && p.Kind == problem.Invalid {
		// Ids the quiz does not have: show the questions again, as they
		// are now, with the reason.
		page, checkErr := s.learning.CheckQuiz(r.Context(), id, sig)
		if checkErr != nil {
			s.publicPageError(w, r, checkErr, publicBrand{})
			return
		}
		s.renderQuiz(w, r, http.StatusUnprocessableEntity, quizPage{Page: page, Path: learning.QuizPath(id, sig), Error: p.Message})
		return
	}
	if err != nil {
		s.publicPageError(w, r, err, publicBrand{})
		return
	}
	http.Redirect(w, r, learning.QuizPath(id, sig), http.StatusSeeOther)
}

func (s *Server) renderQuiz(w http.ResponseWriter, r *http.Request, status int, p quizPage) {
	title := p.Page.Title
	if p.Page.Result != nil {
		title = "Your result: " + p.Page.Title
	}
	s.renderPublic(w, r, status, "quiz.html", title, s.brandOf(r.Context(), p.Page.OrganizationID), p)
}

// chosenAnswers reads the quiz form: the answer ids checked, by question
// id. Fields other than q<id> are ignored; a q field that names no number
// is refused like an answer the quiz does not have.
func chosenAnswers(r *http.Request) (map[int64][]int64, error) {
	if err := r.ParseForm(); err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			return nil, problem.New(problem.TooLarge, "form_too_large", "The form is too large.")
		}
		return nil, problem.New(problem.Malformed, "form_malformed", "The form could not be read.")
	}
	chosen := map[int64][]int64{}
	for key, values := range r.PostForm {
		name, ok := strings.CutPrefix(key, "q")
		if !ok {
			continue
		}
		questionID, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			return nil, learning.ErrQuizAnswerUnknown
		}
		for _, v := range values {
			answerID, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, learning.ErrQuizAnswerUnknown
			}
			chosen[questionID] = append(chosen[questionID], answerID)
		}
	}
	return chosen, nil
}

// untilWords says roughly how long until t: "in 5 minutes", "in 3
// hours", "in 2 days", or "in a moment".
func untilWords(t time.Time) string {
	d := time.Until(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "in 1 " + unit
		}
		return fmt.Sprintf("in %d %ss", n, unit)
	}
	switch {
	case d < time.Minute:
		return "in a moment"
	case d < 90*time.Minute:
		return plural(int(d.Round(time.Minute)/time.Minute), "minute")
	case d < 36*time.Hour:
		return plural(int(d.Round(time.Hour)/time.Hour), "hour")
	default:
		return plural(int(d.Round(24*time.Hour)/(24*time.Hour)), "day")
	}
}
