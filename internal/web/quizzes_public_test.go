package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// addQuizDelivery gives an authorization test organization a published
// quiz in its enabled course, recorded as emailed to the active
// enrollment: the quiz link's page and a passing answer.
func (f *authzFixture) addQuizDelivery(ctx context.Context, q *store.Queries, o *authzOrg, now time.Time) error {
	id, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: o.id, CourseID: o.enrollCourse, Kind: store.KindQuiz,
		Title: "Quiz", Published: true, RequiredScore: 50})
	if err != nil {
		return err
	}
	if err := q.SaveQuizQuestions(ctx, o.id, id, []store.QuizQuestion{
		{Text: "Ready?", Answers: []store.QuizAnswer{{Text: "Yes", Correct: true}, {Text: "No"}}}}); err != nil {
		return err
	}
	quiz, err := q.ContentItem(ctx, o.id, id)
	if err != nil {
		return err
	}
	d, _, err := q.ScheduleDelivery(ctx, o.id, o.enrollment, id, 1, now)
	if err != nil {
		return err
	}
	m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: &o.id, Kind: "quiz", Sender: "noreply@localhost",
		Recipient: "learner@example.com", Subject: "Quiz", MessageID: fmt.Sprintf("delivery-%d@localhost", d), Raw: []byte("Subject: Quiz\r\n\r\nQuiz\r\n")})
	if err != nil {
		return err
	}
	if err := q.MarkDeliverySent(ctx, d, m.ID); err != nil {
		return err
	}
	o.quizPage = learning.NewService(f.app.db, learning.Config{SecretKey: testSecretKey}).QuizURL(d, o.enrollmentKey)
	question := quiz.Questions[0]
	o.quizAnswer = url.Values{fmt.Sprintf("q%d", question.ID): {fmt.Sprint(question.Answers[0].ID)}}
	return nil
}

// addQuiz gives the school's course a quiz, sent at once, then a lesson
// two days after it.
func (sc school) addQuiz(t *testing.T) store.ContentItem {
	t.Helper()
	ctx := context.Background()
	var quiz store.ContentItem
	err := sc.app.db.InTx(ctx, func(q *store.Queries) error {
		id, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID, Kind: store.KindQuiz,
			Title: "Check", Published: true, RequiredScore: 75})
		if err != nil {
			return err
		}
		if err := q.SaveQuizQuestions(ctx, sc.orgID, id, []store.QuizQuestion{
			{Text: "Which are even?", Answers: []store.QuizAnswer{{Text: "One"}, {Text: "Two", Correct: true}, {Text: "Four", Correct: true}}},
			{Text: "Is Go compiled?", Answers: []store.QuizAnswer{{Text: "Yes", Correct: true}, {Text: "No"}}},
		}); err != nil {
			return err
		}
		if _, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID, Kind: store.KindLesson,
			Title: "Three", Body: "After the quiz.", Published: true, WaitingPeriodSeconds: 2 * 24 * 3600}); err != nil {
			return err
		}
		quiz, err = q.ContentItem(ctx, sc.orgID, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return quiz
}

// answers is the quiz form with the given answers checked.
func answers(pairs ...store.QuizAnswer) url.Values {
	form := url.Values{}
	for _, p := range pairs {
		// ID is the answer's, Text the question's id here.
		form.Add("q"+p.Text, fmt.Sprint(p.ID))
	}
	return form
}

func TestQuizPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := &testClock{t: time.Now()}
		app := newTestApp(t, db, withLearning(t, clock, nil))
		sc := newSchool(t, app)
		quiz := sc.addQuiz(t)
		even, compiled := quiz.Questions[0], quiz.Questions[1]
		pick := func(q store.QuizQuestion, i int) store.QuizAnswer {
			return store.QuizAnswer{ID: q.Answers[i].ID, Text: fmt.Sprint(q.ID)}
		}
		admin := app.loggedIn(adminEmail, adminPassword)
		enroll := func(email string) (store.Enrollment, string) {
			t.Helper()
			res, body := admin.api(http.MethodPost, "/api/v1/organizations/1/enrollments", map[string]any{"email": email, "course_id": sc.courseID})
			if res.status != http.StatusCreated {
				t.Fatalf("enroll %s: %d %v", email, res.status, body)
			}
			storetest.Eventually(t, 10*time.Second, "the quiz email", func() bool { return len(app.mails(email, mail.KindQuiz)) > 0 })
			return sc.enrollment(email), app.linkIn(app.mails(email, mail.KindQuiz)[0].Text, "/email-learning/public/quizzes/")
		}
		attempts := func(e store.Enrollment) int {
			t.Helper()
			list, err := db.Read().EnrollmentQuizAttempts(ctx, sc.orgID, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			return len(list)
		}
		learner := app.client()

		e, path := enroll("ada@example.com")
		res := learner.get(path)
		if res.status != http.StatusOK || !strings.Contains(res.body, "Which are even?") || !strings.Contains(res.body, "75% needed to pass") {
			t.Fatalf("GET the quiz: %d\n%s", res.status, res.body)
		}
		for _, q := range quiz.Questions {
			for _, a := range q.Answers {
				if box := fmt.Sprintf(`<input type="checkbox" name="q%d" value="%d">`, q.ID, a.ID); !strings.Contains(res.body, box) {
					t.Errorf("the page lacks %s", box)
				}
			}
		}

		// A tampered link is not found; a foreign site cannot post.
		tampered := path[:len(path)-2] + "x/"
		if res := learner.get(tampered); res.status != http.StatusNotFound {
			t.Errorf("GET a tampered link: %d", res.status)
		}
		if res := learner.post(tampered, answers(pick(even, 1))); res.status != http.StatusNotFound {
			t.Errorf("POST a tampered link: %d", res.status)
		}
		if res := learner.post(path, answers(pick(even, 1)), "Origin", "https://evil.example"); res.status != http.StatusForbidden {
			t.Errorf("POST from another origin: %d", res.status)
		}
		// Ids that are not this quiz's answers are refused.
		for _, bad := range []url.Values{
			{fmt.Sprintf("q%d", even.ID): {fmt.Sprint(compiled.Answers[0].ID)}},
			{"q999999": {fmt.Sprint(even.Answers[0].ID)}},
			{fmt.Sprintf("q%d", even.ID): {"two"}},
		} {
			res := learner.post(path, bad)
			if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "do not belong to this quiz") || !strings.Contains(res.body, "Which are even?") {
				t.Errorf("POST %v: %d\n%s", bad, res.status, excerpt(res.body, 300))
			}
		}
		if n := attempts(e); n != 0 {
			t.Fatalf("refused posts stored %d attempts", n)
		}

		// The answer: the result page, once.
		res = learner.post(path, answers(pick(even, 1), pick(even, 2), pick(compiled, 0)))
		if res.status != http.StatusSeeOther || res.header.Get("Location") != path {
			t.Fatalf("POST the answers: %d, Location %q\n%s", res.status, res.header.Get("Location"), res.body)
		}
		res = learner.get(path)
		for _, want := range []string{"You passed", "Your score: <strong>100%</strong>", "Needed to pass: 75%", "The next lesson, <strong>Three</strong>, arrives by email in 2 days"} {
			if !strings.Contains(res.body, want) {
				t.Errorf("the result page lacks %q:\n%s", want, res.body)
			}
		}
		if strings.Contains(res.body, `type="checkbox"`) {
			t.Error("the result page offers the questions again")
		}
		if res := learner.post(path, answers(pick(even, 0))); res.status != http.StatusSeeOther {
			t.Errorf("POST again: %d", res.status)
		}
		if res := learner.get(path); !strings.Contains(res.body, "100%") || attempts(e) != 1 {
			t.Errorf("after posting again: %d attempts\n%s", attempts(e), excerpt(res.body, 300))
		}
		// Staff see the result on the enrollment's page.
		staff := admin.get(fmt.Sprintf("%s%d/enrollments/%d/", organizationsPath, sc.orgID, e.ID))
		if !strings.Contains(staff.body, "Quiz results") || !strings.Contains(staff.body, "100%") || !strings.Contains(staff.body, "passed") {
			t.Errorf("the enrollment page lacks the quiz result:\n%s", staff.body)
		}

		// A failure: try again tomorrow.
		_, path = enroll("bob@example.com")
		learner.post(path, answers(pick(even, 0), pick(compiled, 0)))
		if res := learner.get(path); !strings.Contains(res.body, "You did not pass") || !strings.Contains(res.body, "Your score: <strong>50%</strong>") ||
			!strings.Contains(res.body, "You can try again tomorrow") {
			t.Errorf("the result of a failure:\n%s", res.body)
		}

		// After 30 days the link is gone, and posting stores nothing.
		e, path = enroll("late@example.com")
		clock.advance(learning.QuizValidity + time.Hour)
		if res := learner.get(path); res.status != http.StatusGone || !strings.Contains(res.body, "expired") {
			t.Errorf("GET an expired link: %d\n%s", res.status, excerpt(res.body, 300))
		}
		if res := learner.post(path, answers(pick(even, 1))); res.status != http.StatusGone || attempts(e) != 0 {
			t.Errorf("POST an expired link: %d, %d attempts", res.status, attempts(e))
		}
	})
}

