package learning_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// order lists a course's items as "title@position".
func (f *fixture) order(courseID int64) string {
	f.t.Helper()
	items, err := f.db.Read().CourseContents(context.Background(), f.org, courseID)
	if err != nil {
		f.t.Fatal(err)
	}
	var list []string
	for _, i := range items {
		list = append(list, fmt.Sprintf("%s@%d", i.Title, i.Position))
	}
	return strings.Join(list, " ")
}

func TestContentOrdering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		s := f.s
		c := f.course("Course")
		a, b, cc := f.lesson(c.ID, "A", true), f.lesson(c.ID, "B", false), f.lesson(c.ID, "C", true)
		if got := f.order(c.ID); got != "A@1 B@2 C@3" {
			t.Fatalf("new items: %s", got)
		}
		move := func(id int64, d learning.Direction, want string) {
			t.Helper()
			if err := s.MoveContent(ctx, f.editor, f.org, c.ID, id, d); err != nil {
				t.Fatalf("move %s: %v", d, err)
			}
			if got := f.order(c.ID); got != want {
				t.Errorf("after moving %d %s: %s, want %s", id, d, got, want)
			}
		}
		move(cc.ID, learning.Up, "A@1 C@2 B@3")
		move(a.ID, learning.Down, "C@1 A@2 B@3")
		move(cc.ID, learning.Up, "C@1 A@2 B@3")  // already first
		move(b.ID, learning.Down, "C@1 A@2 B@3") // already last
		move(b.ID, learning.Up, "C@1 B@2 A@3")
		if err := s.MoveContent(ctx, f.editor, f.org, c.ID, b.ID, "sideways"); code(err) != "invalid_direction" {
			t.Errorf("moving sideways: %v", err)
		}

		// A deletion leaves a gap, so the others keep their positions
		// (and learners their places); moves hand positions around.
		if err := s.DeleteContent(ctx, f.editor, f.org, c.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		if got := f.order(c.ID); got != "C@1 A@3" {
			t.Errorf("after deleting B: %s", got)
		}
		d := f.lesson(c.ID, "D", true)
		if got := f.order(c.ID); got != "C@1 A@3 D@4" {
			t.Errorf("after adding D: %s", got)
		}
		move(d.ID, learning.Up, "C@1 D@3 A@4")

		// The delivery engine's view: published items after a position.
		next := func(after int) string {
			item, err := db.Read().PublishedContentAfter(ctx, f.org, c.ID, after)
			if errors.Is(err, store.ErrNotFound) {
				return "none"
			}
			if err != nil {
				t.Fatal(err)
			}
			return item.Title
		}
		if got := []string{next(-1), next(1), next(3), next(4)}; strings.Join(got, ",") != "C,D,A,none" {
			t.Errorf("published after -1, 1, 3, 4: %v", got)
		}

		// Reordering takes every id of the course exactly once.
		other := f.course("Other")
		stranger := f.lesson(other.ID, "Stranger", false)
		before := f.snapshot(f.org, c.ID)
		for name, ids := range map[string][]int64{
			"missing one":      {a.ID, cc.ID},
			"one twice":        {a.ID, cc.ID, cc.ID},
			"a deleted one":    {a.ID, cc.ID, d.ID, b.ID},
			"another course's": {a.ID, cc.ID, stranger.ID},
			"one too many":     {a.ID, cc.ID, d.ID, stranger.ID},
			"none":             nil,
		} {
			_, err := s.ReorderContents(ctx, f.editor, f.org, c.ID, ids)
			if code(err) != "invalid_order" || kind(err) != problem.Invalid || field(err, "ids") == "" {
				t.Errorf("reorder with %s: %v", name, err)
			}
		}
		if after := f.snapshot(f.org, c.ID); after != before {
			t.Errorf("refused reorders changed the course:\nbefore %s\nafter  %s", before, after)
		}
		items, err := s.ReorderContents(ctx, f.editor, f.org, c.ID, []int64{a.ID, cc.ID, d.ID})
		if err != nil || len(items) != 3 || items[0].ID != a.ID {
			t.Fatalf("reorder: %v, %v", items, err)
		}
		if got := f.order(c.ID); got != "A@1 C@3 D@4" {
			t.Errorf("after reordering: %s", got)
		}
		// Items sharing a position (left so by hand in the database) are
		// pulled apart by the next move, so that the move shows.
		if err := db.InTx(ctx, func(q *store.Queries) error { return q.SetContentPosition(ctx, f.org, c.ID, cc.ID, 1) }); err != nil {
			t.Fatal(err)
		}
		move(cc.ID, learning.Up, "C@1 A@2 D@4")
	})
}

