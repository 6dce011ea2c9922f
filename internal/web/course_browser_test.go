package web

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserWholeCourse runs a whole course in one visitor's Chromium,
// over real HTTP and real SMTP: the visitor enrolls from the public page,
// confirms from the emailed link, receives both lessons and the quiz
// (seconds apart), answers it wrongly, then — its retry worked as if the day had
// passed — rightly, receives the completion email, claims the
// certificate and opens its public page, whose QR code leads back to it.
// The course is made through the store: the editor's pages have tests of
// their own.
func TestBrowserWholeCourse(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	app := newTestApp(t, storetest.NewSQLite(t), sendThrough(t, sink))
	ctx := context.Background()
	const (
		orgID        = 1 // "My Organization", made by the first migration
		orgName      = "My Organization"
		courseTitle  = "Go basics"
		learnerEmail = "learner@example.com"
		learnerName  = "Ada Lovelace"
		lesson1Title = "Welcome to Go"
		lesson2Title = "Variables"
		quizTitle    = "Check"
	)

	// 1. The course: two lessons and a quiz, enabled and public. Lesson 1
	// is due at once, the others a second after the item before: items due
	// at once are queued in order but sent by several mail workers, so
	// they could overtake each other on the way to the SMTP server.
	var course store.Course
	var quiz store.ContentItem
	err := app.db.InTx(ctx, func(q *store.Queries) error {
		courseID, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: orgID, Title: courseTitle, TitleKey: "go basics", TitleSkeleton: names.Key(courseTitle),
			Slug: "go-basics", Description: "Learn Go by email.", Enabled: true, Public: true})
		if err != nil {
			return err
		}
		for _, l := range []struct {
			title, body string
			wait        int
		}{
			{lesson1Title, "Go programs are made of **packages**.", 0},
			{lesson2Title, "Declare a variable with **var**.", 1},
		} {
			if _, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: orgID, CourseID: courseID, Kind: store.KindLesson,
				Title: l.title, Body: l.body, WaitingPeriodSeconds: l.wait, Published: true}); err != nil {
				return err
			}
		}
		quizID, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: orgID, CourseID: courseID, Kind: store.KindQuiz,
			Title: quizTitle, WaitingPeriodSeconds: 1, Published: true, RequiredScore: 100})
		if err != nil {
			return err
		}
		if err := q.SaveQuizQuestions(ctx, orgID, quizID, []store.QuizQuestion{
			{Text: "Which keyword declares a variable?", Answers: []store.QuizAnswer{{Text: "var", Correct: true}, {Text: "let"}}},
		}); err != nil {
			return err
		}
		if course, err = q.Course(ctx, orgID, courseID); err != nil {
			return err
		}
		quiz, err = q.ContentItem(ctx, orgID, quizID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(quiz.Questions) != 1 || len(quiz.Questions[0].Answers) != 2 {
		t.Fatalf("the quiz's questions: %+v", quiz.Questions)
	}
	answerBox := func(a int) string {
		return fmt.Sprintf(`input[name="q%d"][value="%d"]`, quiz.Questions[0].ID, quiz.Questions[0].Answers[a].ID)
	}
	const right, wrong = 0, 1

	// received waits for the nth message at the SMTP server, checks it is
	// to the learner with a subject, and returns it taken apart.
	received := func(n int, subject string) mail.Parsed {
		t.Helper()
		msgs := sink.Wait(t, n, 15*time.Second)
		if len(msgs) < n {
			t.Fatalf("the SMTP server received %d messages, want %d (%q)", len(msgs), n, subject)
		}
		if !slices.Equal(msgs[n-1].To, []string{learnerEmail}) {
			t.Errorf("message %d is to %v, want %s", n, msgs[n-1].To, learnerEmail)
		}
		p, err := mail.Parse(msgs[n-1].Data)
		if err != nil {
			t.Fatal(err)
		}
		if got := mail.DecodeSubject(p.Header.Get("Subject")); got != subject {
			t.Fatalf("message %d's subject is %q, want %q", n, got, subject)
		}
		return p
	}
	enrollment := func() store.Enrollment {
		t.Helper()
		list, _, err := app.db.Read().ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: orgID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].LearnerEmail != learnerEmail || list[0].CourseID != course.ID {
			t.Fatalf("the enrollments are %+v, want one of %s in course %d", list, learnerEmail, course.ID)
		}
		return list[0]
	}

	// 2. A visitor enrolls from the organization's public page.
	visitor := newBrowserTab(t, app, "visitor")
	visitor.follow("open the public page", http.StatusOK,
		chromedp.Navigate(fmt.Sprintf("%s/email-learning/public/organization/%d/", app.srv.URL, orgID)))
	card := fmt.Sprintf(`//li[contains(@class, "card")][.//h3[normalize-space(.)=%q]]`, courseTitle)
	emailField := chromedp.Search(card + `//input[@type="email"]`)
	visitor.do("wait for the course's form", chromedp.WaitVisible(emailField), chromedp.SendKeys(emailField, learnerEmail))
	visitor.screenshot("1-public-organization")
	visitor.follow("enroll", http.StatusOK, chromedp.Click(chromedp.Search(card+`//button[@type="submit"]`)))
	if got := visitor.text("main h1"); got != "Check your inbox" {
		t.Errorf("after enrolling the page says %q, want Check your inbox", got)
	}

	// 3. The visitor confirms from the emailed link.
	confirmEmail := received(1, "Confirm your enrollment in "+courseTitle)
	confirmLink := app.linkIn(confirmEmail.Text, "/email-learning/public/enrollments/confirm/")
	visitor.follow("open the confirmation link", http.StatusOK, chromedp.Navigate(app.srv.URL+confirmLink))
	confirmButton := chromedp.Search(`//main//form//button[normalize-space(.)="Confirm and start the course"]`)
	visitor.do("wait for the confirm button", chromedp.WaitVisible(confirmButton))
	visitor.follow("confirm", http.StatusOK, chromedp.Click(confirmButton))
	visitor.screenshot("2-confirmed")
	if got := visitor.text("main h1"); got != "You are enrolled" {
		t.Errorf("after confirming the page says %q:\n%s", got, visitor.text("main"))
	}
	if e := enrollment(); e.Status != store.EnrollmentActive {
		t.Errorf("after confirming, the enrollment is %s, want active", e.Status)
	}

	// 4. Both lessons, then the quiz, arrive in order.
	received(2, courseTitle+": "+lesson1Title)
	received(3, courseTitle+": "+lesson2Title)
	quizEmail := received(4, courseTitle+": "+quizTitle)

	// answer opens a quiz link, checks one answer, submits, and returns
	// the result page's text.
	answer := func(step, link string, box int) string {
		t.Helper()
		visitor.follow("open the quiz link "+step, http.StatusOK, chromedp.Navigate(app.srv.URL+link))
		visitor.do("wait for the quiz "+step, chromedp.WaitVisible(chromedp.CSS(answerBox(box))))
		visitor.screenshot(step + "-quiz")
		visitor.do("check an answer "+step, chromedp.Click(chromedp.CSS(answerBox(box))))
		visitor.follow("submit the quiz "+step, http.StatusOK, visitor.submit())
		visitor.do("wait for the result "+step, chromedp.WaitVisible(chromedp.CSS(`p.quiz-score`)))
		visitor.screenshot(step + "-result")
		return visitor.text("main")
	}

	// 5. A wrong answer: the quiz comes again a day later.
	text := answer("3", app.linkIn(quizEmail.Text, "/email-learning/public/quizzes/"), wrong)
	for _, want := range []string{"You did not pass", "Your score: 0%", "You can try again tomorrow"} {
		if !strings.Contains(text, want) {
			t.Errorf("the first result page lacks %q:\n%s", want, text)
		}
	}
	en := enrollment()
	if en.Status != store.EnrollmentActive {
		t.Errorf("after the wrong answer, the enrollment is %s, want active", en.Status)
	}
	ds, err := app.db.Read().EnrollmentDeliveries(ctx, orgID, en.ID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ds, func(d store.Delivery) bool { return d.ContentID == quiz.ID && d.Attempt == 2 })
	if i < 0 {
		t.Fatalf("no second attempt of the quiz is scheduled: %+v", ds)
	}
	retry := ds[i]
	if retry.Status != store.DeliveryScheduled || time.Until(retry.DueAt) < 23*time.Hour {
		t.Errorf("the retry is %s, due %v; want scheduled, about a day later", retry.Status, retry.DueAt)
	}

	// 6. The day passes: the retry goes out, and a right answer passes.
	if err := app.engine.Deliver(ctx, retry.ID); err != nil {
		t.Fatalf("working the quiz's retry: %v", err)
	}
	retryEmail := received(5, fmt.Sprintf("%s: %s (attempt 2 of %d)", courseTitle, quizTitle, learning.MaxQuizAttempts))
	text = answer("4", app.linkIn(retryEmail.Text, "/email-learning/public/quizzes/"), right)
	for _, want := range []string{"You passed", "Your score: 100%", "You completed the course"} {
		if !strings.Contains(text, want) {
			t.Errorf("the second result page lacks %q:\n%s", want, text)
		}
	}
	if e := enrollment(); e.Status != store.EnrollmentCompleted || e.EndedAt == nil {
		t.Errorf("after passing the quiz, the enrollment is %+v; want completed", e)
	}

	// 7. The completion email's link claims the certificate.
	completedEmail := received(6, "You completed "+courseTitle+": claim your certificate")
	if got := len(app.mails(learnerEmail, mail.KindCourseCompleted)); got != 1 {
		t.Errorf("%d course_completed emails are recorded, want 1", got)
	}
	claim := app.linkIn(completedEmail.Text, "/email-learning/public/certificates/claim/")
	visitor.follow("open the claim link", http.StatusOK, chromedp.Navigate(app.srv.URL+claim))
	visitor.do("enter the name", chromedp.WaitVisible(chromedp.ID("name")), chromedp.SendKeys(chromedp.ID("name"), learnerName))
	visitor.screenshot("5-claim")
	visitor.follow("claim", http.StatusOK, visitor.submit())
	visitor.do("wait for the certificate", chromedp.WaitVisible(chromedp.CSS(`.certificate-qr`)))
	visitor.screenshot("6-certificate")
	c, err := app.db.Read().CertificateOfEnrollment(ctx, orgID, en.ID)
	if err != nil || !c.Claimed() || c.LearnerName != learnerName {
		t.Fatalf("after the claim, the certificate is claimed %v for %q, %v; want claimed for %q", c.Claimed(), c.LearnerName, err, learnerName)
	}
	page := learning.CertificatePath(c.Number)
	if got := visitor.location(); got != page {
		t.Errorf("after the claim, the visitor is at %s, want %s", got, page)
	}
	for sel, want := range map[string]string{".certificate-name": learnerName, ".certificate-course": courseTitle, ".certificate-org": orgName} {
		if got := visitor.text(sel); got != want {
			t.Errorf("the certificate's %s shows %q, want %q", sel, got, want)
		}
	}

	// 8. The QR code leads back to the page.
	pageURL := visitor.eval(`document.location.href`)
	qrURL := visitor.eval(`document.querySelector(".certificate-qr").src`)
	res, err := http.Get(qrURL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: %d %s, %v", qrURL, res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the QR code: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := zxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode the QR code: %v", err)
	}
	if got := decoded.GetText(); got != pageURL || got != app.srv.URL+page {
		t.Errorf("the QR code reads %q, want the page's URL %q", got, pageURL)
	}
}
