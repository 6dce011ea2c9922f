package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/browsertest"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserQuiz drives a real Chromium through a quiz link: the
// learner checks answers, submits the form (no JavaScript, the
// cross-origin check passes for the site's own page) and sees the score.
func TestBrowserQuiz(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	sc := newSchool(t, app)
	quiz := sc.addQuiz(t)
	admin := app.loggedIn(adminEmail, adminPassword)
	if res, body := admin.api(http.MethodPost, "/api/v1/organizations/1/enrollments", map[string]any{"email": "ada@example.com", "course_id": sc.courseID}); res.status != http.StatusCreated {
		t.Fatalf("enroll: %d %v", res.status, body)
	}
	storetest.Eventually(t, 10*time.Second, "the quiz email", func() bool { return len(app.mails("ada@example.com", mail.KindQuiz)) > 0 })
	path := app.linkIn(app.mails("ada@example.com", mail.KindQuiz)[0].Text, "/email-learning/public/quizzes/")

	ctx := browsertest.New(t)
	box := func(q, a int) string {
		return fmt.Sprintf(`input[name="q%d"][value="%d"]`, quiz.Questions[q].ID, quiz.Questions[q].Answers[a].ID)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(app.srv.URL+path),
		chromedp.WaitVisible(chromedp.CSS(`form button[type=submit]`)),
	)
	if err != nil {
		t.Fatalf("open the quiz: %v", err)
	}
	browsertest.Screenshot(t, ctx, "1-questions")
	// Two of the even numbers, and one wrong pick on the second question.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(box(0, 1))),
		chromedp.Click(chromedp.CSS(box(0, 2))),
		chromedp.Click(chromedp.CSS(box(1, 0))),
		chromedp.Click(chromedp.CSS(box(1, 1))),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.quiz-score`)),
	)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	browsertest.Screenshot(t, ctx, "2-result")
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	// Question 1: 2/2 − 0 = 1; question 2: 1 − 1/1 = 0; 50%, under 75%.
	for _, want := range []string{"You did not pass", "Your score: 50%", "You can try again tomorrow"} {
		if !strings.Contains(text, want) {
			t.Errorf("the result page lacks %q:\n%s", want, text)
		}
	}
}
