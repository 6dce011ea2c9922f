package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/mailtest"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// addQuiz appends a published quiz to the fixture's course: "Which are
// even?" (2 and 4 of 1, 2, 3, 4) and "Is Go compiled?" (yes of yes, no),
// 70% to pass, sent at once after the lesson before.
func (f *fixture) addQuiz(title string) store.ContentItem {
	f.t.Helper()
	item, err := f.learning.CreateContent(context.Background(), f.editor, f.org, f.course, learning.ContentFields{Kind: store.KindQuiz,
		Title: ptr(title), WaitingPeriodSeconds: ptr(0), Published: ptr(true), RequiredScore: ptr(70),
		Questions: []learning.Question{
			{Text: "Which are even?", Answers: []learning.Answer{{Text: "1"}, {Text: "2", Correct: true}, {Text: "3"}, {Text: "4", Correct: true}}},
			{Text: "Is Go compiled?", Answers: []learning.Answer{{Text: "Yes", Correct: true}, {Text: "No"}}},
		}})
	if err != nil {
		f.t.Fatal(err)
	}
	return item
}

func (f *fixture) addLesson(title string, wait time.Duration) store.ContentItem {
	f.t.Helper()
	item, err := f.learning.CreateContent(context.Background(), f.editor, f.org, f.course, learning.ContentFields{Kind: store.KindLesson,
		Title: ptr(title), Body: ptr("After the quiz."), WaitingPeriodSeconds: ptr(int(wait / time.Second)), Published: ptr(true)})
	if err != nil {
		f.t.Fatal(err)
	}
	return item
}

// right and wrong are answers to the quiz of addQuiz: all right (100),
// and too little (question 1: 1/2 − 1/2 = 0, question 2: 1; 50).
func right(quiz store.ContentItem) map[int64][]int64 {
	q := quiz.Questions
	return map[int64][]int64{q[0].ID: {q[0].Answers[1].ID, q[0].Answers[3].ID}, q[1].ID: {q[1].Answers[0].ID}}
}

func wrong(quiz store.ContentItem) map[int64][]int64 {
	q := quiz.Questions
	return map[int64][]int64{q[0].ID: {q[0].Answers[0].ID, q[0].Answers[1].ID}, q[1].ID: {q[1].Answers[0].ID}}
}

// sendScheduled works the scheduled deliveries of an enrollment, whenever
// they are due, until none is left (a quiz sent waits for its answer), and
// returns how many it worked.
func (f *fixture) sendScheduled(e store.Enrollment) int {
	f.t.Helper()
	n := 0
	for {
		var due *store.Delivery
		for _, d := range f.deliveries(e) {
			if d.Status == store.DeliveryScheduled {
				due = &d
				break
			}
		}
		if due == nil {
			return n
		}
		f.deliver(due.ID)
		n++
	}
}

func (f *fixture) mails(to string, kind mail.Kind) []mail.Parsed {
	f.t.Helper()
	found := mailtest.Sent(f.t, f.db, to, kind)
	slices.Reverse(found) // oldest first
	return found
}

var quizLinkRE = regexp.MustCompile(regexp.QuoteMeta(baseURL) + `/email-learning/public/quizzes/(\d+)/([A-Za-z0-9_-]+)/`)

