package learning

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Limits of content items.
const (
	MaxBodyRunes            = 100_000
	MaxQuestions            = 50
	MaxAnswers              = 10
	MaxQuestionRunes        = 1000
	MaxAnswerRunes          = 500
	MaxWaitingPeriodSeconds = 365 * 24 * 60 * 60
)

// Errors about content.
var (
	ErrContentNotFound = problem.New(problem.NotFound, "content_not_found", "There is no such lesson or quiz in this course.")
	ErrQuizPublished   = problem.New(problem.Conflict, "quiz_published",
		"This quiz is published, so its questions and answers stay as they are: you can correct their wording, "+
			"but not add or remove any, nor change which answers are correct. Unpublish the quiz to change them.")
	ErrLastPublished = problem.New(problem.Conflict, "last_published_content",
		"This is the only published item of an enabled course, which would then have nothing to send: "+
			"publish another item first, or disable the course.")
	ErrKindFixed = problem.Field("kind", "kind_fixed", "A lesson stays a lesson and a quiz stays a quiz: add a new item instead.")
)

// Question is a quiz question as entered, with its answers in order.
type Question struct {
	Text    string
	Answers []Answer
}

// Answer is an answer to a quiz question as entered.
type Answer struct {
	Text    string
	Correct bool
}

// ContentFields are the values of a content form or API request. On
// update, nil leaves a field as it is.
type ContentFields struct {
	Kind                 string // store.KindLesson or store.KindQuiz; on update, empty or the item's own
	Title                *string
	Body                 *string // lessons
	WaitingPeriodSeconds *int
	Published            *bool
	RequiredScore        *int       // quizzes
	Questions            []Question // quizzes; nil keeps a quiz's questions on update
}

// ContentView is a content item as one user sees it.
type ContentView struct {
	Org     orgs.View
	Course  store.Course
	Item    store.ContentItem
	CanEdit bool
	// Locked is set for a published quiz: its questions and answers may be
	// reworded but not added, removed or marked differently.
	Locked bool
}

// Content returns a content item of a course that the actor may see.
func (s *Service) Content(ctx context.Context, actor *store.User, orgID, courseID, contentID int64) (ContentView, error) {
	return s.contentView(ctx, actor, orgID, courseID, contentID, access.ViewOrganization)
}

// ContentForEditing returns a content item that the actor may change: for
// the edit and delete forms.
func (s *Service) ContentForEditing(ctx context.Context, actor *store.User, orgID, courseID, contentID int64) (ContentView, error) {
	return s.contentView(ctx, actor, orgID, courseID, contentID, access.EditContent)
}

func (s *Service) contentView(ctx context.Context, actor *store.User, orgID, courseID, contentID int64, action access.Action) (ContentView, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, action)
	if err != nil {
		return ContentView{}, err
	}
	c, err := q.Course(ctx, orgID, courseID)
	if errors.Is(err, store.ErrNotFound) {
		return ContentView{}, ErrCourseNotFound
	}
	if err != nil {
		return ContentView{}, err
	}
	item, err := contentOf(ctx, q, orgID, courseID, contentID)
	if err != nil {
		return ContentView{}, err
	}
	return ContentView{Org: v, Course: c, Item: item, CanEdit: canEdit(actor, v), Locked: locked(item)}, nil
}

// locked reports whether a content item's questions are fixed.
func locked(item store.ContentItem) bool { return item.Kind == store.KindQuiz && item.Published }

// contentOf loads a content item of a course: an item of another course
// of the same organization is as missing as one of another organization.
func contentOf(ctx context.Context, q *store.Queries, orgID, courseID, contentID int64) (store.ContentItem, error) {
	item, err := q.ContentItem(ctx, orgID, contentID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && item.CourseID != courseID) {
		return store.ContentItem{}, ErrContentNotFound
	}
	return item, err
}

