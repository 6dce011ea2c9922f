package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// keysOf is the sorted field names of a JSON object.
func keysOf(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestEnrollmentDetailAPI(t *testing.T) {
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
		viewer := sc.member("viewer@example.com", access.Viewer)
		learner := app.client()
		// Ada passes the quiz, Bob fails it.
		answer := func(email string, chosen ...store.QuizAnswer) store.Enrollment {
			t.Helper()
			res, body := admin.api(http.MethodPost, "/api/v1/organizations/1/enrollments", map[string]any{"email": email, "course_id": sc.courseID})
			if res.status != http.StatusCreated {
				t.Fatalf("enroll %s: %d %v", email, res.status, body)
			}
			storetest.Eventually(t, 10*time.Second, "the quiz email", func() bool { return len(app.mails(email, mail.KindQuiz)) > 0 })
			path := app.linkIn(app.mails(email, mail.KindQuiz)[0].Text, "/email-learning/public/quizzes/")
			if res := learner.post(path, answers(chosen...)); res.status != http.StatusSeeOther {
				t.Fatalf("answer %s: %d", email, res.status)
			}
			return sc.enrollment(email)
		}
		ada := answer("ada@example.com", pick(even, 1), pick(even, 2), pick(compiled, 0))
		bob := answer("bob@example.com", pick(even, 0), pick(compiled, 0))

		// Another organization's enrollment, learner and course.
		var other store.Enrollment
		err := db.InTx(ctx, func(q *store.Queries) error {
			o, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "Other", NameKey: "other", NameSkeleton: names.Key("Other"), Slug: "other"})
			if err != nil {
				return err
			}
			course, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: o.ID, Title: "X", TitleKey: "x", TitleSkeleton: names.Key("X"), Slug: "x", Enabled: true, Public: true})
			if err != nil {
				return err
			}
			l, err := q.SaveLearner(ctx, o.ID, "eve@example.com")
			if err != nil {
				return err
			}
			other, _, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: o.ID, CourseID: course, LearnerID: l.ID, Status: store.EnrollmentActive, At: time.Now()})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		// The enrollment: its fields as in the list, what was sent and is
		// due, and the quiz attempts.
		res, got := viewer.api(http.MethodGet, fmt.Sprintf("/api/v1/organizations/1/enrollments/%d", ada.ID), nil)
		if res.status != http.StatusOK {
			t.Fatalf("enrollment: %d %s", res.status, res.body)
		}
		if want := []string{"activated_at", "course_id", "course_title", "created_at", "deliveries", "ended_at", "id", "learner_email", "learner_id",
			"quiz_attempts", "status", "updated_at"}; !slices.Equal(keysOf(got), want) {
			t.Errorf("enrollment fields: %v, want %v", keysOf(got), want)
		}
		if got["learner_email"] != "ada@example.com" || got["status"] != "active" || got["course_title"] != "Go basics" {
			t.Errorf("enrollment: %s", res.body)
		}
		deliveries, _ := got["deliveries"].([]any)
		if len(deliveries) != 2 {
			t.Fatalf("deliveries: %s", res.body)
		}
		sent, next := deliveries[0].(map[string]any), deliveries[1].(map[string]any)
		if sent["content_id"] != float64(quiz.ID) || sent["title"] != "Check" || sent["kind"] != "quiz" || sent["status"] != "sent" ||
			sent["attempt"] != float64(1) || sent["sent_at"] == nil || sent["due_at"] == nil {
			t.Errorf("the quiz sent: %v", sent)
		}
		due, _ := time.Parse(time.RFC3339, fmt.Sprint(next["due_at"]))
		if next["title"] != "Three" || next["kind"] != "lesson" || next["status"] != "scheduled" || next["sent_at"] != nil ||
			due.Before(clock.now().Add(47*time.Hour)) {
			t.Errorf("the lesson due in two days: %v", next)
		}
		attempts, _ := got["quiz_attempts"].([]any)
		if len(attempts) != 1 {
			t.Fatalf("quiz attempts: %s", res.body)
		}
		a := attempts[0].(map[string]any)
		if want := []string{"answered_at", "attempt", "content_id", "enrollment_id", "id", "learner_email", "passed", "quiz_title", "score"}; !slices.Equal(keysOf(a), want) {
			t.Errorf("quiz attempt fields: %v, want %v", keysOf(a), want)
		}
		if a["score"] != float64(100) || a["passed"] != true || a["content_id"] != float64(quiz.ID) || a["quiz_title"] != "Check" ||
			a["learner_email"] != "ada@example.com" || a["enrollment_id"] != float64(ada.ID) || a["answered_at"] == nil {
			t.Errorf("ada's attempt: %v", a)
		}
		_, got = viewer.api(http.MethodGet, fmt.Sprintf("/api/v1/organizations/1/enrollments/%d", bob.ID), nil)
		if s := fmt.Sprint(got["quiz_attempts"]); !strings.Contains(s, "score:50") || !strings.Contains(s, "passed:false") {
			t.Errorf("bob's attempts: %s", s)
		}
		if s := fmt.Sprint(got["deliveries"]); !strings.Contains(s, "attempt:2") || !strings.Contains(s, "status:scheduled") {
			t.Errorf("bob's deliveries: the quiz again tomorrow: %s", s)
		}

		// The learner, with their enrollments in the organization.
		res, got = viewer.api(http.MethodGet, fmt.Sprintf("/api/v1/organizations/1/learners/%d", ada.LearnerID), nil)
		if res.status != http.StatusOK || got["email"] != "ada@example.com" || got["id"] != float64(ada.LearnerID) {
			t.Errorf("learner: %d %s", res.status, res.body)
		}
		if want := []string{"created_at", "email", "enrollments", "id", "updated_at"}; !slices.Equal(keysOf(got), want) {
			t.Errorf("learner fields: %v, want %v", keysOf(got), want)
		}
		if s := fmt.Sprint(got["enrollments"]); !strings.Contains(s, fmt.Sprintf("id:%d", ada.ID)) || !strings.Contains(s, "status:active") || strings.Contains(s, fmt.Sprintf("id:%d ", bob.ID)) {
			t.Errorf("learner's enrollments: %s", s)
		}

		// The course's quiz attempts, newest first, filtered, by cursor.
		attemptsURL := fmt.Sprintf("/api/v1/organizations/1/courses/%d/quiz-attempts", sc.courseID)
		emails := func(query string) ([]string, string) {
			t.Helper()
			res, list := viewer.api(http.MethodGet, attemptsURL+query, nil)
			if res.status != http.StatusOK {
				t.Fatalf("quiz attempts%s: %d %s", query, res.status, res.body)
			}
			var out []string
			items, _ := list["items"].([]any)
			for _, item := range items {
				out = append(out, fmt.Sprint(item.(map[string]any)["learner_email"]))
			}
			return out, fmt.Sprint(list["next_cursor"])
		}
		bobAttempt, err := db.Read().EnrollmentQuizAttempts(ctx, 1, bob.ID)
		if err != nil || len(bobAttempt) != 1 {
			t.Fatalf("bob's attempts: %v, %v", bobAttempt, err)
		}
		for query, want := range map[string]string{
			"":                                       "[bob@example.com ada@example.com]",
			fmt.Sprintf("?content_id=%d", quiz.ID):   "[bob@example.com ada@example.com]",
			fmt.Sprintf("?enrollment_id=%d", ada.ID): "[ada@example.com]",
			fmt.Sprintf("?cursor=%d", bobAttempt[0].ID): "[ada@example.com]",
			fmt.Sprintf("?content_id=%d", quiz.ID+1):    "[]",
			fmt.Sprintf("?enrollment_id=%d", other.ID):  "[]",
		} {
			if got, next := emails(query); fmt.Sprint(got) != want || next != "" {
				t.Errorf("quiz attempts%s: %v, next %q; want %s", query, got, next, want)
			}
		}
		// Over a page: the cursor leads to the rest.
		err = db.InTx(ctx, func(q *store.Queries) error {
			for n := 3; n < 3+learning.PageSize; n++ {
				d, _, err := q.ScheduleDelivery(ctx, 1, ada.ID, quiz.ID, n, time.Now())
				if err != nil {
					return err
				}
				if _, err := q.CreateQuizAttempt(ctx, store.NewQuizAttempt{OrganizationID: 1, EnrollmentID: ada.ID, DeliveryID: d, ContentID: quiz.ID,
					Attempt: n, Score: 10, Answers: map[int64][]int64{}, At: time.Now()}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		first, cursor := emails("")
		rest, last := emails("?cursor=" + cursor)
		if len(first) != learning.PageSize || cursor == "" || len(rest) != 2 || fmt.Sprint(rest) != "[bob@example.com ada@example.com]" || last != "" {
			t.Errorf("pages: %d then %v (cursor %q, then %q)", len(first), rest, cursor, last)
		}
		for query, code := range map[string]string{"?cursor=x": "invalid_cursor", "?cursor=0": "invalid_cursor", "?content_id=x": "invalid_content_id", "?enrollment_id=-1": "invalid_enrollment_id"} {
			if res, _ := viewer.api(http.MethodGet, attemptsURL+query, nil); res.status/100 != 4 || !strings.Contains(res.body, `"code":"`+code+`"`) {
				t.Errorf("quiz attempts%s: %d %s, want %s", query, res.status, res.body, code)
			}
		}

		// Another organization's ids, or none, are not found, even for a
		// platform admin asking through the wrong organization.
		for _, path := range []string{
			fmt.Sprintf("/api/v1/organizations/1/enrollments/%d", other.ID),
			"/api/v1/organizations/1/enrollments/999999",
			"/api/v1/organizations/1/enrollments/x",
			fmt.Sprintf("/api/v1/organizations/1/learners/%d", other.LearnerID),
			"/api/v1/organizations/1/learners/999999",
			fmt.Sprintf("/api/v1/organizations/1/courses/%d/quiz-attempts", other.CourseID),
			fmt.Sprintf("/api/v1/organizations/%d/enrollments/%d", other.OrganizationID, ada.ID),
			fmt.Sprintf("/api/v1/organizations/%d/learners/%d", other.OrganizationID, ada.LearnerID),
			fmt.Sprintf("/api/v1/organizations/%d/courses/%d/quiz-attempts", other.OrganizationID, sc.courseID),
		} {
			for name, c := range map[string]*client{"viewer": viewer, "platform admin": admin} {
				if res, _ := c.api(http.MethodGet, path, nil); res.status != http.StatusNotFound || !strings.Contains(res.body, `"error"`) {
					t.Errorf("%s GET %s: %d %s, want 404", name, path, res.status, res.body)
				}
			}
		}
	})
}
