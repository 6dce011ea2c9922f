package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Kinds of content items.
const (
	KindLesson = "lesson"
	KindQuiz   = "quiz"
)

// ContentItem is one lesson or quiz of a course. Items are sent in the
// order of Position (then ID); positions only order, they may have gaps.
type ContentItem struct {
	ID                   int64
	OrganizationID       int64
	CourseID             int64
	Kind                 string // KindLesson or KindQuiz
	Title                string
	Body                 string // Markdown, lessons only
	Position             int
	WaitingPeriodSeconds int // after the previous item was sent
	Published            bool
	RequiredScore        int // percent of correct answers to pass, quizzes only
	CreatedAt            time.Time
	UpdatedAt            time.Time
	// Questions are a quiz's questions in order; nil for lessons.
	Questions []QuizQuestion
}

// QuizQuestion is one question of a quiz, with its answers in order.
type QuizQuestion struct {
	ID      int64
	Text    string
	Answers []QuizAnswer
}

// QuizAnswer is one answer to a quiz question.
type QuizAnswer struct {
	ID      int64
	Text    string
	Correct bool
}

const contentColumns = `i.id, i.organization_id, i.course_id, i.kind, i.title, i.body, i.position,
	i.waiting_period_seconds, i.published, i.required_score, i.created_at, i.updated_at`