// CreateContent adds a lesson or a quiz at the end of a course.
func (s *Service) CreateContent(ctx context.Context, actor *store.User, orgID, courseID int64, f ContentFields) (store.ContentItem, error) {
	var id int64
	bounds := boundsProblem(f.Body)
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.EditContent); err != nil {
			return err
		}
		if _, err := lockCourse(ctx, q, orgID, courseID); err != nil {
			return err
		}
		if f.Kind != store.KindLesson && f.Kind != store.KindQuiz {
			return problem.Field("kind", "invalid_kind", "Choose lesson or quiz.")
		}
		v, err := validateContent(f.Kind, contentValues{Title: deref(f.Title), Body: deref(f.Body), BodyBounds: bounds,
			Wait: orInt(f.WaitingPeriodSeconds, 0), Published: orBool(f.Published, false), Score: orInt(f.RequiredScore, 0),
			Questions: f.Questions})
		if err != nil {
			return err
		}
		id, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: orgID, CourseID: courseID, Kind: f.Kind,
			Title: v.Title, Body: v.Body, WaitingPeriodSeconds: v.Wait, Published: v.Published, RequiredScore: v.Score})
		if err != nil || f.Kind != store.KindQuiz {
			return err
		}
		return q.SaveQuizQuestions(ctx, orgID, id, storeQuestions(v.Questions))
	})
	if err != nil {
		return store.ContentItem{}, fmt.Errorf("add %s to course %d: %w", f.Kind, courseID, err)
	}
	return s.db.Read().ContentItem(ctx, orgID, id)
}

// UpdateContent changes the given fields of a content item. A published
// quiz keeps its questions and answers (their texts may change), and the
// last published item of an enabled course stays published.
func (s *Service) UpdateContent(ctx context.Context, actor *store.User, orgID, courseID, contentID int64, f ContentFields) (store.ContentItem, error) {
	bounds := boundsProblem(f.Body)
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.EditContent); err != nil {
			return err
		}
		c, err := lockCourse(ctx, q, orgID, courseID)
		if err != nil {
			return err
		}
		item, err := contentOf(ctx, q, orgID, courseID, contentID)
		if err != nil {
			return err
		}
		if f.Kind != "" && f.Kind != item.Kind {
			return ErrKindFixed
		}
		questions := f.Questions
		if questions == nil && item.Kind == store.KindQuiz {
			questions = entered(item.Questions)
		}
		v, err := validateContent(item.Kind, contentValues{Title: or(f.Title, item.Title), Body: or(f.Body, item.Body), BodyBounds: bounds,
			Wait: orInt(f.WaitingPeriodSeconds, item.WaitingPeriodSeconds), Published: orBool(f.Published, item.Published),
			Score: orInt(f.RequiredScore, item.RequiredScore), Questions: questions})
		if err != nil {
			return err
		}
		// A quiz that stays published keeps its structure; one that is
		// being unpublished may change, as it could right after.
		if locked(item) && v.Published && !sameStructure(item.Questions, v.Questions) {
			return ErrQuizPublished
		}
		if item.Published && !v.Published {
			if err := checkNotLastPublished(ctx, q, c); err != nil {
				return err
			}
		}
		err = q.UpdateContentItem(ctx, orgID, contentID, store.ContentFields{Title: v.Title, Body: v.Body,
			WaitingPeriodSeconds: v.Wait, Published: v.Published, RequiredScore: v.Score})
		if err != nil || f.Questions == nil || item.Kind != store.KindQuiz {
			return err
		}
		return q.SaveQuizQuestions(ctx, orgID, contentID, storeQuestions(v.Questions))
	})
	if err != nil {
		return store.ContentItem{}, fmt.Errorf("update content item %d: %w", contentID, err)
	}
	return s.db.Read().ContentItem(ctx, orgID, contentID)
}

// DeleteContent removes a content item (a quiz with its questions). The
// last published item of an enabled course stays.
func (s *Service) DeleteContent(ctx context.Context, actor *store.User, orgID, courseID, contentID int64) error {
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.EditContent); err != nil {
			return err
		}
		c, err := lockCourse(ctx, q, orgID, courseID)
		if err != nil {
			return err
		}
		item, err := contentOf(ctx, q, orgID, courseID, contentID)
		if err != nil {
			return err
		}
		if item.Published {
			if err := checkNotLastPublished(ctx, q, c); err != nil {
				return err
			}
		}
		return q.DeleteContentItem(ctx, orgID, contentID)
	})
	if err != nil {
		return fmt.Errorf("delete content item %d: %w", contentID, err)
	}
	return nil
}

// checkNotLastPublished refuses to take the last published item out of an
// enabled course. The caller holds the course's lock, so the count cannot
// change underneath.
func checkNotLastPublished(ctx context.Context, q *store.Queries, c store.Course) error {
	if !c.Enabled {
		return nil
	}
	n, err := q.CountPublishedContents(ctx, c.OrganizationID, c.ID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return ErrLastPublished
	}
	return nil
}

// Direction is where a content item moves: one place up or down.
type Direction string