// TestConcurrentAdds: items added at the same moment each get their own
// position.
func TestConcurrentAdds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.course("Busy")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				_, err := f.s.CreateContent(ctx, f.editor, f.org, c.ID, learning.ContentFields{Kind: store.KindLesson, Title: ptr(fmt.Sprint(i))})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		items, _ := db.Read().CourseContents(ctx, f.org, c.ID)
		seen := map[int]bool{}
		for _, i := range items {
			if seen[i.Position] {
				t.Errorf("two items at position %d: %s", i.Position, f.order(c.ID))
			}
			seen[i.Position] = true
		}
	})
}

func TestWaitingPeriods(t *testing.T) {
	for _, tc := range []struct {
		amount, unit string
		want         int
		ok           bool
	}{
		{"2", "days", 2 * 86400, true},
		{" 3 ", "hours", 3 * 3600, true},
		{"90", "minutes", 5400, true},
		{"", "days", 0, true},
		{"0", "minutes", 0, true},
		{"45", "seconds", 45, true},
		{"365", "days", learning.MaxWaitingPeriodSeconds, true},
		{"366", "days", 0, false},
		{"99999999999999999999", "minutes", 0, false},
		{"-1", "days", 0, false},
		{"1.5", "days", 0, false},
		{"two", "days", 0, false},
		{"1", "weeks", 0, false},
	} {
		got, err := learning.WaitingPeriodSeconds(tc.amount, tc.unit)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("WaitingPeriodSeconds(%q, %q) = %d, %v", tc.amount, tc.unit, got, err)
		}
		if err != nil && field(err, "waiting_period_seconds") == "" {
			t.Errorf("WaitingPeriodSeconds(%q, %q): %v names no field", tc.amount, tc.unit, err)
		}
	}
	for seconds, want := range map[int]string{0: "0 days", 60: "1 minutes", 5400: "90 minutes", 7200: "2 hours", 172800: "2 days", 90: "90 seconds"} {
		n, unit := learning.SplitWaitingPeriod(seconds)
		if got := fmt.Sprint(n, " ", unit); got != want {
			t.Errorf("SplitWaitingPeriod(%d) = %s, want %s", seconds, got, want)
		}
		// What the form shows, it reads back the same.
		if back, err := learning.WaitingPeriodSeconds(fmt.Sprint(n), unit); err != nil || back != seconds {
			t.Errorf("round trip of %d: %d, %v", seconds, back, err)
		}
	}
	for seconds, want := range map[int]string{0: "right away", 86400: "1 day", 36 * 3600: "36 hours", 60: "1 minute", 90: "90 seconds"} {
		if got := learning.DescribeWaitingPeriod(seconds); got != want {
			t.Errorf("DescribeWaitingPeriod(%d) = %q, want %q", seconds, got, want)
		}
	}
	if units := learning.UnitsFor(90); units[0].Name != "seconds" || len(units) != 4 {
		t.Errorf("units for 90 seconds: %v", units)
	}
	if units := learning.UnitsFor(120); len(units) != 3 {
		t.Errorf("units for 2 minutes: %v", units)
	}

	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.course("Paced")
		wait, _ := learning.WaitingPeriodSeconds("2", "days")
		item, err := f.s.CreateContent(ctx, f.editor, f.org, c.ID, learning.ContentFields{Kind: store.KindLesson, Title: ptr("Later"), WaitingPeriodSeconds: &wait})
		if err != nil || item.WaitingPeriodSeconds != 172800 {
			t.Errorf("stored waiting period: %d, %v", item.WaitingPeriodSeconds, err)
		}
		for _, bad := range []int{-1, learning.MaxWaitingPeriodSeconds + 1} {
			if _, err := f.s.UpdateContent(ctx, f.editor, f.org, c.ID, item.ID, learning.ContentFields{WaitingPeriodSeconds: &bad}); field(err, "waiting_period_seconds") == "" {
				t.Errorf("waiting period %d: %v", bad, err)
			}
		}
	})
}

func question(text string, answers ...string) learning.Question {
	q := learning.Question{Text: text}
	for _, a := range answers {
		text, correct := strings.CutSuffix(a, "*")
		q.Answers = append(q.Answers, learning.Answer{Text: text, Correct: correct})
	}
	return q
}

func TestQuizValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.course("Quizzed")
		for _, tc := range []struct {
			name     string
			fields   learning.ContentFields
			field    string
			message  string
			contains bool
		}{
			{"one answer", learning.ContentFields{Questions: []learning.Question{question("Q?", "Yes*")}},
				"questions[0].answers", "Give at least two answers.", false},
			{"no correct answer", learning.ContentFields{Questions: []learning.Question{question("Q?", "Yes*", "No"), question("R?", "Yes", "No")}},
				"questions[1].answers", "Mark at least one answer as correct.", false},
			{"empty question", learning.ContentFields{Questions: []learning.Question{question("  ", "Yes*", "No")}},
				"questions[0].text", "Enter the question.", false},
			{"empty answer", learning.ContentFields{Questions: []learning.Question{question("Q?", "Yes*", " ")}},
				"questions[0].answers[1].text", "Enter the answer.", false},
			{"no questions", learning.ContentFields{}, "questions", "Add at least one question.", false},
			{"too many answers", learning.ContentFields{Questions: []learning.Question{question("Q?", "1*", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11")}},
				"questions[0].answers", "at most 10 answers", true},
			{"score over 100", learning.ContentFields{RequiredScore: ptr(101), Questions: []learning.Question{question("Q?", "Yes*", "No")}},
				"required_score", "from 0 to 100", true},
			{"negative score", learning.ContentFields{RequiredScore: ptr(-1), Questions: []learning.Question{question("Q?", "Yes*", "No")}},
				"required_score", "from 0 to 100", true},
			{"a body", learning.ContentFields{Body: ptr("Read this"), Questions: []learning.Question{question("Q?", "Yes*", "No")}},
				"body", "no text of its own", true},
		} {
			tc.fields.Kind, tc.fields.Title = store.KindQuiz, ptr("Quiz")
			_, err := f.s.CreateContent(ctx, f.editor, f.org, c.ID, tc.fields)
			got := field(err, tc.field)
			if kind(err) != problem.Invalid || (tc.contains && !strings.Contains(got, tc.message)) || (!tc.contains && got != tc.message) {
				p, _ := problem.As(err)
				t.Errorf("%s: %+v", tc.name, p)
			}
		}
		// Lessons have neither questions nor a required score.
		_, err := f.s.CreateContent(ctx, f.editor, f.org, c.ID, learning.ContentFields{Kind: store.KindLesson, Title: ptr("L"),
			RequiredScore: ptr(50), Questions: []learning.Question{question("Q?", "Yes*", "No")}})
		if field(err, "questions") == "" || field(err, "required_score") == "" {
			t.Errorf("a lesson with questions: %v", err)
		}
		if _, err := f.s.CreateContent(ctx, f.editor, f.org, c.ID, learning.ContentFields{Kind: "video", Title: ptr("V")}); code(err) != "invalid_kind" {
			t.Errorf("an unknown kind: %v", err)
		}
		if got := f.order(c.ID); got != "" {
			t.Errorf("invalid items were saved: %s", got)
		}

		// A valid quiz is saved with its questions in order, trimmed.
		quiz, err := f.s.CreateContent(ctx, f.editor, f.org, c.ID, learning.ContentFields{Kind: store.KindQuiz, Title: ptr(" Check "), RequiredScore: ptr(80),
			Questions: []learning.Question{question(" 2+2? ", " 4 *", "5"), question("Capital of France?", "Rome", "Paris*", "Lyon")}})
		if err != nil {
			t.Fatal(err)
		}
		if got := describeQuiz(quiz); got != "Check 80%: 2+2? [4* 5] Capital of France? [Rome Paris* Lyon]" {
			t.Errorf("saved quiz: %s", got)
		}
		// A lesson stays a lesson.
		lesson := f.lesson(c.ID, "Lesson", false)
		if _, err := f.s.UpdateContent(ctx, f.editor, f.org, c.ID, lesson.ID, learning.ContentFields{Kind: store.KindQuiz}); code(err) != "kind_fixed" {
			t.Errorf("turning a lesson into a quiz: %v", err)
		}
	})
}

func describeQuiz(item store.ContentItem) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d%%:", item.Title, item.RequiredScore)
	for _, q := range item.Questions {
		fmt.Fprintf(&b, " %s [", q.Text)
		for j, a := range q.Answers {
			if j > 0 {
				b.WriteString(" ")
			}
			b.WriteString(a.Text)
			if a.Correct {
				b.WriteString("*")
			}
		}
		b.WriteString("]")
	}
	return b.String()
}