// quizLink returns the delivery id and signature of the link in a quiz
// email.
func quizLink(t *testing.T, p mail.Parsed) (int64, string) {
	t.Helper()
	m := quizLinkRE.FindStringSubmatch(p.Text)
	if m == nil {
		t.Fatalf("no quiz link in the email:\n%s", p.Text)
	}
	if !strings.Contains(p.HTML, m[0]) {
		t.Errorf("the HTML part lacks the link %s", m[0])
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id, m[2]
}

// tamper changes a signature's last character: one that always differs
// from the real signature (a signature that ends in "A" stays the same
// when its last character becomes "A").
func tamper(sig string) string {
	last := "A"
	if strings.HasSuffix(sig, last) {
		last = "B"
	}
	return sig[:len(sig)-1] + last
}

func (f *fixture) answer(id int64, sig string, chosen map[int64][]int64) learning.QuizPage {
	f.t.Helper()
	p, err := f.learning.AnswerQuiz(context.Background(), id, sig, chosen)
	if err != nil {
		f.t.Fatal(err)
	}
	if p.Result == nil {
		f.t.Fatal("answered, but the page has no result")
	}
	return p
}

func (f *fixture) attempts(e store.Enrollment) []store.QuizAttempt {
	f.t.Helper()
	list, err := f.db.Read().EnrollmentQuizAttempts(context.Background(), f.org, e.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return list
}

func (f *fixture) status(e store.Enrollment) store.EnrollmentStatus {
	f.t.Helper()
	got, err := f.db.Read().Enrollment(context.Background(), f.org, e.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return got.Status
}

func near(t time.Time, want time.Time) bool {
	d := t.Sub(want)
	return d > -time.Minute && d < time.Minute
}

func TestQuizPassSchedulesTheNextItem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		quiz := f.addQuiz("Check")
		f.addLesson("Three", 48*time.Hour)
		e := f.enroll("ada@example.com")
		if n := f.sendScheduled(e); n != 2 {
			t.Fatalf("%d deliveries worked before the quiz's answer, want 2 (two lessons; the quiz, due at once, goes with the second)", n)
		}

		// The quiz went out, with its link, and waits for the answer.
		mails := f.mails("ada@example.com", mail.KindQuiz)
		if len(mails) != 1 {
			t.Fatalf("%d quiz emails, want 1", len(mails))
		}
		p := mails[0]
		if got := p.Header.Get("Subject"); got != "Go basics: Check" {
			t.Errorf("subject = %q", got)
		}
		if got := p.Header.Get("List-Unsubscribe"); got != "<"+f.learning.UnsubscribeURL(e)+">" || p.Header.Get("List-Unsubscribe-Post") == "" {
			t.Errorf("List-Unsubscribe = %q", got)
		}
		if !strings.Contains(p.Text, "2 questions, and 70% to pass") || strings.Contains(p.Text, "attempt") {
			t.Errorf("quiz email text:\n%s", p.Text)
		}
		id, sig := quizLink(t, p)
		if got := p.Header.Get("Message-Id"); !strings.HasPrefix(got, "<delivery-"+strconv.FormatInt(id, 10)+".") {
			t.Errorf("Message-ID %q is not the delivery's", got)
		}
		list := f.deliveries(e)
		if len(list) != 3 || list[2].ContentID != quiz.ID || list[2].ID != id || list[2].Status != store.DeliverySent {
			t.Fatalf("deliveries after the quiz email: %+v", list)
		}
		f.deliver(id) // a job run twice sends once
		if n := len(f.mails("ada@example.com", mail.KindQuiz)); n != 1 {
			t.Errorf("%d quiz emails after the job ran again", n)
		}

		page, err := f.learning.CheckQuiz(ctx, id, sig)
		if err != nil {
			t.Fatal(err)
		}
		if page.Result != nil || page.Title != "Check" || page.CourseTitle != "Go basics" || page.Attempt != 1 || len(page.Questions) != 2 ||
			len(page.Questions[0].Answers) != 4 || page.Questions[0].Answers[1].ID != quiz.Questions[0].Answers[1].ID {
			t.Fatalf("quiz page: %+v", page)
		}
		for _, q := range page.Questions {
			for _, a := range q.Answers {
				if a.Correct {
					t.Errorf("the page tells that %q is correct", a.Text)
				}
			}
		}

		// Passing schedules the next lesson its waiting period from now.
		before := time.Now()
		page = f.answer(id, sig, right(quiz))
		r := page.Result
		if r.Score != 100 || !r.Passed || r.RequiredScore != 70 || r.Next != learning.QuizNextItem || r.NextTitle != "Three" ||
			!near(r.NextAt, before.Add(48*time.Hour)) {
			t.Errorf("result: %+v", r)
		}
		list = f.deliveries(e)
		if len(list) != 4 || list[3].Status != store.DeliveryScheduled || !near(list[3].DueAt, before.Add(48*time.Hour)) {
			t.Fatalf("deliveries after passing: %+v", list)
		}
		attempts := f.attempts(e)
		if len(attempts) != 1 || attempts[0].DeliveryID != id || attempts[0].Attempt != 1 || attempts[0].Score != 100 ||
			len(attempts[0].Answers[quiz.Questions[0].ID]) != 2 {
			t.Errorf("stored attempts: %+v", attempts)
		}
		if f.status(e) != store.EnrollmentActive {
			t.Errorf("after passing a quiz that is not the last item the enrollment is %s", f.status(e))
		}

		// The enrollment page lists the answer next to the deliveries.
		ep, err := f.learning.Enrollment(ctx, f.editor, f.org, e.ID)
		if err != nil || len(ep.QuizAttempts) != 1 || !ep.QuizAttempts[0].Passed || ep.QuizAttempts[0].ContentTitle != "Check" || len(ep.Deliveries) != 4 {
			t.Errorf("enrollment page: %+v, %v", ep, err)
		}

		// The last lesson completes the course.
		f.sendScheduled(e)
		if f.status(e) != store.EnrollmentCompleted || f.finished != 1 {
			t.Errorf("after the last lesson: %s, finish hooks run %d times", f.status(e), f.finished)
		}
		// The link shows the result still.
		if page, err := f.learning.CheckQuiz(ctx, id, sig); err != nil || page.Result == nil || page.Result.Next != learning.QuizNextCompleted {
			t.Errorf("the link after the course: %+v, %v", page.Result, err)
		}
	})
}