const (
	Up   Direction = "up"
	Down Direction = "down"
)

// MoveContent swaps a content item with its neighbour above or below. An
// item already first (or last) stays where it is.
func (s *Service) MoveContent(ctx context.Context, actor *store.User, orgID, courseID, contentID int64, d Direction) error {
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.EditContent); err != nil {
			return err
		}
		if _, err := lockCourse(ctx, q, orgID, courseID); err != nil {
			return err
		}
		if d != Up && d != Down {
			return problem.Field("direction", "invalid_direction", "Move an item up or down.")
		}
		items, err := q.CourseContents(ctx, orgID, courseID)
		if err != nil {
			return err
		}
		i := indexOf(items, contentID)
		if i < 0 {
			return ErrContentNotFound
		}
		j := i - 1
		if d == Down {
			j = i + 1
		}
		if j < 0 || j >= len(items) {
			return nil
		}
		order := append([]store.ContentItem(nil), items...)
		order[i], order[j] = order[j], order[i]
		return reposition(ctx, q, orgID, courseID, items, order)
	})
	if err != nil {
		return fmt.Errorf("move content item %d %s: %w", contentID, d, err)
	}
	return nil
}

// ReorderContents puts a course's items in the order of ids, which must
// name every item of the course exactly once. It returns the items in
// their new order.
func (s *Service) ReorderContents(ctx context.Context, actor *store.User, orgID, courseID int64, ids []int64) ([]store.ContentItem, error) {
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.EditContent); err != nil {
			return err
		}
		if _, err := lockCourse(ctx, q, orgID, courseID); err != nil {
			return err
		}
		items, err := q.CourseContents(ctx, orgID, courseID)
		if err != nil {
			return err
		}
		order := make([]store.ContentItem, 0, len(ids))
		seen := map[int64]bool{}
		for _, id := range ids {
			i := indexOf(items, id)
			if i < 0 || seen[id] {
				break
			}
			seen[id] = true
			order = append(order, items[i])
		}
		if len(order) != len(ids) || len(order) != len(items) {
			return problem.Field("ids", "invalid_order",
				fmt.Sprintf("List the ids of all %d items of the course, each once, in the new order.", len(items)))
		}
		return reposition(ctx, q, orgID, courseID, items, order)
	})
	if err != nil {
		return nil, fmt.Errorf("reorder course %d: %w", courseID, err)
	}
	return s.db.Read().CourseContents(ctx, orgID, courseID)
}

