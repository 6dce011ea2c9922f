package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserCourseContent drives a real Chromium, without scripts of our
// own, through writing a course: the quiz form grows by a row per button,
// Enter in a field saves rather than adding a row, a lesson is previewed
// before it is saved, and the course page moves items and enables the
// course. Each step is saved as a screenshot.
func TestBrowserCourseContent(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	ctx := context.Background()
	b := newBrowserTab(t, app, "editor")

	b.follow("open the courses", http.StatusOK, chromedp.Navigate(app.srv.URL+coursesPath(1)))
	b.do("fill the login form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
	)
	b.follow("log in", http.StatusOK, b.submit())
	b.follow("open the add form", http.StatusOK, chromedp.Click(linkBy("Add course")))
	b.do("fill the add form",
		chromedp.WaitVisible(chromedp.ID("title")),
		chromedp.SendKeys(chromedp.ID("title"), "Intro to Go"),
		chromedp.SendKeys(chromedp.ID("description"), "Ten short lessons, one a day."),
	)
	b.follow("add the course", http.StatusOK, b.submit())
	base := b.location()
	if got := b.text("main h1"); got != "Intro to Go" {
		t.Fatalf("after adding, the page is %q at %s", got, base)
	}
	courseID := idFrom(t, base)
	b.screenshot("1-new-course")

	// A quiz, one row at a time.
	b.follow("open the quiz form", http.StatusOK, chromedp.Click(linkBy("Add quiz")))
	answers0 := `input[name^="questions[0].answers["][type=text]`
	if n := b.count(answers0); n != 2 || b.count(`input[name="questions[1].text"]`) != 0 {
		t.Errorf("a new quiz offers %d answers to its first question, and a second question: %v", n, b.count(`input[name="questions[1].text"]`) != 0)
	}
	b.do("fill the first question",
		chromedp.SendKeys(chromedp.ID("title"), "Check"),
		chromedp.SendKeys(chromedp.ID("q0"), "Which keyword starts a function?"),
		chromedp.SendKeys(chromedp.ID("q0a0"), "func"),
		chromedp.Click(chromedp.CSS(`input[name="questions[0].answers[0].correct"]`)),
		chromedp.SendKeys(chromedp.ID("q0a1"), "fn"),
	)
	b.follow("add an answer", http.StatusOK, chromedp.Click(chromedp.CSS(`button[value="add_answer_0"]`)))
	if n := b.count(answers0); n != 3 || b.eval(`document.getElementById("q0a0").value`) != "func" ||
		b.eval(`String(document.querySelector('input[name="questions[0].answers[0].correct"]').checked)`) != "true" {
		t.Errorf("after adding an answer: %d answers, the typed ones kept: %s", n, b.html(`fieldset.question`))
	}
	b.do("fill the third answer", chromedp.SendKeys(chromedp.ID("q0a2"), "function"))
	b.follow("add a question", http.StatusOK, chromedp.Click(chromedp.CSS(`button[value="add_question"]`)))
	b.do("fill the second question",
		chromedp.SendKeys(chromedp.ID("q1"), "Is Go compiled?"),
		chromedp.SendKeys(chromedp.ID("q1a0"), "Yes"),
		chromedp.Click(chromedp.CSS(`input[name="questions[1].answers[0].correct"]`)),
		chromedp.SendKeys(chromedp.ID("q1a1"), "No"),
		chromedp.SetValue(chromedp.ID("required_score"), "50"),
	)
	b.screenshot("2-quiz-form")
	// Enter in a field presses the form's first button: the hidden Save,
	// not "Add answer".
	b.follow("save with Enter", http.StatusOK, chromedp.SendKeys(chromedp.ID("title"), kb.Enter))
	if b.location() != base {
		t.Fatalf("after saving the quiz with Enter, the browser is at %s: %s", b.location(), b.text("main"))
	}
	items, err := app.db.Read().CourseContents(ctx, 1, courseID)
	if err != nil || len(items) != 1 || len(items[0].Questions) != 2 || len(items[0].Questions[0].Answers) != 3 || items[0].RequiredScore != 50 {
		t.Fatalf("the saved quiz: %+v, %v", items, err)
	}
	quizID := items[0].ID

	// A lesson, previewed first.
	b.follow("open the lesson form", http.StatusOK, chromedp.Click(linkBy("Add lesson")))
	b.do("write the lesson",
		chromedp.SendKeys(chromedp.ID("title"), "Welcome"),
		chromedp.SendKeys(chromedp.ID("body"), "# Hello, Go\n\nSome **bold** words and a [link](https://go.dev).\n\n- one\n- two\n\n<img src=x onerror=alert(1)>\n"),
		chromedp.SetValue(chromedp.ID("waiting_period"), "2"),
		chromedp.SetValue(chromedp.ID("waiting_unit"), "hours"),
		chromedp.Click(chromedp.CSS(`input[name="published"]`)),
	)
	b.follow("preview", http.StatusOK, chromedp.Click(chromedp.CSS(`button[value="preview"]`)))
	if got := b.text("section.preview h1"); got != "Hello, Go" || b.count(`section.preview li`) != 2 || b.count(`section.preview [onerror]`) != 0 {
		t.Errorf("the preview: %s", b.html("section.preview"))
	}
	if b.eval(`document.getElementById("waiting_unit").value`) != "hours" || b.eval(`String(document.querySelector('input[name="published"]').checked)`) != "true" {
		t.Errorf("the preview lost the form's values: %s", b.html("form.content-form"))
	}
	b.screenshot("3-lesson-preview")
	b.follow("save the lesson", http.StatusOK, chromedp.Click(chromedp.CSS(`.form-buttons button[value="save"]`)))
	items, _ = app.db.Read().CourseContents(ctx, 1, courseID)
	if len(items) != 2 || items[1].Title != "Welcome" || items[1].WaitingPeriodSeconds != 7200 || !items[1].Published {
		t.Fatalf("the saved lesson: %+v", items)
	}
	lessonID := items[1].ID

	// The lesson goes first, then the course is enabled.
	b.follow("move the lesson up", http.StatusOK, chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-content-id="%d"] button[title="Move up"]`, lessonID))))
	if got := b.labels(`table.contents tbody td:nth-child(2)`); !slices.Equal(got, []string{"Welcome", "Check"}) {
		t.Errorf("after moving the lesson up: %v", got)
	}
	if b.count(fmt.Sprintf(`tr[data-content-id="%d"] button[title="Move down"]`, quizID)) != 0 {
		t.Errorf("the last item offers to move down")
	}
	b.follow("enable the course", http.StatusOK, chromedp.Click(chromedp.CSS(`form.toggle button`)))
	if got := b.text("dd.course-status .status"); got != "enabled" {
		t.Errorf("after enabling, the status is %q", got)
	}
	b.screenshot("4-course-enabled")
	b.follow("open the lesson", http.StatusOK, chromedp.Click(linkBy("Welcome")))
	b.screenshot("5-lesson")
}
