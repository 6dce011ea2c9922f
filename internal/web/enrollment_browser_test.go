package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserCourseEnrollmentAndUnsubscribe follows a course from its
// writing to a learner's unsubscribing, over real HTTP and real SMTP, in
// two real Chromiums: an editor of "My Organization" writes "Go basics"
// (two lessons and a quiz) and enables it; an anonymous visitor enrolls
// from the public page, confirms from the emailed link, and gets the
// first lesson at once; a mail provider then unsubscribes them with the
// email's RFC 8058 one-click POST, after which the second lesson, due a
// day later, never goes out. Each page is saved as a screenshot, and the
// database is checked at each step.
func TestBrowserCourseEnrollmentAndUnsubscribe(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	app := newTestApp(t, storetest.NewSQLite(t), sendThrough(t, sink))
	ctx := context.Background()
	const (
		orgID          = 1 // "My Organization", made by the first migration
		editorEmail    = "editor@example.com"
		editorPassword = "an editor's passphrase"
		courseTitle    = "Go basics"
		learnerEmail   = "learner@example.com"
		lesson1Title   = "Welcome to Go"
		lesson1Body    = "# Hello, Go\n\nGo programs are made of **packages**, and start in *main*.\n\n- one binary\n- fast builds\n"
		lesson2Title   = "Variables"
		lesson2Body    = "Declare a variable with **var**, or with the short form.\n"
		quizTitle      = "Check"
		day            = 24 * time.Hour
	)

	// 1. The platform admin makes an editor of the organization.
	hash, err := auth.HashPassword(context.Background(), editorPassword)
	if err != nil {
		t.Fatal(err)
	}
	err = app.db.InTx(ctx, func(q *store.Queries) error {
		u, err := q.CreateUser(ctx, store.NewUser{Email: editorEmail, Name: "Edna Editor", PasswordHash: hash})
		if err != nil {
			return err
		}
		return q.AddMembership(ctx, orgID, u.ID, "editor")
	})
	if err != nil {
		t.Fatal(err)
	}

	// 2. The editor logs in and writes the course.
	editor := newBrowserTab(t, app, "editor")
	editor.follow("open the login page", http.StatusOK, chromedp.Navigate(app.srv.URL+"/accounts/login/"))
	editor.do("fill the login form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), editorEmail),
		chromedp.SendKeys(chromedp.ID("password"), editorPassword),
	)
	editor.screenshot("1-login")
	editor.follow("log in", http.StatusOK, editor.submit())
	if got := editor.text("header .who"); got != editorEmail {
		t.Fatalf("after logging in the header shows %q, want %q:\n%s", got, editorEmail, editor.text("main"))
	}
	editor.follow("open the organizations", http.StatusOK, chromedp.Click(linkBy("Organizations")))
	editor.follow("open My Organization", http.StatusOK, chromedp.Click(linkBy("My Organization")))
	editor.screenshot("2-organization")
	if got := editor.text(".your-role"); got != "editor" {
		t.Errorf("the organization page says the role %q, want editor", got)
	}
	editor.follow("open the courses", http.StatusOK, chromedp.Click(linkBy("Courses")))
	editor.do("wait for the courses", chromedp.WaitVisible(linkBy("Add course")))
	editor.screenshot("3-courses")
	if got := editor.location(); got != coursesPath(orgID) {
		t.Errorf("the Courses link leads to %s, want %s", got, coursesPath(orgID))
	}
	if got := editor.text("main h1"); got != "Courses" {
		t.Errorf("courses heading = %q", got)
	}

	editor.follow("open the add form", http.StatusOK, chromedp.Click(linkBy("Add course")))
	editor.do("fill the add form",
		chromedp.WaitVisible(chromedp.ID("title")),
		chromedp.SendKeys(chromedp.ID("title"), courseTitle),
		chromedp.SendKeys(chromedp.ID("description"), "Learn Go by email, one lesson a day."),
	)
	if got := editor.eval(`String(document.querySelector('input[name="public"]').checked)`); got != "true" {
		t.Errorf("a new course is not public by default: %s", editor.html("form"))
	}
	editor.screenshot("4-course-form")
	editor.follow("add the course", http.StatusOK, editor.submit())
	if got := editor.text("main h1"); got != courseTitle {
		t.Fatalf("after adding, the page is %q at %s:\n%s", got, editor.location(), editor.text("main"))
	}
	editor.screenshot("5-new-course")
	courseID := idFrom(t, editor.location())
	if got := editor.location(); got != coursePath(orgID, courseID) {
		t.Errorf("after adding, the editor is at %s", got)
	}
	if got := editor.text("p.flash"); !strings.HasPrefix(got, fmt.Sprintf("Course %q was added.", courseTitle)) {
		t.Errorf("flash after adding the course = %q", got)
	}
	if got := editor.text("dd.course-status .status"); got != "disabled" {
		t.Errorf("a new course is %q, want disabled", got)
	}

	// Two lessons and a quiz, each saved with the visible Save button.
	saveContent := chromedp.Click(chromedp.CSS(`.form-buttons button[value="save"]`))
	addLesson := func(n int, title, body, wait, unit string) {
		t.Helper()
		editor.follow(fmt.Sprintf("open the form of lesson %d", n), http.StatusOK, chromedp.Click(linkBy("Add lesson")))
		editor.do(fmt.Sprintf("write lesson %d", n),
			chromedp.WaitVisible(chromedp.ID("body")),
			chromedp.SendKeys(chromedp.ID("title"), title),
			chromedp.SendKeys(chromedp.ID("body"), body),
			chromedp.SetValue(chromedp.ID("waiting_period"), wait),
			chromedp.SetValue(chromedp.ID("waiting_unit"), unit),
			chromedp.Click(chromedp.CSS(`input[name="published"]`)),
		)
		editor.screenshot(fmt.Sprintf("%d-lesson-%d-form", 5+n, n))
		editor.follow(fmt.Sprintf("save lesson %d", n), http.StatusOK, saveContent)
		if got, want := editor.text("p.flash"), fmt.Sprintf("The lesson %q was added.", title); got != want {
			t.Errorf("flash after saving lesson %d = %q, want %q:\n%s", n, got, want, editor.text("main"))
		}
	}
	addLesson(1, lesson1Title, lesson1Body, "0", "minutes")
	addLesson(2, lesson2Title, lesson2Body, "1", "days")

	editor.follow("open the quiz form", http.StatusOK, chromedp.Click(linkBy("Add quiz")))
	editor.do("write the quiz",
		chromedp.WaitVisible(chromedp.ID("q0a1")),
		chromedp.SendKeys(chromedp.ID("title"), quizTitle),
		chromedp.SendKeys(chromedp.ID("q0"), "Which keyword declares a variable?"),
		chromedp.SendKeys(chromedp.ID("q0a0"), "var"),
		chromedp.Click(chromedp.CSS(`input[name="questions[0].answers[0].correct"]`)),
		chromedp.SendKeys(chromedp.ID("q0a1"), "let"),
		chromedp.SetValue(chromedp.ID("required_score"), "100"),
		chromedp.SetValue(chromedp.ID("waiting_period"), "1"),
		chromedp.SetValue(chromedp.ID("waiting_unit"), "days"),
		chromedp.Click(chromedp.CSS(`input[name="published"]`)),
	)
	editor.screenshot("8-quiz-form")
	editor.follow("save the quiz", http.StatusOK, saveContent)
	if got, want := editor.text("p.flash"), fmt.Sprintf("The quiz %q was added.", quizTitle); got != want {
		t.Errorf("flash after saving the quiz = %q, want %q:\n%s", got, want, editor.text("main"))
	}
	if got := editor.location(); got != coursePath(orgID, courseID) {
		t.Errorf("after saving the quiz, the editor is at %s", got)
	}
	if got := editor.labels(`table.contents tbody td:nth-child(2)`); !slices.Equal(got, []string{lesson1Title, lesson2Title, quizTitle}) {
		t.Errorf("the course lists %q", got)
	}
	if got := editor.labels(`table.contents tbody td:nth-child(5)`); !slices.Equal(got, []string{"published", "published", "published"}) {
		t.Errorf("the items' statuses are %q", got)
	}

	editor.follow("enable the course", http.StatusOK, chromedp.Click(chromedp.CSS(`form.toggle button`)))
	editor.screenshot("9-course-enabled")
	if got := editor.text("dd.course-status .status"); got != "enabled" {
		t.Errorf("after enabling, the status is %q:\n%s", got, editor.text("main"))
	}
	if got, want := editor.text("p.flash"), "The course is enabled: its published lessons and quizzes go out to learners."; got != want {
		t.Errorf("flash after enabling = %q, want %q", got, want)
	}
	course, err := app.db.Read().Course(ctx, orgID, courseID)
	if err != nil || course.Title != courseTitle || !course.Enabled || !course.Public {
		t.Fatalf("the course in the database: %+v, %v; want %q, enabled and public", course, err, courseTitle)
	}
	items, err := app.db.Read().CourseContents(ctx, orgID, courseID)
	if err != nil {
		t.Fatal(err)
	}
	type itemWant struct {
		kind, title string
		wait        time.Duration
	}
	var gotItems []itemWant
	for i, it := range items {
		gotItems = append(gotItems, itemWant{it.Kind, it.Title, time.Duration(it.WaitingPeriodSeconds) * time.Second})
		if !it.Published {
			t.Errorf("item %d (%s) is not published", i+1, it.Title)
		}
		if i > 0 && it.Position <= items[i-1].Position {
			t.Errorf("item %d (%s) has position %d, after %d", i+1, it.Title, it.Position, items[i-1].Position)
		}
	}
	if want := []itemWant{{store.KindLesson, lesson1Title, 0}, {store.KindLesson, lesson2Title, day}, {store.KindQuiz, quizTitle, day}}; !slices.Equal(gotItems, want) {
		t.Fatalf("the course's items are %+v, want %+v", gotItems, want)
	}
	lesson1, lesson2, quiz := items[0], items[1], items[2]
	if len(quiz.Questions) != 1 || len(quiz.Questions[0].Answers) != 2 ||
		!quiz.Questions[0].Answers[0].Correct || quiz.Questions[0].Answers[1].Correct {
		t.Errorf("the quiz: %+v, want one question with two answers, the first correct", quiz.Questions)
	}

	// 3. An anonymous visitor, in a browser of their own, enrolls from the
	// organization's public page.
	visitor := newBrowserTab(t, app, "visitor")
	publicPath := fmt.Sprintf("/email-learning/public/organization/%d/", orgID)
	visitor.follow("open the public page", http.StatusOK, chromedp.Navigate(app.srv.URL+publicPath))
	card := fmt.Sprintf(`//li[contains(@class, "card")][.//h3[normalize-space(.)=%q]]`, courseTitle)
	emailField := chromedp.Search(card + `//input[@type="email"]`)
	visitor.do("wait for the course's form", chromedp.WaitVisible(emailField))
	visitor.screenshot("1-public-organization")
	if got := visitor.text("main h1"); got != "My Organization" {
		t.Errorf("public page heading = %q", got)
	}
	if n := visitor.count("header .who"); n != 0 {
		t.Errorf("the visitor's page shows someone logged in")
	}
	if got := visitor.text(fmt.Sprintf(`li.card:has(#email-%d) h3`, courseID)); got != courseTitle {
		t.Errorf("the card with the form of course %d is titled %q, want %q", courseID, got, courseTitle)
	}
	visitor.do("type the address", chromedp.SendKeys(emailField, learnerEmail))
	visitor.follow("enroll", http.StatusOK, chromedp.Click(chromedp.Search(card+`//button[@type="submit"]`)))
	visitor.screenshot("2-check-your-inbox")
	if got, want := visitor.location(), learning.CoursePath(orgID, course.Slug)+"enrolled"; got != want {
		t.Errorf("after enrolling, the visitor is at %s, want %s", got, want)
	}
	if got := visitor.text("main h1"); got != "Check your inbox" {
		t.Errorf("after enrolling the page says %q, want Check your inbox", got)
	}
	if got := visitor.text("main"); !strings.Contains(got, courseTitle) {
		t.Errorf("the check-your-inbox page does not name the course:\n%s", got)
	}
	enrollment := func() store.Enrollment {
		t.Helper()
		app.settle() // the form only enqueues the request's job
		list, _, err := app.db.Read().ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: orgID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].LearnerEmail != learnerEmail || list[0].CourseID != courseID {
			t.Fatalf("the enrollments are %+v, want one of %s in course %d", list, learnerEmail, courseID)
		}
		return list[0]
	}
	if e := enrollment(); e.Status != store.EnrollmentUnverified || e.ActivatedAt != nil || e.ConfirmExpiresAt == nil {
		t.Errorf("after the form, the enrollment is %+v; want unverified with a pending link", e)
	}

	// 4. The confirmation email arrives; its link asks before it confirms.
	msgs := sink.Wait(t, 1, 15*time.Second)
	if len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{learnerEmail}) {
		t.Fatalf("the SMTP server received %d messages, the first to %v; want one to %s", len(msgs), msgs[0].To, learnerEmail)
	}
	confirmEmail, err := mail.Parse(msgs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mail.DecodeSubject(confirmEmail.Header.Get("Subject")), "Confirm your enrollment in "+courseTitle; got != want {
		t.Errorf("the confirmation's subject is %q, want %q", got, want)
	}
	confirmLink := app.linkIn(confirmEmail.Text, "/email-learning/public/enrollments/confirm/")
	if !strings.Contains(confirmEmail.HTML, `href="`+app.srv.URL+confirmLink+`"`) {
		t.Errorf("the confirmation's HTML part does not link to %s:\n%s", confirmLink, confirmEmail.HTML)
	}

	visitor.follow("open the confirmation link", http.StatusOK, chromedp.Navigate(app.srv.URL+confirmLink))
	confirmButton := chromedp.Search(`//main//form//button[normalize-space(.)="Confirm and start the course"]`)
	visitor.do("wait for the confirm button", chromedp.WaitVisible(confirmButton))
	visitor.screenshot("3-confirm")
	if got := visitor.text("main h1"); got != "Confirm your enrollment" {
		t.Errorf("the confirmation page's heading = %q", got)
	}
	if got := visitor.text("main h1 + p"); !strings.Contains(got, learnerEmail) || !strings.Contains(got, courseTitle) {
		t.Errorf("the confirmation page asks %q", got)
	}
	if e := enrollment(); e.Status != store.EnrollmentUnverified || e.ActivatedAt != nil {
		t.Errorf("opening the link changed the enrollment: %+v", e)
	}
	if list, err := app.db.Read().EnrollmentDeliveries(ctx, orgID, enrollment().ID); err != nil || len(list) != 0 {
		t.Errorf("opening the link scheduled deliveries: %+v, %v", list, err)
	}

	confirmedFrom := time.Now()
	visitor.follow("confirm", http.StatusOK, chromedp.Click(confirmButton))
	visitor.screenshot("4-confirmed")
	if got := visitor.text("main h1"); got != "You are enrolled" {
		t.Errorf("after confirming the page says %q:\n%s", got, visitor.text("main"))
	}
	if got := visitor.text("main h1 + p"); !strings.Contains(got, learnerEmail+" is enrolled in "+courseTitle) {
		t.Errorf("after confirming the page says %q", got)
	}
	en := enrollment()
	if en.Status != store.EnrollmentActive || en.ActivatedAt == nil || en.ConfirmedIP == "" {
		t.Errorf("after confirming, the enrollment is %+v; want active, with the confirming IP", en)
	}

	// 5. The first lesson is due at once: it arrives over SMTP.
	msgs = sink.Wait(t, 2, 15*time.Second)
	sentBy := time.Now()
	if len(msgs) != 2 || !slices.Equal(msgs[1].To, []string{learnerEmail}) {
		t.Fatalf("the SMTP server received %d messages, the second to %v; want two, the second to %s", len(msgs), msgs[1].To, learnerEmail)
	}
	lessonEmail, err := mail.Parse(msgs[1].Data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mail.DecodeSubject(lessonEmail.Header.Get("Subject")), courseTitle+": "+lesson1Title; got != want {
		t.Errorf("the lesson's subject is %q, want %q", got, want)
	}
	rendered, err := learning.RenderMarkdown(lesson1.Body)
	if err != nil {
		t.Fatal(err)
	}
	rendered = strings.ReplaceAll(rendered, "\r\n", "\n") // as the parsed part has it
	if !strings.Contains(rendered, "<strong>packages</strong>") || !strings.Contains(lessonEmail.HTML, rendered) {
		t.Errorf("the lesson's HTML part does not hold the rendered lesson\n%s\nHTML part:\n%s", rendered, lessonEmail.HTML)
	}
	if !strings.Contains(lessonEmail.Text, "Go programs are made of packages") {
		t.Errorf("the lesson's text part lacks the lesson:\n%s", lessonEmail.Text)
	}
	header := lessonEmail.Header.Get("List-Unsubscribe")
	m := regexp.MustCompile(`^<([^<>]+)>`).FindStringSubmatch(header)
	if m == nil {
		t.Fatalf("List-Unsubscribe = %q, want <URL>", header)
	}
	unsubscribeURL, err := url.Parse(m[1])
	if err != nil {
		t.Fatalf("List-Unsubscribe = %q: %v", header, err)
	}
	if unsubscribeURL.Scheme != "http" && unsubscribeURL.Scheme != "https" || unsubscribeURL.Host != strings.TrimPrefix(app.srv.URL, "http://") ||
		!strings.HasPrefix(unsubscribeURL.Path, fmt.Sprintf("/email-learning/public/unsubscribe/%d/", en.ID)) {
		t.Errorf("List-Unsubscribe = %q, want an http(s) URL of this site to /email-learning/public/unsubscribe/%d/...", header, en.ID)
	}
	if got := lessonEmail.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q, want List-Unsubscribe=One-Click", got)
	}
	if !strings.Contains(lessonEmail.HTML, `href="`+unsubscribeURL.String()+`"`) {
		t.Errorf("the lesson's HTML part does not link to %s", unsubscribeURL)
	}
	deliveries := func() []store.Delivery {
		t.Helper()
		list, err := app.db.Read().EnrollmentDeliveries(ctx, orgID, en.ID)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	ds := deliveries()
	if len(ds) != 2 || ds[0].ContentID != lesson1.ID || ds[1].ContentID != lesson2.ID {
		t.Fatalf("after the first lesson the deliveries are %+v; want lesson 1 and lesson 2", ds)
	}
	if ds[0].Status != store.DeliverySent || ds[0].SentAt == nil || ds[0].MailMessageID == nil {
		t.Errorf("the first lesson's delivery is %+v, want sent", ds[0])
	}
	lesson2Delivery := ds[1]
	if lesson2Delivery.Status != store.DeliveryScheduled {
		t.Errorf("the second lesson's delivery is %s, want scheduled", lesson2Delivery.Status)
	}
	// Due a day after the first lesson went out, which was between the
	// click and its arrival.
	if due := lesson2Delivery.DueAt; due.Before(confirmedFrom.Add(day).Add(-time.Second)) || due.After(sentBy.Add(day).Add(time.Second)) {
		t.Errorf("the second lesson is due at %v, want a day after the first (%v to %v)", due, confirmedFrom.Add(day), sentBy.Add(day))
	}
	if ds[0].SentAt != nil {
		if gap := lesson2Delivery.DueAt.Sub(*ds[0].SentAt); gap < day-time.Second || gap > day+time.Second {
			t.Errorf("the second lesson is due %v after the first was sent, want a day", gap)
		}
	}

	// 6. A mail provider unsubscribes with one click: a POST from its
	// servers, no cookies, no Origin.
	provider := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	oneClick := func(origin, want string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, unsubscribeURL.String(), strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := provider.Do(req)
		if err != nil {
			t.Fatalf("one-click POST (Origin %q): %v", origin, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode < 200 || res.StatusCode > 299 {
			t.Fatalf("one-click POST (Origin %q): status %d, want 2xx\n%s", origin, res.StatusCode, body)
		}
		if !strings.Contains(string(body), want) {
			t.Errorf("one-click POST (Origin %q) answers:\n%s", origin, body)
		}
	}
	oneClick("", "You are unsubscribed")
	if e := enrollment(); e.Status != store.EnrollmentUnsubscribed || e.EndedAt == nil {
		t.Errorf("after the one-click POST, the enrollment is %+v; want unsubscribed", e)
	}
	ds = deliveries()
	if len(ds) != 2 || ds[0].Status != store.DeliverySent || ds[1].Status != store.DeliveryCancelled {
		t.Errorf("after the one-click POST, the deliveries are %+v; want lesson 1 sent, lesson 2 cancelled", ds)
	}
	// Some providers send their own Origin: accepted, nothing more
	// changes, and the page says it was done before.
	oneClick("https://mail.example", "You were already unsubscribed")
	if e := enrollment(); e.Status != store.EnrollmentUnsubscribed {
		t.Errorf("after a second one-click POST, the enrollment is %s", e.Status)
	}

	// 7. The second lesson's time comes: nothing goes out.
	lessonsRecorded := len(app.mails(learnerEmail, mail.KindLesson))
	if err := app.engine.Deliver(ctx, lesson2Delivery.ID); err != nil {
		t.Fatalf("working the second lesson's delivery: %v", err)
	}
	if n := len(app.mails(learnerEmail, mail.KindLesson)); n != lessonsRecorded || n != 1 {
		t.Errorf("after working the cancelled delivery, %d lesson emails are recorded, want %d", n, lessonsRecorded)
	}
	noMoreMail(t, sink, len(msgs), time.Second)
	ds = deliveries()
	if len(ds) != 2 || ds[1].ID != lesson2Delivery.ID || ds[1].Status != store.DeliveryCancelled || ds[1].SentAt != nil {
		t.Errorf("after its time came, the deliveries are %+v; want lesson 2 still cancelled and nothing more", ds)
	}

	// 8. The link in the email, opened later, says it is done.
	visitor.follow("open the unsubscribe link", http.StatusOK, chromedp.Navigate(unsubscribeURL.String()))
	visitor.screenshot("5-unsubscribed")
	if got := visitor.text("main h1"); got != "You are unsubscribed" {
		t.Errorf("the unsubscribe link says %q:\n%s", got, visitor.text("main"))
	}
	if got := visitor.text("main h1 + p"); !strings.Contains(got, learnerEmail) || !strings.Contains(got, courseTitle) {
		t.Errorf("the unsubscribe page says %q", got)
	}
	if n := visitor.count("main form"); n != 0 {
		t.Errorf("the page of a done unsubscription offers %d forms", n)
	}
}

// noMoreMail fails the test if the SMTP server receives anything beyond
// its first n messages within d. Nothing can announce that a message will
// never come, so it watches for the whole of d.
func noMoreMail(t *testing.T, sink *smtptest.Server, n int, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if got := sink.Messages(); len(got) != n {
			t.Fatalf("the SMTP server received %d messages, want still %d; the last to %v", len(got), n, got[len(got)-1].To)
		}
		if time.Now().After(deadline) {
			return
		}
	}
}