func answerIDs(item store.ContentItem) string {
	var ids []string
	for _, q := range item.Questions {
		ids = append(ids, fmt.Sprint(q.ID))
		for _, a := range q.Answers {
			ids = append(ids, fmt.Sprint(a.ID))
		}
	}
	return strings.Join(ids, ",")
}

func TestPublishedQuizIsLocked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		s := f.s
		c := f.course("Quizzed")
		quiz, err := s.CreateContent(ctx, f.editor, f.org, c.ID, learning.ContentFields{Kind: store.KindQuiz, Title: ptr("Check"),
			Questions: []learning.Question{question("2+2?", "4*", "5"), question("3+3?", "6*", "7")}})
		if err != nil {
			t.Fatal(err)
		}
		// Unpublished, its structure changes freely; rows at the same
		// positions keep their ids.
		ids := answerIDs(quiz)
		quiz, err = s.UpdateContent(ctx, f.editor, f.org, c.ID, quiz.ID, learning.ContentFields{
			Questions: []learning.Question{question("2+2=?", "4*", "5", "22"), question("3+3?", "6*", "7")}})
		if err != nil || describeQuiz(quiz) != "Check 0%: 2+2=? [4* 5 22] 3+3? [6* 7]" {
			t.Fatalf("editing the unpublished quiz: %s, %v", describeQuiz(quiz), err)
		}
		kept := strings.Split(ids, ",")
		now := strings.Split(answerIDs(quiz), ",")
		if len(now) != 7 || now[0] != kept[0] || now[1] != kept[1] || now[2] != kept[2] || now[4] != kept[3] || now[5] != kept[4] || now[6] != kept[5] {
			t.Errorf("questions and answers at the same positions got new ids: %v, were %v", now, kept)
		}

		quiz, err = s.UpdateContent(ctx, f.editor, f.org, c.ID, quiz.ID, learning.ContentFields{Published: ptr(true)})
		if err != nil || !quiz.Published {
			t.Fatal(err)
		}
		ids = answerIDs(quiz)
		before := f.snapshot(f.org, c.ID)
		for name, questions := range map[string][]learning.Question{
			"add a question":       {question("2+2=?", "4*", "5", "22"), question("3+3?", "6*", "7"), question("New?", "a*", "b")},
			"remove a question":    {question("2+2=?", "4*", "5", "22")},
			"add an answer":        {question("2+2=?", "4*", "5", "22", "8"), question("3+3?", "6*", "7")},
			"remove an answer":     {question("2+2=?", "4*", "5"), question("3+3?", "6*", "7")},
			"mark another correct": {question("2+2=?", "4*", "5*", "22"), question("3+3?", "6*", "7")},
			"unmark the correct":   {question("2+2=?", "4", "5*", "22"), question("3+3?", "6*", "7")},
		} {
			_, err := s.UpdateContent(ctx, f.editor, f.org, c.ID, quiz.ID, learning.ContentFields{Questions: questions})
			if code(err) != "quiz_published" || kind(err) != problem.Conflict {
				t.Errorf("%s in a published quiz: %v", name, err)
			}
		}
		if after := f.snapshot(f.org, c.ID); after != before {
			t.Errorf("refused changes changed the quiz:\nbefore %s\nafter  %s", before, after)
		}
		// Texts may change, in place.
		quiz, err = s.UpdateContent(ctx, f.editor, f.org, c.ID, quiz.ID, learning.ContentFields{Title: ptr("Sums"), RequiredScore: ptr(50),
			Questions: []learning.Question{question("Two plus two?", "four*", "five", "twenty-two"), question("Three plus three?", "six*", "seven")}})
		if err != nil || describeQuiz(quiz) != "Sums 50%: Two plus two? [four* five twenty-two] Three plus three? [six* seven]" {
			t.Errorf("rewording the published quiz: %s, %v", describeQuiz(quiz), err)
		}
		if got := answerIDs(quiz); got != ids {
			t.Errorf("rewording changed ids: %s, were %s", got, ids)
		}
		// Unpublished in the same change, it may change: as it could just
		// after being unpublished.
		quiz, err = s.UpdateContent(ctx, f.editor, f.org, c.ID, quiz.ID, learning.ContentFields{Published: ptr(false),
			Questions: []learning.Question{question("Two plus two?", "four*", "five")}})
		if err != nil || quiz.Published || len(quiz.Questions) != 1 {
			t.Errorf("unpublishing and changing: %+v, %v", quiz, err)
		}
	})
}