func TestQuizPassedLastCompletes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		quiz := f.addQuiz("Final")
		e := f.enroll("ada@example.com")
		f.sendScheduled(e)
		if got := f.status(e); got != store.EnrollmentActive {
			t.Fatalf("with the last quiz sent and not answered the enrollment is %s, want active", got)
		}
		id, sig := quizLink(t, f.mails("ada@example.com", mail.KindQuiz)[0])
		r := f.answer(id, sig, right(quiz)).Result
		if r.Next != learning.QuizNextCompleted || f.status(e) != store.EnrollmentCompleted || f.finished != 1 {
			t.Errorf("after passing the last quiz: result %s, enrollment %s, finish hooks %d", r.Next, f.status(e), f.finished)
		}
	})
}

func TestQuizFailedTwiceFailsTheEnrollment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		quiz := f.addQuiz("Check")
		f.addLesson("Three", 0)
		e := f.enroll("bob@example.com")
		f.sendScheduled(e)
		id, sig := quizLink(t, f.mails("bob@example.com", mail.KindQuiz)[0])

		// The first failure: the quiz comes again in a day, as attempt 2.
		before := time.Now()
		r := f.answer(id, sig, wrong(quiz)).Result
		if r.Score != 50 || r.Passed || r.Next != learning.QuizNextRetry || !near(r.NextAt, before.Add(24*time.Hour)) {
			t.Errorf("first result: %+v", r)
		}
		list := f.deliveries(e)
		retry := list[len(list)-1]
		if len(list) != 4 || retry.ContentID != quiz.ID || retry.Attempt != 2 || retry.Status != store.DeliveryScheduled ||
			!near(retry.DueAt, before.Add(24*time.Hour)) {
			t.Fatalf("deliveries after the first failure: %+v", list)
		}
		if f.status(e) != store.EnrollmentActive {
			t.Errorf("after a first failure the enrollment is %s", f.status(e))
		}
		f.sendScheduled(e)
		mails := f.mails("bob@example.com", mail.KindQuiz)
		if len(mails) != 2 {
			t.Fatalf("%d quiz emails, want 2", len(mails))
		}
		if got := mails[1].Header.Get("Subject"); got != "Go basics: Check (attempt 2 of 2)" {
			t.Errorf("the retry's subject = %q", got)
		}
		id2, sig2 := quizLink(t, mails[1])
		if id2 != retry.ID {
			t.Errorf("the retry links to delivery %d, want %d", id2, retry.ID)
		}
		if page, err := f.learning.CheckQuiz(ctx, id2, sig2); err != nil || page.Attempt != 2 || page.Result != nil {
			t.Errorf("the retry's page: %+v, %v", page, err)
		}
		// The first link shows its result; it is not a second chance.
		if page, err := f.learning.CheckQuiz(ctx, id, sig); err != nil || page.Result == nil || page.Result.Score != 50 {
			t.Errorf("the first link after the retry was sent: %+v, %v", page, err)
		}

		// The second failure ends the course, with an email.
		r = f.answer(id2, sig2, map[int64][]int64{}).Result
		if r.Score != 0 || r.Attempt != 2 || r.Next != learning.QuizNextFailed {
			t.Errorf("second result: %+v", r)
		}
		if f.status(e) != store.EnrollmentFailed || f.finished != 1 {
			t.Errorf("after the second failure: enrollment %s, finish hooks %d", f.status(e), f.finished)
		}
		failed := f.mails("bob@example.com", mail.KindCourseFailed)
		if len(failed) != 1 || !strings.Contains(failed[0].Text, `"Check" scored 0%, and 70% was needed`) || failed[0].Header.Get("List-Unsubscribe") != "" {
			t.Errorf("course_failed emails: %d\n%v", len(failed), failed)
		}
		for _, d := range f.deliveries(e) {
			if d.Status == store.DeliveryScheduled {
				t.Errorf("after failing, %q is still scheduled", d.ContentTitle)
			}
		}
		if n := len(f.attempts(e)); n != 2 {
			t.Errorf("%d attempts stored, want 2", n)
		}
	})
}