func scanContentItem(r row) (ContentItem, error) {
	var c ContentItem
	err := r.Scan(&c.ID, &c.OrganizationID, &c.CourseID, &c.Kind, &c.Title, &c.Body, &c.Position,
		&c.WaitingPeriodSeconds, &c.Published, &c.RequiredScore, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return ContentItem{}, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// ContentItem returns a content item of an organization, a quiz with its
// questions and answers, or ErrNotFound.
func (q *Queries) ContentItem(ctx context.Context, orgID, id int64) (ContentItem, error) {
	c, err := scanContentItem(q.queryRow(ctx, `SELECT `+contentColumns+` FROM content_items i WHERE i.organization_id = ? AND i.id = ?`, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ContentItem{}, ErrNotFound
	}
	if err != nil {
		return ContentItem{}, fmt.Errorf("content item %d of organization %d: %w", id, orgID, err)
	}
	if err := q.withQuestions(ctx, orgID, &c); err != nil {
		return ContentItem{}, err
	}
	return c, nil
}

// PublishedContentAfter returns the first published item of a course
// whose position is after afterPosition (-1 for the first item), or
// ErrNotFound when there is none: what the delivery engine sends next.
func (q *Queries) PublishedContentAfter(ctx context.Context, orgID, courseID int64, afterPosition int) (ContentItem, error) {
	c, err := scanContentItem(q.queryRow(ctx, `
		SELECT `+contentColumns+` FROM content_items i
		WHERE i.organization_id = ? AND i.course_id = ? AND i.published AND i.position > ?
		ORDER BY i.position, i.id LIMIT 1`, orgID, courseID, afterPosition))
	if errors.Is(err, sql.ErrNoRows) {
		return ContentItem{}, ErrNotFound
	}
	if err != nil {
		return ContentItem{}, fmt.Errorf("published content of course %d after position %d: %w", courseID, afterPosition, err)
	}
	if err := q.withQuestions(ctx, orgID, &c); err != nil {
		return ContentItem{}, err
	}
	return c, nil
}

// CourseContents returns every item of a course in order, quizzes with
// their questions and answers.
func (q *Queries) CourseContents(ctx context.Context, orgID, courseID int64) ([]ContentItem, error) {
	rs, err := q.query(ctx, courseContentsQuery, orgID, courseID)
	if err != nil {
		return nil, fmt.Errorf("contents of course %d: %w", courseID, err)
	}
	var list []ContentItem
	for rs.Next() {
		c, err := scanContentItem(rs)
		if err != nil {
			rs.Close()
			return nil, fmt.Errorf("contents of course %d: %w", courseID, err)
		}
		list = append(list, c)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("contents of course %d: %w", courseID, err)
	}
	// One more query for every question of the course, rather than one
	// per quiz.
	questions, err := q.quizQuestions(ctx, courseQuestionsCondition, orgID, courseID)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Kind == KindQuiz {
			list[i].Questions = questions[list[i].ID]
			if list[i].Questions == nil {
				list[i].Questions = []QuizQuestion{}
			}
		}
	}
	return list, nil
}

// CountPublishedContents counts the published items of a course.
func (q *Queries) CountPublishedContents(ctx context.Context, orgID, courseID int64) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM content_items WHERE organization_id = ? AND course_id = ? AND published`,
		orgID, courseID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count published contents of course %d: %w", courseID, err)
	}
	return n, nil
}

const (
	courseContentsQuery = `SELECT ` + contentColumns + ` FROM content_items i
		WHERE i.organization_id = ? AND i.course_id = ? ORDER BY i.position, i.id`
	quizQuestionsQuery = `
		SELECT qq.content_id, qq.id, qq.text, a.id, a.text, a.correct
		FROM quiz_questions qq
		LEFT JOIN quiz_answers a ON a.question_id = qq.id AND a.organization_id = qq.organization_id
		`
	quizQuestionsOrder = `
		ORDER BY qq.content_id, qq.position, qq.id, a.position, a.id`
	// The questions of a course's quizzes, for quizQuestions.
	courseQuestionsCondition = `
		JOIN content_items i ON i.id = qq.content_id AND i.organization_id = qq.organization_id
		WHERE qq.organization_id = ? AND i.course_id = ?`
)

// withQuestions loads the questions of c when it is a quiz.
func (q *Queries) withQuestions(ctx context.Context, orgID int64, c *ContentItem) error {
	if c.Kind != KindQuiz {
		return nil
	}
	questions, err := q.quizQuestions(ctx, `WHERE qq.organization_id = ? AND qq.content_id = ?`, orgID, c.ID)
	if err != nil {
		return err
	}
	c.Questions = questions[c.ID]
	if c.Questions == nil {
		c.Questions = []QuizQuestion{}
	}
	return nil
}

// quizQuestions returns the questions, with their answers, that the
// condition selects, by content item id and in order.
func (q *Queries) quizQuestions(ctx context.Context, cond string, args ...any) (map[int64][]QuizQuestion, error) {
	rs, err := q.query(ctx, quizQuestionsQuery+cond+quizQuestionsOrder, args...)
	if err != nil {
		return nil, fmt.Errorf("quiz questions: %w", err)
	}
	defer rs.Close()
	byContent := map[int64][]QuizQuestion{}
	for rs.Next() {
		var (
			contentID, questionID int64
			text                  string
			answerID              sql.NullInt64
			answerText            sql.NullString
			correct               sql.NullBool
		)
		if err := rs.Scan(&contentID, &questionID, &text, &answerID, &answerText, &correct); err != nil {
			return nil, fmt.Errorf("quiz questions: %w", err)
		}
		list := byContent[contentID]
		if len(list) == 0 || list[len(list)-1].ID != questionID {
			list = append(list, QuizQuestion{ID: questionID, Text: text, Answers: []QuizAnswer{}})
		}
		if answerID.Valid {
			last := &list[len(list)-1]
			last.Answers = append(last.Answers, QuizAnswer{ID: answerID.Int64, Text: answerText.String, Correct: correct.Bool})
		}
		byContent[contentID] = list
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("quiz questions: %w", err)
	}
	return byContent, nil
}

// NewContentItem holds the fields of a content item to create.
type NewContentItem struct {
	OrganizationID       int64
	CourseID             int64
	Kind                 string
	Title                string
	Body                 string
	WaitingPeriodSeconds int
	Published            bool
	RequiredScore        int
}

// CreateContentItem appends an item to a course: its position follows the
// last one's. Callers hold the course's lock (LockCourse), so two items
// added at once do not share a position.
func (q *Queries) CreateContentItem(ctx context.Context, c NewContentItem) (int64, error) {
	t := now()
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO content_items (organization_id, course_id, kind, title, body, position,
			waiting_period_seconds, published, required_score, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?,
			(SELECT COALESCE(MAX(position), 0) + 1 FROM content_items WHERE organization_id = ? AND course_id = ?),
			?, ?, ?, ?, ?) RETURNING id`,
		c.OrganizationID, c.CourseID, c.Kind, c.Title, c.Body, c.OrganizationID, c.CourseID,
		c.WaitingPeriodSeconds, c.Published, c.RequiredScore, t, t).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create content item %q in course %d: %w", c.Title, c.CourseID, err)
	}
	return id, nil
}

// ContentFields are the editable fields of a content item; its kind and
// course are fixed, its position changes by SetContentPosition.
type ContentFields struct {
	Title                string
	Body                 string
	WaitingPeriodSeconds int
	Published            bool
	RequiredScore        int
}