// reposition gives the items of a course (current, in their order) the
// order of order. It hands out the positions the items already hold, in
// increasing order, rather than numbering afresh: the delivery engine
// knows each learner's place by the position of the last item sent, and
// items that do not move keep their positions, so places survive moves
// and deletions elsewhere in the course.
func reposition(ctx context.Context, q *store.Queries, orgID, courseID int64, current, order []store.ContentItem) error {
	prev := 0
	for i, item := range order {
		p := current[i].Position
		if i > 0 && p <= prev {
			p = prev + 1 // positions shared by two items are pulled apart
		}
		prev = p
		if item.Position != p {
			if err := q.SetContentPosition(ctx, orgID, courseID, item.ID, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func indexOf(items []store.ContentItem, id int64) int {
	for i, item := range items {
		if item.ID == id {
			return i
		}
	}
	return -1
}

// sameStructure reports whether two lists of questions have as many
// questions, each with as many answers, marked correct alike: whether they
// differ at most in their texts.
func sameStructure(stored []store.QuizQuestion, entered []Question) bool {
	if len(stored) != len(entered) {
		return false
	}
	for i, q := range stored {
		if len(q.Answers) != len(entered[i].Answers) {
			return false
		}
		for j, a := range q.Answers {
			if a.Correct != entered[i].Answers[j].Correct {
				return false
			}
		}
	}
	return true
}

// entered turns stored questions back into input, to validate them with
// the rest of an update.
func entered(questions []store.QuizQuestion) []Question {
	list := make([]Question, 0, len(questions))
	for _, q := range questions {
		e := Question{Text: q.Text}
		for _, a := range q.Answers {
			e.Answers = append(e.Answers, Answer{Text: a.Text, Correct: a.Correct})
		}
		list = append(list, e)
	}
	return list
}

func storeQuestions(questions []Question) []store.QuizQuestion {
	list := make([]store.QuizQuestion, 0, len(questions))
	for _, q := range questions {
		sq := store.QuizQuestion{Text: q.Text}
		for _, a := range q.Answers {
			sq.Answers = append(sq.Answers, store.QuizAnswer{Text: a.Text, Correct: a.Correct})
		}
		list = append(list, sq)
	}
	return list
}

// contentValues are the values of a content item, whole.
type contentValues struct {
	Title      string
	Body       string
	BodyBounds string // the bound of the Markdown renderer a new body reaches (boundsProblem), or ""
	Wait       int
	Published  bool
	Score      int
	Questions  []Question
}

// validateContent checks and cleans the values of a lesson or a quiz.
func validateContent(kind string, v contentValues) (contentValues, error) {
	fields := map[string]string{}
	var msg string
	if v.Title, msg = cleanTitle(v.Title); msg != "" {
		fields["title"] = msg
	}
	switch {
	case v.Wait < 0:
		fields["waiting_period_seconds"] = "The waiting period cannot be negative."
	case v.Wait > MaxWaitingPeriodSeconds:
		fields["waiting_period_seconds"] = "The waiting period can be at most 365 days."
	}
	v.Body = cleanBody(v.Body)
	switch kind {
	case store.KindLesson:
		if msg := checkBodyText(v.Body); msg != "" {
			fields["body"] = msg
		} else if v.BodyBounds != "" {
			fields["body"] = v.BodyBounds
		}
		if v.Score != 0 {
			fields["required_score"] = "Only quizzes have a required score."
		}
		if len(v.Questions) > 0 {
			fields["questions"] = "Only quizzes have questions."
		}
		v.Questions = nil
	case store.KindQuiz:
		if v.Body != "" {
			fields["body"] = "A quiz has no text of its own: put what learners should read in a lesson before it."
		}
		if v.Score < 0 || v.Score > 100 {
			fields["required_score"] = "Enter a required score from 0 to 100: the percentage of correct answers needed to pass."
		}
		v.Questions = validateQuestions(v.Questions, fields)
	}
	if len(fields) > 0 {
		return contentValues{}, &problem.Error{Kind: problem.Invalid, Code: "invalid_content",
			Message: fmt.Sprintf("The %s was not saved: correct the marked fields.", kind), Fields: fields}
	}
	return v, nil
}

// cleanBody normalizes a lesson body as it is saved. Leading blank lines
// and trailing spaces carry nothing; leading spaces may start a code block.
func cleanBody(body string) string {
	return strings.TrimLeft(strings.TrimRightFunc(normalizeNewlines(body), unicode.IsSpace), "\n")
}

// boundsProblem says which bound of the Markdown renderer a body about to
// be saved reaches, or "". Saving checks it before its transaction, which
// on SQLite holds the only write connection: parsing the body there would
// hold every other write up. A body that fails the checks of checkBodyText
// is not parsed; the transaction refuses it.
func boundsProblem(body *string) string {
	if body == nil {
		return ""
	}
	b := cleanBody(*body)
	if checkBodyText(b) != "" {
		return ""
	}
	return markdownProblem(b)
}

// checkBodyText checks what may be checked of a body before its Markdown
// is parsed: above all its length.
func checkBodyText(body string) string {
	switch {
	case !utf8.ValidString(body):
		return "The text is not valid."
	case utf8.RuneCountInString(body) > MaxBodyRunes:
		return fmt.Sprintf("The text is too long: use at most %d characters.", MaxBodyRunes)
	case strings.ContainsFunc(body, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return "The text may not contain control characters."
	}
	return ""
}

// PreviewLesson renders a lesson body as saving it would keep it, for the
// lesson form's preview. A body that saving would refuse is refused with
// the same message, and one too long before its Markdown is parsed.
func PreviewLesson(body string) (string, error) {
	body = cleanBody(body)
	msg := checkBodyText(body)
	html := ""
	if msg == "" {
		var err error
		if html, msg, err = renderChecked(body); err != nil {
			return "", err
		}
	}
	if msg != "" {
		return "", &problem.Error{Kind: problem.Invalid, Code: "invalid_content",
			Message: "The lesson cannot be previewed: correct its text.", Fields: map[string]string{"body": msg}}
	}
	return html, nil
}

// validateQuestions checks and cleans a quiz's questions, noting what is
// wrong in fields under keys like questions[0].answers[1].text.
func validateQuestions(questions []Question, fields map[string]string) []Question {
	switch {
	case len(questions) == 0:
		fields["questions"] = "Add at least one question."
	case len(questions) > MaxQuestions:
		fields["questions"] = fmt.Sprintf("A quiz has at most %d questions.", MaxQuestions)
	}
	cleaned := make([]Question, 0, len(questions))
	for i, q := range questions {
		key := fmt.Sprintf("questions[%d]", i)
		c := Question{Text: strings.TrimSpace(q.Text)}
		if msg := checkText(c.Text, "question", MaxQuestionRunes); msg != "" {
			fields[key+".text"] = msg
		}
		correct := 0
		for j, a := range q.Answers {
			a.Text = strings.TrimSpace(a.Text)
			if msg := checkText(a.Text, "answer", MaxAnswerRunes); msg != "" {
				fields[fmt.Sprintf("%s.answers[%d].text", key, j)] = msg
			}
			if a.Correct {
				correct++
			}
			c.Answers = append(c.Answers, a)
		}
		switch {
		case len(q.Answers) < 2:
			fields[key+".answers"] = "Give at least two answers."
		case len(q.Answers) > MaxAnswers:
			fields[key+".answers"] = fmt.Sprintf("A question has at most %d answers.", MaxAnswers)
		case correct == 0:
			fields[key+".answers"] = "Mark at least one answer as correct."
		}
		cleaned = append(cleaned, c)
	}
	return cleaned
}

// checkText returns what is wrong with the trimmed text of a question or
// an answer, or "".
func checkText(text, what string, maxRunes int) string {
	if err := names.CheckText(text); err != nil {
		return names.Message(what, err)
	}
	switch {
	case text == "":
		return "Enter the " + what + "."
	case utf8.RuneCountInString(text) > maxRunes:
		return fmt.Sprintf("The %s is too long: use at most %d characters.", what, maxRunes)
	}
	return ""
}

// WaitingUnit is a unit in which a waiting period is entered.
type WaitingUnit struct {
	Name    string
	Seconds int
}

// WaitingUnits are the units the content form offers.
var WaitingUnits = []WaitingUnit{{"minutes", 60}, {"hours", 60 * 60}, {"days", 24 * 60 * 60}}

// secondsUnit is offered only for a period that is no whole number of
// minutes, which only the API can set, so that saving a form keeps it.
var secondsUnit = WaitingUnit{"seconds", 1}

// WaitingPeriodSeconds converts a waiting period entered as an amount (a
// whole number; empty is 0) and a unit name into seconds.
func WaitingPeriodSeconds(amount, unit string) (int, error) {
	invalid := problem.Field("waiting_period_seconds", "invalid_waiting_period",
		"Enter the waiting period as a whole number of minutes, hours or days: 0 or more.")
	amount = strings.TrimSpace(amount)
	if amount == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(amount)
	if err != nil || n < 0 {
		return 0, invalid
	}
	for _, u := range UnitsFor(1) { // every unit, seconds included
		if u.Name == unit {
			if n > MaxWaitingPeriodSeconds/u.Seconds {
				return 0, problem.Field("waiting_period_seconds", "invalid_waiting_period", "The waiting period can be at most 365 days.")
			}
			return n * u.Seconds, nil
		}
	}
	return 0, invalid
}

// SplitWaitingPeriod expresses a waiting period in the largest unit that
// holds it whole, for the form: 3 days rather than 72 hours. 0 is 0 days.
func SplitWaitingPeriod(seconds int) (amount int, unit string) {
	if seconds == 0 {
		return 0, "days"
	}
	for i := len(WaitingUnits) - 1; i >= 0; i-- {
		if u := WaitingUnits[i]; seconds%u.Seconds == 0 {
			return seconds / u.Seconds, u.Name
		}
	}
	return seconds, secondsUnit.Name
}

// UnitsFor lists the units the form offers for a waiting period: seconds
// too when the period is no whole number of minutes.
func UnitsFor(seconds int) []WaitingUnit {
	if seconds%60 != 0 {
		return append([]WaitingUnit{secondsUnit}, WaitingUnits...)
	}
	return WaitingUnits
}

// DescribeWaitingPeriod says a waiting period in words: "right away",
// "1 day", "36 hours".
func DescribeWaitingPeriod(seconds int) string {
	if seconds == 0 {
		return "right away"
	}
	n, unit := SplitWaitingPeriod(seconds)
	if n == 1 {
		unit = strings.TrimSuffix(unit, "s")
	}
	return fmt.Sprintf("%d %s", n, unit)
}
