package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// addCourse gives an authorization test organization a disabled course
// with a published lesson and an unpublished quiz.
func (o *authzOrg) addCourse(ctx context.Context, q *store.Queries) error {
	var err error
	o.course, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: o.id, Title: "Course", TitleKey: "course", TitleSkeleton: names.Key("Course"), Slug: "course", Public: true})
	if err != nil {
		return err
	}
	o.lesson, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: o.id, CourseID: o.course, Kind: store.KindLesson,
		Title: "Lesson", Body: "Hello *there*.", Published: true})
	if err != nil {
		return err
	}
	o.quiz, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: o.id, CourseID: o.course, Kind: store.KindQuiz, Title: "Quiz"})
	if err != nil {
		return err
	}
	return q.SaveQuizQuestions(ctx, o.id, o.quiz, []store.QuizQuestion{
		{Text: "Ready?", Answers: []store.QuizAnswer{{Text: "Yes", Correct: true}, {Text: "No"}}}})
}

// fingerprintCourses adds an organization's courses and their content to
// a fingerprint.
func fingerprintCourses(t *testing.T, b *strings.Builder, q *store.Queries, orgID int64) {
	t.Helper()
	ctx := context.Background()
	courses, _, err := q.ListCourses(ctx, store.CourseFilter{OrganizationID: orgID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range courses {
		fmt.Fprintf(b, " course:%q:%q:%q:enabled=%v:public=%v", c.Title, c.Slug, c.Description, c.Enabled, c.Public)
		items, err := q.CourseContents(ctx, orgID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range items {
			fmt.Fprintf(b, " %s:%q:%q@%d:wait=%d:published=%v:score=%d", i.Kind, i.Title, i.Body, i.Position, i.WaitingPeriodSeconds, i.Published, i.RequiredScore)
			for _, qq := range i.Questions {
				fmt.Fprintf(b, " q:%q", qq.Text)
				for _, a := range qq.Answers {
					fmt.Fprintf(b, " a:%q:%v", a.Text, a.Correct)
				}
			}
		}
	}
}

func courseURL(suffix string) func(o *authzOrg) string {
	return func(o *authzOrg) string {
		return fmt.Sprintf(organizationsPath+"%d/courses/%d/%s", o.id, o.course, suffix)
	}
}

func lessonURL(suffix string) func(o *authzOrg) string {
	return func(o *authzOrg) string {
		return fmt.Sprintf(organizationsPath+"%d/courses/%d/contents/%d/%s", o.id, o.course, o.lesson, suffix)
	}
}

func courseAPI(suffix string) func(o *authzOrg) string {
	return func(o *authzOrg) string {
		return fmt.Sprintf("/api/v1/organizations/%d/courses/%d%s", o.id, o.course, suffix)
	}
}

func lessonAPI(o *authzOrg) string {
	return fmt.Sprintf("/api/v1/organizations/%d/courses/%d/contents/%d", o.id, o.course, o.lesson)
}

// idFrom reads the last number of a path such as /.../courses/12/.
func idFrom(t *testing.T, path string) int64 {
	t.Helper()
	parts := strings.Split(strings.Trim(strings.SplitN(path, "#", 2)[0], "/"), "/")
	id, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if err != nil {
		t.Fatalf("no id at the end of %q", path)
	}
	return id
}

// contains fails the test unless the body holds every fragment.
func contains(t *testing.T, what string, res response, status int, fragments ...string) {
	t.Helper()
	if res.status != status {
		t.Errorf("%s: status %d, want %d\n%s", what, res.status, status, res.body)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(res.body, f) {
			t.Errorf("%s: the page lacks %q\n%s", what, f, res.body)
		}
	}
}

// TestCoursesOverHTTP walks through the course pages as an editor would:
// a course, a lesson with a preview, a quiz built row by row, ordering,
// enabling and the refusals along the way.
func TestCoursesOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		courses := coursesPath(1) // of My Organization

		contains(t, "the organization page", admin.get(organizationPath(1)), 200, `href="/email-learning/platform/organizations/1/courses/">Courses</a>`)
		contains(t, "the empty list", admin.get(courses), 200, "There are no courses yet.", `href="/email-learning/platform/organizations/1/courses/new"`)
		contains(t, "the new course form", admin.get(courses+"new"), 200, `name="title"`, `name="slug"`, `name="public" checked`)

		res := admin.post(courses+"new", url.Values{"title": {" Intro to Go "}, "description": {"Learn Go by email."}, "public": {"on"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("add course: %d\n%s", res.status, res.body)
		}
		courseID := idFrom(t, res.header.Get("Location"))
		base := coursePath(1, courseID)
		if res.header.Get("Location") != base {
			t.Errorf("after adding, to %q", res.header.Get("Location"))
		}
		contains(t, "a duplicate title", admin.post(courses+"new", url.Values{"title": {"INTRO TO GO"}}), 409,
			"This organization already has a course titled &#34;INTRO TO GO&#34;.", `value="INTRO TO GO"`)
		contains(t, "the course page", admin.get(base), 200, "<h1>Intro to Go</h1>", "intro-to-go", "disabled", "No lessons or quizzes yet.",
			`href="`+base+`contents/new?kind=lesson"`, `href="`+base+`contents/new?kind=quiz"`, "Enable the course")
		contains(t, "enabling an empty course", admin.post(base+"enabled", url.Values{"enabled": {"true"}}), 409,
			"A course can only be enabled once it has at least one published lesson or quiz")

		// A lesson, previewed first: the preview is sanitized and nothing
		// is saved.
		contains(t, "the new lesson form", admin.get(base+"contents/new?kind=lesson"), 200, `name="body"`, `value="preview"`, `<option value="days" selected>days</option>`)
		contains(t, "an unknown kind", admin.get(base+"contents/new?kind=video"), 404)
		lesson := url.Values{"kind": {"lesson"}, "title": {"Welcome"}, "body": {"# Hello\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2)) *hi*"},
			"waiting_period": {"2"}, "waiting_unit": {"days"}, "published": {"on"}}
		preview := url.Values{"action": {"preview"}}
		for k, v := range lesson {
			preview[k] = v
		}
		res = admin.post(base+"contents/new", preview)
		contains(t, "the preview", res, 200, `<h2 id="preview-title">Preview</h2>`, "<h1>Hello</h1>", "<em>hi</em>", `value="Welcome"`, "&lt;script&gt;alert(1)")
		if strings.Contains(res.body, "<script>alert") || strings.Contains(res.body, `href="javascript:`) {
			t.Errorf("the preview lets a script through:\n%s", res.body)
		}
		if items, _ := db.Read().CourseContents(ctx, 1, courseID); len(items) != 0 {
			t.Errorf("the preview saved the lesson: %+v", items)
		}
		res = admin.post(base+"contents/new", url.Values{"kind": {"lesson"}, "title": {""}, "waiting_period": {"soon"}, "waiting_unit": {"days"}})
		contains(t, "a lesson with a bad waiting period", res, 422, "Enter the waiting period as a whole number")
		res = admin.post(base+"contents/new", lesson)
		if res.status != http.StatusSeeOther || res.header.Get("Location") != base+"#contents" {
			t.Fatalf("add lesson: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}

		// A quiz, built row by row without JavaScript.
		res = admin.get(base + "contents/new?kind=quiz")
		contains(t, "the new quiz form", res, 200, `name="questions[0].text"`, `name="questions[0].answers[1].text"`, `name="required_score"`, `value="add_question"`)
		if strings.Contains(res.body, "questions[1]") || strings.Contains(res.body, "answers[2]") {
			t.Errorf("the new quiz form has more than one question with two answers:\n%s", res.body)
		}
		quiz := url.Values{"kind": {"quiz"}, "title": {"Check"}, "required_score": {"50"}, "waiting_period": {"1"}, "waiting_unit": {"hours"},
			"questions[0].text": {"Two and two?"}, "questions[0].answers[0].text": {"4"}, "questions[0].answers[0].correct": {"on"},
			"questions[0].answers[1].text": {"5"}}
		with := func(extra ...string) url.Values {
			v := url.Values{}
			for k, vs := range quiz {
				v[k] = vs
			}
			for i := 0; i+1 < len(extra); i += 2 {
				v.Set(extra[i], extra[i+1])
			}
			return v
		}
		contains(t, "adding a question row", admin.post(base+"contents/new", with("action", "add_question")), 200,
			`name="questions[1].text"`, `name="questions[1].answers[1].text"`, `value="Two and two?"`, `value="4"`, `name="questions[0].answers[0].correct" checked`)
		contains(t, "adding an answer row", admin.post(base+"contents/new", with("action", "add_answer_0")), 200, `name="questions[0].answers[2].text"`)
		// Empty rows are left out; what is left must make sense.
		res = admin.post(base+"contents/new", with("questions[0].answers[1].text", "", "questions[1].text", "", "questions[1].answers[0].text", ""))
		contains(t, "a question with one answer", res, 422, "Give at least two answers.", `value="Two and two?"`)
		res = admin.post(base+"contents/new", with("questions[0].answers[0].correct", "", "questions[0].answers[0].text", "4"))
		quizNoCorrect := with()
		quizNoCorrect.Del("questions[0].answers[0].correct")
		contains(t, "a question without a correct answer", admin.post(base+"contents/new", quizNoCorrect), 422, "Mark at least one answer as correct.")
		contains(t, "a question without text", admin.post(base+"contents/new", with("questions[0].text", " ")), 422, "Enter the question.")
		contains(t, "a score over 100", admin.post(base+"contents/new", with("required_score", "120")), 422, "from 0 to 100")
		res = admin.post(base+"contents/new", with("questions[0].answers[2].text", " ", "questions[1].text", "", "questions[1].answers[0].text", ""))
		if res.status != http.StatusSeeOther {
			t.Fatalf("add quiz: %d\n%s", res.status, res.body)
		}
		items, err := db.Read().CourseContents(ctx, 1, courseID)
		if err != nil || len(items) != 2 || items[1].Kind != "quiz" || len(items[1].Questions) != 1 || len(items[1].Questions[0].Answers) != 2 ||
			items[1].RequiredScore != 50 || items[1].WaitingPeriodSeconds != 3600 || items[0].WaitingPeriodSeconds != 2*86400 {
			t.Fatalf("saved items: %+v, %v", items, err)
		}
		lessonID, quizID := items[0].ID, items[1].ID

		page := admin.get(base)
		contains(t, "the course with content", page, 200, ">Welcome</a>", ">Check</a>", "2 days", "1 hour", "published", "draft",
			fmt.Sprintf(`action="%scontents/%d/move"`, base, quizID))
		contains(t, "the lesson's page", admin.get(base+fmt.Sprintf("contents/%d/", lessonID)), 200, "<h1>Hello</h1>", "sent 2 days after the previous item")
		contains(t, "the quiz's page", admin.get(base+fmt.Sprintf("contents/%d/", quizID)), 200, "Two and two?", `4 <span class="status status-sent">correct</span>`)
		contains(t, "the lesson's edit form", admin.get(base+fmt.Sprintf("contents/%d/edit", lessonID)), 200,
			`value="2"`, `<option value="days" selected>days</option>`, `name="published" checked`, "# Hello")

		// Moving the quiz up.
		if res := admin.post(base+fmt.Sprintf("contents/%d/move", quizID), url.Values{"direction": {"up"}}); res.status != http.StatusSeeOther {
			t.Errorf("move up: %d\n%s", res.status, res.body)
		}
		if items, _ := db.Read().CourseContents(ctx, 1, courseID); items[0].ID != quizID {
			t.Errorf("after moving the quiz up: %+v", items)
		}
		contains(t, "moving sideways", admin.post(base+fmt.Sprintf("contents/%d/move", quizID), url.Values{"direction": {"left"}}), 422, "Move an item up or down.")

		// Enabled, the course and its only published item stay.
		if res := admin.post(base+"enabled", url.Values{"enabled": {"true"}}); res.status != http.StatusSeeOther {
			t.Fatalf("enable: %d\n%s", res.status, res.body)
		}
		contains(t, "the enabled course", admin.get(base), 200, "enabled", "Disable the course")
		contains(t, "the delete page of an enabled course", admin.get(base+"delete"), 200, "cannot be deleted")
		contains(t, "deleting an enabled course", admin.post(base+"delete", nil), 409, "An enabled course cannot be deleted")
		contains(t, "deleting the only published item", admin.post(base+fmt.Sprintf("contents/%d/delete", lessonID), nil), 409,
			"This is the only published item of an enabled course")
		lessonEdit := base + fmt.Sprintf("contents/%d/edit", lessonID)
		contains(t, "unpublishing the only published item", admin.post(lessonEdit, url.Values{"title": {"Welcome"}, "body": {"x"}, "waiting_period": {"0"}, "waiting_unit": {"days"}}), 409,
			"This is the only published item of an enabled course", `value="Welcome"`)

		// A published quiz keeps its structure: the form offers no rows to
		// add, and a forged post is refused.
		quizEdit := base + fmt.Sprintf("contents/%d/edit", quizID)
		published := with("published", "on")
		if res := admin.post(quizEdit, published); res.status != http.StatusSeeOther {
			t.Fatalf("publish the quiz: %d\n%s", res.status, res.body)
		}
		res = admin.get(quizEdit)
		contains(t, "the published quiz's form", res, 200, "This quiz is published", `type="hidden" name="questions[0].answers[0].correct" value="on"`)
		if strings.Contains(res.body, "add_question") || strings.Contains(res.body, "add_answer_0") {
			t.Errorf("the published quiz's form offers new rows:\n%s", res.body)
		}
		forged := with("published", "on", "questions[0].answers[1].correct", "on")
		contains(t, "re-marking a published quiz", admin.post(quizEdit, forged), 409, "This quiz is published")
		if res := admin.post(quizEdit, with("published", "on", "questions[0].text", "Two plus two?")); res.status != http.StatusSeeOther {
			t.Errorf("rewording the published quiz: %d\n%s", res.status, res.body)
		}

		// Disabled, it goes with its content.
		admin.post(base+"enabled", url.Values{"enabled": {"false"}})
		contains(t, "the delete page", admin.get(base+"delete"), 200, "1 lesson", "1 quiz with their questions")
		res = admin.post(base+"delete", nil)
		if res.status != http.StatusSeeOther || res.header.Get("Location") != courses {
			t.Fatalf("delete: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		contains(t, "the list after deleting", admin.get(courses), 200, "Course &#34;Intro to Go&#34; and its content were deleted.", "There are no courses yet.")
		contains(t, "the deleted course", admin.get(base), 404)
	})
}

// TestCoursesAPI runs the courses API through its answers and refusals.
func TestCoursesAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		res, c := admin.api(http.MethodPost, "/api/v1/organizations/1/courses", map[string]any{"title": "Go", "description": "By email.", "public": false})
		if res.status != http.StatusCreated || c["slug"] != "go" || c["enabled"] != false || c["public"] != false || c["created_at"] == nil {
			t.Fatalf("create: %d %s", res.status, res.body)
		}
		base := fmt.Sprintf("/api/v1/organizations/1/courses/%d", int64(c["id"].(float64)))

		res, lesson := admin.api(http.MethodPost, base+"/contents", map[string]any{"kind": "lesson", "title": "Hello", "body": strings.Repeat("é", 40000),
			"waiting_period_seconds": 90, "published": true})
		if res.status != http.StatusCreated || lesson["position"] != 1.0 || lesson["waiting_period_seconds"] != 90.0 || fmt.Sprint(lesson["questions"]) != "[]" {
			t.Fatalf("create a lesson larger than 64 KiB: %d %s", res.status, excerpt(res.body, 300))
		}
		quizBody := map[string]any{"kind": "quiz", "title": "Check", "required_score": 80, "questions": []any{
			map[string]any{"text": "Sure?", "answers": []any{map[string]any{"text": "Yes", "correct": true}, map[string]any{"text": "No"}}}}}
		res, quiz := admin.api(http.MethodPost, base+"/contents", quizBody)
		if res.status != http.StatusCreated || quiz["position"] != 2.0 ||
			fmt.Sprint(quiz["questions"]) != "[map[answers:[map[correct:true text:Yes] map[correct:false text:No]] text:Sure?]]" {
			t.Fatalf("create a quiz: %d %s", res.status, res.body)
		}
		lessonPath := fmt.Sprintf("%s/contents/%d", base, int64(lesson["id"].(float64)))
		quizPath := fmt.Sprintf("%s/contents/%d", base, int64(quiz["id"].(float64)))
		lessonID, quizID := int64(lesson["id"].(float64)), int64(quiz["id"].(float64))

		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"duplicate title", "POST", "/api/v1/organizations/1/courses", map[string]string{"title": "GO"}, 409, "title_taken"},
			{"changing the slug", "PATCH", base, map[string]string{"slug": "golang"}, 422, "slug_fixed"},
			{"unknown field", "PATCH", base, map[string]string{"name": "x"}, 400, "malformed_json"},
			{"one answer", "POST", base + "/contents", map[string]any{"kind": "quiz", "title": "Q", "questions": []any{
				map[string]any{"text": "Sure?", "answers": []any{map[string]any{"text": "Yes", "correct": true}}}}}, 422, "invalid_content"},
			{"a position", "POST", base + "/contents", map[string]any{"kind": "lesson", "title": "L", "position": 1}, 422, "position_not_settable"},
			{"no kind", "POST", base + "/contents", map[string]any{"title": "L"}, 422, "invalid_kind"},
			{"a lesson into a quiz", "PATCH", lessonPath, map[string]any{"kind": "quiz"}, 422, "kind_fixed"},
			{"a negative waiting period", "PATCH", lessonPath, map[string]any{"waiting_period_seconds": -1}, 422, "invalid_content"},
			{"reorder with one id missing", "POST", base + "/contents/reorder", map[string]any{"ids": []int64{lessonID}}, 422, "invalid_order"},
			{"reorder with one id twice", "POST", base + "/contents/reorder", map[string]any{"ids": []int64{lessonID, lessonID}}, 422, "invalid_order"},
			{"reorder with a strange id", "POST", base + "/contents/reorder", map[string]any{"ids": []int64{lessonID, 999999}}, 422, "invalid_order"},
			{"a missing item", "GET", base + "/contents/999999", nil, 404, "content_not_found"},
			{"a malformed id", "GET", base + "/contents/reorder", nil, 404, "not_found"},
			{"a missing course", "GET", "/api/v1/organizations/1/courses/999999", nil, 404, "course_not_found"},
		} {
			res, _ := admin.api(tc.method, tc.path, tc.body)
			if res.status != tc.status || !strings.Contains(res.body, `"code":"`+tc.code+`"`) {
				t.Errorf("%s: %d %s, want %d %s", tc.name, res.status, excerpt(res.body, 300), tc.status, tc.code)
			}
		}
		if res, body := admin.api("POST", base+"/contents", map[string]any{"kind": "quiz", "title": "Q", "questions": []any{
			map[string]any{"text": "Sure?", "answers": []any{map[string]any{"text": "Yes"}, map[string]any{"text": "No"}}}}}); res.status != 422 ||
			fmt.Sprint(body["error"].(map[string]any)["fields"]) != "map[questions[0].answers:Mark at least one answer as correct.]" {
			t.Errorf("the fields of an invalid quiz: %d %s", res.status, res.body)
		}

		// Reordering answers the new order.
		res, list := admin.api("POST", base+"/contents/reorder", map[string]any{"ids": []int64{quizID, lessonID}})
		if items, _ := list["items"].([]any); res.status != 200 || len(items) != 2 || items[0].(map[string]any)["id"] != float64(quizID) ||
			items[0].(map[string]any)["position"] != 1.0 || list["next_cursor"] != "" {
			t.Errorf("reorder: %d %s", res.status, excerpt(res.body, 300))
		}

		// Enabling, and what an enabled course refuses.
		if res, c := admin.api("PATCH", base, map[string]any{"enabled": true, "description": "Now on."}); res.status != 200 || c["enabled"] != true || c["slug"] != "go" {
			t.Errorf("enable: %d %s", res.status, res.body)
		}
		if res, _ := admin.api("DELETE", base, nil); res.status != 409 || !strings.Contains(res.body, `"code":"course_enabled"`) {
			t.Errorf("deleting an enabled course: %d %s", res.status, res.body)
		}
		if res, _ := admin.api("PATCH", lessonPath, map[string]any{"published": false}); res.status != 409 || !strings.Contains(res.body, `"code":"last_published_content"`) {
			t.Errorf("unpublishing the last published item: %d %s", res.status, res.body)
		}
		// A published quiz keeps its structure.
		if res, _ := admin.api("PATCH", quizPath, map[string]any{"published": true}); res.status != 200 {
			t.Errorf("publish the quiz: %d %s", res.status, res.body)
		}
		quizBody["questions"] = []any{map[string]any{"text": "Sure?", "answers": []any{map[string]any{"text": "Yes", "correct": true}, map[string]any{"text": "No"}, map[string]any{"text": "Maybe"}}}}
		delete(quizBody, "kind")
		if res, _ := admin.api("PATCH", quizPath, quizBody); res.status != 409 || !strings.Contains(res.body, `"code":"quiz_published"`) {
			t.Errorf("adding an answer to a published quiz: %d %s", res.status, res.body)
		}
		if res, q := admin.api("PATCH", quizPath, map[string]any{"questions": []any{map[string]any{"text": "Really?", "answers": []any{
			map[string]any{"text": "Yes!", "correct": true}, map[string]any{"text": "No!"}}}}}); res.status != 200 || !strings.Contains(fmt.Sprint(q["questions"]), "Really?") {
			t.Errorf("rewording the published quiz: %d %s", res.status, res.body)
		}

		// Lists and deletion.
		res, courses := admin.api("GET", "/api/v1/organizations/1/courses?q=g", nil)
		if items, _ := courses["items"].([]any); res.status != 200 || len(items) != 1 || items[0].(map[string]any)["description"] != "Now on." {
			t.Errorf("list: %d %s", res.status, res.body)
		}
		if res, _ := admin.api("GET", "/api/v1/organizations/1/courses?cursor=x", nil); res.status != 400 {
			t.Errorf("a bad cursor: %d", res.status)
		}
		if res, _ := admin.api("DELETE", quizPath, nil); res.status != 204 {
			t.Errorf("delete the quiz: %d %s", res.status, res.body)
		}
		admin.api("PATCH", base, map[string]any{"enabled": false})
		if res, _ := admin.api("DELETE", base, nil); res.status != 204 {
			t.Errorf("delete the disabled course: %d %s", res.status, res.body)
		}
		if res, _ := admin.api("GET", lessonPath, nil); res.status != 404 {
			t.Errorf("the deleted course's lesson: %d %s", res.status, res.body)
		}
	})
}

// TestViewerSeesCoursesReadOnly: a viewer reads everything and is offered
// no way to change it.
func TestViewerSeesCoursesReadOnly(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	f := newAuthzFixture(t, app)
	o := f.newOrg()
	v := f.clients[viewer]
	for name, res := range map[string]response{
		"courses": v.get(fmt.Sprintf(organizationsPath+"%d/courses/", o.id)),
		"course":  v.get(courseURL("")(o)),
		"lesson":  v.get(lessonURL("")(o)),
	} {
		if res.status != http.StatusOK {
			t.Errorf("%s: %d", name, res.status)
		}
		for _, write := range []string{"Add course", "/edit", "/delete", "/move", "Add lesson", "Add quiz", "Enable the course", fmt.Sprintf(`method="post" action="/email-learning/platform/organizations/%d/courses`, o.id)} {
			if strings.Contains(res.body, write) {
				t.Errorf("the viewer's %s page offers %q", name, write)
			}
		}
	}
	contains(t, "the viewer's course page", v.get(courseURL("")(o)), 200, ">Lesson</a>", ">Quiz</a>", "published", "draft")
	contains(t, "the viewer's lesson page", v.get(lessonURL("")(o)), 200, "<em>there</em>")
	contains(t, "the editor's course page", f.clients[editor].get(courseURL("")(o)), 200, "Add lesson", "Enable the course", "/move")
}

// TestCourseIDsOfAnotherOrganization puts one organization's course and
// content ids into another's URLs: the answer is 404 and nothing changes.
func TestCourseIDsOfAnotherOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		f := newAuthzFixture(t, app)
		a, b := f.newOrg(), f.newOrg()
		ui := func(suffix string) string {
			return fmt.Sprintf(organizationsPath+"%d/courses/%d/%s", a.id, b.course, suffix)
		}
		uiLesson := func(suffix string) string {
			return fmt.Sprintf(organizationsPath+"%d/courses/%d/contents/%d/%s", a.id, a.course, b.lesson, suffix)
		}
		api := fmt.Sprintf("/api/v1/organizations/%d/courses/%d", a.id, b.course)
		apiLesson := fmt.Sprintf("/api/v1/organizations/%d/courses/%d/contents/%d", a.id, a.course, b.lesson)
		requests := []struct {
			method, path string
			form         url.Values
			json         any
		}{
			{"GET", ui(""), nil, nil},
			{"GET", ui("edit"), nil, nil},
			{"POST", ui("edit"), url.Values{"title": {"Taken over"}}, nil},
			{"POST", ui("enabled"), url.Values{"enabled": {"true"}}, nil},
			{"POST", ui("delete"), nil, nil},
			{"GET", ui("contents/new?kind=lesson"), nil, nil},
			{"POST", ui("contents/new"), url.Values{"kind": {"lesson"}, "title": {"Planted"}}, nil},
			{"GET", uiLesson(""), nil, nil},
			{"POST", uiLesson("edit"), url.Values{"title": {"Changed"}}, nil},
			{"POST", uiLesson("delete"), nil, nil},
			{"POST", uiLesson("move"), url.Values{"direction": {"up"}}, nil},
			{"GET", api, nil, nil},
			{"PATCH", api, nil, map[string]any{"title": "Taken over"}},
			{"DELETE", api, nil, nil},
			{"GET", api + "/contents", nil, nil},
			{"POST", api + "/contents", nil, map[string]any{"kind": "lesson", "title": "Planted"}},
			{"POST", api + "/contents/reorder", nil, map[string]any{"ids": []int64{b.quiz, b.lesson}}},
			{"GET", apiLesson, nil, nil},
			{"PATCH", apiLesson, nil, map[string]any{"title": "Changed"}},
			{"DELETE", apiLesson, nil, nil},
		}
		// The actors have the same roles in a and b: only whether the ids
		// belong to a tells the answers apart.
		for _, who := range []actor{editor, owner, platformAdmin} {
			for _, r := range requests {
				before := f.fingerprint(a) + f.fingerprint(b)
				var res response
				switch {
				case strings.HasPrefix(r.path, "/api/"):
					res, _ = f.clients[who].api(r.method, r.path, r.json)
				case r.method == "POST":
					res = f.clients[who].post(r.path, r.form)
				default:
					res = f.clients[who].get(r.path)
				}
				if res.status != http.StatusNotFound {
					t.Errorf("%s %s as %s: status %d, want 404\n%s", r.method, r.path, who, res.status, excerpt(res.body, 200))
				}
				if after := f.fingerprint(a) + f.fingerprint(b); after != before {
					t.Errorf("%s %s as %s changed data:\nbefore %s\nafter  %s", r.method, r.path, who, before, after)
				}
			}
		}
	})
}