// UpdateContentItem replaces the editable fields of a content item, or
// gives ErrNotFound.
func (q *Queries) UpdateContentItem(ctx context.Context, orgID, id int64, f ContentFields) error {
	n, err := q.exec(ctx, `
		UPDATE content_items SET title = ?, body = ?, waiting_period_seconds = ?, published = ?, required_score = ?, updated_at = ?
		WHERE organization_id = ? AND id = ?`,
		f.Title, f.Body, f.WaitingPeriodSeconds, f.Published, f.RequiredScore, now(), orgID, id)
	if err != nil {
		return fmt.Errorf("update content item %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("update content item %d: %w", id, ErrNotFound)
	}
	return nil
}

// SetContentPosition moves a content item of a course to a position, or
// gives ErrNotFound when the course has no such item.
func (q *Queries) SetContentPosition(ctx context.Context, orgID, courseID, id int64, position int) error {
	n, err := q.exec(ctx, `UPDATE content_items SET position = ? WHERE organization_id = ? AND course_id = ? AND id = ?`,
		position, orgID, courseID, id)
	if err != nil {
		return fmt.Errorf("move content item %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("move content item %d: %w", id, ErrNotFound)
	}
	return nil
}

// DeleteContentItem removes a content item, with a quiz's questions and
// answers, or gives ErrNotFound. The positions of the others stay: a gap
// orders as well as a number.
func (q *Queries) DeleteContentItem(ctx context.Context, orgID, id int64) error {
	if q.dialect == Postgres {
		// The delete removes the item's deliveries with it. A delivery job
		// locks its deliveries' enrollments, then the deliveries, and may
		// then schedule this item (which needs its row): lock the
		// enrollments first too, so that this waits for such a job
		// rather than deadlock with it.
		_, err := q.exec(ctx, `SELECT e.id FROM enrollments e
			WHERE e.id IN (SELECT d.enrollment_id FROM deliveries d WHERE d.organization_id = ? AND d.content_id = ?)
			ORDER BY e.id FOR NO KEY UPDATE`, orgID, id)
		if err != nil {
			return fmt.Errorf("delete content item %d: lock its enrollments: %w", id, err)
		}
	}
	n, err := q.exec(ctx, `DELETE FROM content_items WHERE organization_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return fmt.Errorf("delete content item %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete content item %d: %w", id, ErrNotFound)
	}
	return nil
}

// SaveQuizQuestions makes a quiz's questions and answers the given ones,
// in order (their IDs are ignored). Rows are matched by position: the
// question or answer at a position keeps its id and gets the new text and
// flag, new positions are inserted and surplus ones deleted, so whatever
// refers to a question or answer that stays keeps referring to it.
func (q *Queries) SaveQuizQuestions(ctx context.Context, orgID, contentID int64, questions []QuizQuestion) error {
	current, err := q.quizQuestions(ctx, `WHERE qq.organization_id = ? AND qq.content_id = ?`, orgID, contentID)
	if err != nil {
		return err
	}
	existing := current[contentID]
	for i, nq := range questions {
		var old QuizQuestion
		if i < len(existing) {
			old = existing[i]
			if _, err := q.exec(ctx, `UPDATE quiz_questions SET text = ?, position = ? WHERE organization_id = ? AND id = ?`,
				nq.Text, i+1, orgID, old.ID); err != nil {
				return fmt.Errorf("update question %d: %w", old.ID, err)
			}
		} else {
			err := q.queryRow(ctx, `
				INSERT INTO quiz_questions (organization_id, content_id, position, text) VALUES (?, ?, ?, ?) RETURNING id`,
				orgID, contentID, i+1, nq.Text).Scan(&old.ID)
			if err != nil {
				return fmt.Errorf("add question to quiz %d: %w", contentID, err)
			}
		}
		for j, na := range nq.Answers {
			if j < len(old.Answers) {
				if _, err := q.exec(ctx, `UPDATE quiz_answers SET text = ?, correct = ?, position = ? WHERE organization_id = ? AND id = ?`,
					na.Text, na.Correct, j+1, orgID, old.Answers[j].ID); err != nil {
					return fmt.Errorf("update answer %d: %w", old.Answers[j].ID, err)
				}
				continue
			}
			if _, err := q.exec(ctx, `
				INSERT INTO quiz_answers (organization_id, question_id, position, text, correct) VALUES (?, ?, ?, ?, ?)`,
				orgID, old.ID, j+1, na.Text, na.Correct); err != nil {
				return fmt.Errorf("add answer to question %d: %w", old.ID, err)
			}
		}
		for _, surplus := range old.Answers[min(len(nq.Answers), len(old.Answers)):] {
			if _, err := q.exec(ctx, `DELETE FROM quiz_answers WHERE organization_id = ? AND id = ?`, orgID, surplus.ID); err != nil {
				return fmt.Errorf("delete answer %d: %w", surplus.ID, err)
			}
		}
	}
	for _, surplus := range existing[min(len(questions), len(existing)):] {
		if _, err := q.exec(ctx, `DELETE FROM quiz_questions WHERE organization_id = ? AND id = ?`, orgID, surplus.ID); err != nil {
			return fmt.Errorf("delete question %d: %w", surplus.ID, err)
		}
	}
	return nil
}