// TestPassingQuizBesideOldEmails: a deleted course keeps its emails, so
// the certificate a passed quiz issues may have the id of an old one; the
// answer must still complete the course and send the certificate's email.
func TestPassingQuizBesideOldEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		sc := newSchool(t, app)
		var quiz store.ContentItem
		err := db.InTx(ctx, func(q *store.Queries) error {
			id, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID, Kind: store.KindQuiz,
				Title: "Final", Published: true, RequiredScore: 50})
			if err != nil {
				return err
			}
			if err := q.SaveQuizQuestions(ctx, sc.orgID, id, []store.QuizQuestion{
				{Text: "Is Go compiled?", Answers: []store.QuizAnswer{{Text: "Yes", Correct: true}, {Text: "No"}}}}); err != nil {
				return err
			}
			quiz, err = q.ContentItem(ctx, sc.orgID, id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		admin := app.loggedIn(adminEmail, adminPassword)
		if res, body := admin.api(http.MethodPost, "/api/v1/organizations/1/enrollments", map[string]any{"email": "ada@example.com", "course_id": sc.courseID}); res.status != http.StatusCreated {
			t.Fatalf("enroll: %d %v", res.status, body)
		}
		storetest.Eventually(t, 10*time.Second, "the quiz email", func() bool { return len(app.mails("ada@example.com", mail.KindQuiz)) > 0 })
		email := app.mails("ada@example.com", mail.KindQuiz)[0]
		path := app.linkIn(email.Text, "/email-learning/public/quizzes/")
		_, domain, _ := strings.Cut(strings.Trim(email.Header.Get("Message-Id"), "<>"), "@")
		// The emails of a deleted course's certificates, kept.
		err = db.InTx(ctx, func(q *store.Queries) error {
			for n := 1; n <= 3; n++ {
				if _, err := q.CreateMailMessage(ctx, store.NewMailMessage{Kind: "course_completed", Sender: "noreply@" + domain,
					Recipient: "someone@example.com", Subject: "old", MessageID: fmt.Sprintf("certificate-%d@%s", n, domain), Raw: []byte("x")}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		question := quiz.Questions[0]
		res := app.client().post(path, url.Values{fmt.Sprintf("q%d", question.ID): {fmt.Sprint(question.Answers[0].ID)}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("passing answer: %d\n%s", res.status, excerpt(res.body, 300))
		}
		if got := sc.status("ada@example.com"); got != "completed" {
			t.Errorf("after passing the last quiz the enrollment is %s", got)
		}
		storetest.Eventually(t, 10*time.Second, "the certificate email", func() bool {
			return len(app.mails("ada@example.com", mail.KindCourseCompleted)) == 1
		})
	})
}