func TestQuizRetryPassed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		quiz := f.addQuiz("Check")
		e := f.enroll("cy@example.com")
		f.sendScheduled(e)
		id, sig := quizLink(t, f.mails("cy@example.com", mail.KindQuiz)[0])
		f.answer(id, sig, wrong(quiz))
		f.sendScheduled(e)
		id2, sig2 := quizLink(t, f.mails("cy@example.com", mail.KindQuiz)[1])
		if r := f.answer(id2, sig2, right(quiz)).Result; !r.Passed || r.Next != learning.QuizNextCompleted {
			t.Errorf("passing the retry: %+v", r)
		}
		if f.status(e) != store.EnrollmentCompleted || len(f.mails("cy@example.com", mail.KindCourseFailed)) != 0 {
			t.Errorf("after passing the retry: %s", f.status(e))
		}
	})
}

func TestQuizAnsweredOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		quiz := f.addQuiz("Check")
		f.addLesson("Three", 0)

		// One after the other: the second answer shows the first's result.
		e := f.enroll("seq@example.com")
		f.sendScheduled(e)
		id, sig := quizLink(t, f.mails("seq@example.com", mail.KindQuiz)[0])
		f.answer(id, sig, wrong(quiz))
		if r := f.answer(id, sig, right(quiz)).Result; r.Score != 50 || r.Passed {
			t.Errorf("answering again changed the result: %+v", r)
		}
		if n := len(f.attempts(e)); n != 1 {
			t.Errorf("%d attempts after answering twice, want 1", n)
		}
		if n := len(f.deliveries(e)); n != 4 {
			t.Errorf("%d deliveries after answering twice, want 4 (one retry)", n)
		}

		// At the same time: one answer counts, and one next item is
		// scheduled. A few rounds, each with its goroutines let go at once.
		for round := range 3 {
			e := f.enroll(fmt.Sprintf("par%d@example.com", round))
			f.sendScheduled(e)
			id, sig := quizLink(t, f.mails(e.LearnerEmail, mail.KindQuiz)[0])
			var wg sync.WaitGroup
			start := make(chan struct{})
			results := make([]learning.QuizPage, 12)
			errs := make([]error, len(results))
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					chosen := right(quiz)
					if i%2 == 1 {
						chosen = wrong(quiz)
					}
					<-start
					results[i], errs[i] = f.learning.AnswerQuiz(context.Background(), id, sig, chosen)
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("answer %d: %v", i, err)
				}
				if results[i].Result == nil || results[i].Result.Score != results[0].Result.Score {
					t.Errorf("answer %d saw another result: %+v", i, results[i].Result)
				}
			}
			if n := len(f.attempts(e)); n != 1 {
				t.Errorf("%d attempts after concurrent answers, want 1", n)
			}
			if n := len(f.deliveries(e)); n != 4 {
				t.Errorf("%d deliveries after concurrent answers, want 4: %+v", n, f.deliveries(e))
			}
		}
	})
}

func TestQuizLinkRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		quiz := f.addQuiz("Check")
		other := f.addQuiz("Other")
		e := f.enroll("eve@example.com")
		f.sendScheduled(e)
		id, sig := quizLink(t, f.mails("eve@example.com", mail.KindQuiz)[0])
		kind := func(err error) problem.Kind {
			if p, ok := problem.As(err); ok {
				return p.Kind
			}
			return 0
		}

		// A tampered signature, another link's signature, a lesson's id.
		lessonID := f.deliveries(e)[0].ID
		unsubscribe := strings.Split(strings.Trim(f.learning.UnsubscribeURL(e), "/"), "/")
		for _, bad := range []struct {
			id  int64
			sig string
		}{{id, tamper(sig)}, {id, ""}, {id + 1, sig}, {e.ID, unsubscribe[len(unsubscribe)-1]}, {lessonID, sig}} {
			if _, err := f.learning.CheckQuiz(ctx, bad.id, bad.sig); !errors.Is(err, learning.ErrQuizLinkInvalid) {
				t.Errorf("checking delivery %d with signature %q: %v, want not found", bad.id, bad.sig, err)
			}
			if _, err := f.learning.AnswerQuiz(ctx, bad.id, bad.sig, right(quiz)); kind(err) != problem.NotFound {
				t.Errorf("answering delivery %d with signature %q: %v, want not found", bad.id, bad.sig, err)
			}
		}
		// A lesson's own signature does not open a quiz page either.
		lessonURL := strings.Split(strings.Trim(f.learning.QuizURL(lessonID, e.LinkKey), "/"), "/")
		if _, err := f.learning.CheckQuiz(ctx, lessonID, lessonURL[len(lessonURL)-1]); !errors.Is(err, learning.ErrQuizLinkInvalid) {
			t.Errorf("a lesson's delivery signed as a quiz: %v", err)
		}

		// Answers of another quiz, or of another question of this one.
		oq := other.Questions[0]
		for _, chosen := range []map[int64][]int64{
			{oq.ID: {oq.Answers[0].ID}},
			{quiz.Questions[0].ID: {oq.Answers[0].ID}},
			{quiz.Questions[0].ID: {quiz.Questions[1].Answers[0].ID}},
			{quiz.Questions[0].ID: {quiz.Questions[0].Answers[0].ID}, -1: {}},
		} {
			if _, err := f.learning.AnswerQuiz(ctx, id, sig, chosen); !errors.Is(err, learning.ErrQuizAnswerUnknown) || kind(err) != problem.Invalid {
				t.Errorf("answers %v: %v, want 422 quiz_answer_unknown", chosen, err)
			}
		}
		if n := len(f.attempts(e)); n != 0 {
			t.Fatalf("refused answers stored %d attempts", n)
		}

		// After 30 days the link is gone, and answering stores nothing.
		f.learning.SetClock(func() time.Time { return time.Now().Add(learning.QuizValidity + time.Minute) })
		if _, err := f.learning.CheckQuiz(ctx, id, sig); !errors.Is(err, learning.ErrQuizLinkExpired) || kind(err) != problem.Gone {
			t.Errorf("checking an expired link: %v", err)
		}
		if _, err := f.learning.AnswerQuiz(ctx, id, sig, right(quiz)); !errors.Is(err, learning.ErrQuizLinkExpired) {
			t.Errorf("answering an expired link: %v", err)
		}
		if n := len(f.attempts(e)); n != 0 || len(f.deliveries(e)) != 3 {
			t.Errorf("an expired link stored %d attempts, deliveries %+v", n, f.deliveries(e))
		}
		f.learning.SetClock(time.Now)

		// An enrollment that ended closes its quiz.
		if _, err := f.learning.CancelEnrollment(ctx, f.editor, f.org, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.learning.AnswerQuiz(ctx, id, sig, right(quiz)); !errors.Is(err, learning.ErrQuizClosed) || kind(err) != problem.Gone {
			t.Errorf("answering for a cancelled enrollment: %v", err)
		}
		if n := len(f.attempts(e)); n != 0 {
			t.Errorf("a closed quiz stored %d attempts", n)
		}
	})
}

func TestQuizAfterEnrollingAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		quiz := f.addQuiz("Check")
		f.addLesson("Three", 0)

		// Cancelled while the quiz waited for its answer: enrolled again,
		// the quiz comes anew, and the old link is replaced.
		e := f.enroll("back@example.com")
		f.sendScheduled(e)
		id, sig := quizLink(t, f.mails("back@example.com", mail.KindQuiz)[0])
		if _, err := f.learning.CancelEnrollment(ctx, f.editor, f.org, e.ID); err != nil {
			t.Fatal(err)
		}
		e = f.enroll("back@example.com")
		if n := f.sendScheduled(e); n != 1 {
			t.Fatalf("enrolled again: %d deliveries worked, want 1 (the quiz)", n)
		}
		mails := f.mails("back@example.com", mail.KindQuiz)
		if len(mails) != 2 || strings.Contains(mails[1].Header.Get("Subject"), "attempt") {
			t.Fatalf("quiz emails after enrolling again: %d, subject %q", len(mails), mails[len(mails)-1].Header.Get("Subject"))
		}
		if _, err := f.learning.CheckQuiz(ctx, id, sig); !errors.Is(err, learning.ErrQuizLinkReplaced) {
			t.Errorf("the old link: %v, want replaced", err)
		}
		if n := len(f.mails("back@example.com", mail.KindLesson)); n != 2 {
			t.Errorf("%d lessons after enrolling again, want 2 (none twice)", n)
		}

		// Failed twice, enrolled again: two attempts afresh, not past the quiz.
		id, sig = quizLink(t, mails[1])
		f.answer(id, sig, wrong(quiz))
		f.sendScheduled(e)
		id, sig = quizLink(t, f.mails("back@example.com", mail.KindQuiz)[2])
		f.answer(id, sig, wrong(quiz))
		if f.status(e) != store.EnrollmentFailed {
			t.Fatalf("after two failures: %s", f.status(e))
		}
		e = f.enroll("back@example.com")
		f.sendScheduled(e)
		mails = f.mails("back@example.com", mail.KindQuiz)
		if len(mails) != 4 || strings.Contains(mails[3].Header.Get("Subject"), "attempt") {
			t.Fatalf("after enrolling again: %d quiz emails, the last %q", len(mails), mails[len(mails)-1].Header.Get("Subject"))
		}
		if n := len(f.mails("back@example.com", mail.KindLesson)); n != 2 {
			t.Errorf("%d lessons, want 2: the course must not go past a quiz not passed", n)
		}
		id, sig = quizLink(t, mails[3])
		if r := f.answer(id, sig, wrong(quiz)).Result; r.Next != learning.QuizNextRetry {
			t.Errorf("a first failure after enrolling again: %s, want a retry", r.Next)
		}
		f.sendScheduled(e)
		id, sig = quizLink(t, f.mails("back@example.com", mail.KindQuiz)[4])
		if r := f.answer(id, sig, right(quiz)).Result; r.Next != learning.QuizNextCompleted && r.Next != learning.QuizNextItem {
			t.Errorf("passing after enrolling again: %s", r.Next)
		}
		f.sendScheduled(e)
		if f.status(e) != store.EnrollmentCompleted {
			t.Errorf("at the end: %s", f.status(e))
		}
	})
}
