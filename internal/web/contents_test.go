package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestLessonBodiesAreBoundedOverHTTP: the lesson form's preview checks the
// body as saving does, before rendering it, and so do the form and the
// API when saving: a body too long, or beyond a bound of the Markdown
// renderer, is refused with a message that says why.
func TestLessonBodiesAreBoundedOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		res := admin.post(coursesPath(1)+"new", url.Values{"title": {"Bounded"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("add course: %d\n%s", res.status, res.body)
		}
		courseID := idFrom(t, res.header.Get("Location"))
		form := coursePath(1, courseID) + "contents/new"
		lesson := func(body string, extra ...string) url.Values {
			v := url.Values{"kind": {"lesson"}, "title": {"Deep"}, "body": {body}, "waiting_period": {"0"}, "waiting_unit": {"days"}}
			for i := 0; i+1 < len(extra); i += 2 {
				v.Set(extra[i], extra[i+1])
			}
			return v
		}
		deep := strings.Repeat(">", learning.MaxBodyRunes)
		nesting := "The text nests quotes or lists more than 16 levels deep."

		contains(t, "previewing deep quotes", admin.post(form, lesson(deep, "action", "preview")), 422, nesting)
		contains(t, "previewing a body too long", admin.post(form, lesson(strings.Repeat("a", 10*learning.MaxBodyRunes), "action", "preview")), 422,
			"The text is too long: use at most 100000 characters.")
		contains(t, "saving deep quotes", admin.post(form, lesson(deep)), 422, nesting)
		api, _ := admin.api(http.MethodPost, "/api/v1/organizations/1/courses/"+itoa(courseID)+"/contents",
			map[string]any{"kind": "lesson", "title": "Deep", "body": deep})
		if api.status != http.StatusUnprocessableEntity || !strings.Contains(api.body, nesting) {
			t.Errorf("the API saved deep quotes: %d %s", api.status, excerpt(api.body, 300))
		}
		if items, _ := db.Read().CourseContents(context.Background(), 1, courseID); len(items) != 0 {
			t.Errorf("lessons beyond the bounds were saved: %d", len(items))
		}
		contains(t, "previewing quotes within the bounds", admin.post(form, lesson("> > quoted", "action", "preview")), 200,
			"<blockquote>\n<blockquote>\n<p>quoted</p>")
	})
}
