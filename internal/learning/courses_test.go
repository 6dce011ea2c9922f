package learning_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// fixture is an organization with an owner, an editor and a viewer, a
// second organization with its own owner, and a platform admin who
// belongs to neither.
type fixture struct {
	t                                   *testing.T
	db                                  *store.DB
	s                                   *learning.Service
	org, other                          int64
	owner, editor, viewer, outsider, pa *store.User
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, db: db, s: learning.NewService(db, learning.Config{})}
	err := db.InTx(ctx, func(q *store.Queries) error {
		user := func(email string, admin bool) *store.User {
			u, err := q.CreateUser(ctx, store.NewUser{Email: email, IsPlatformAdmin: admin})
			if err != nil {
				t.Fatal(err)
			}
			return &u
		}
		f.owner, f.editor, f.viewer = user("owner@example.com", false), user("editor@example.com", false), user("viewer@example.com", false)
		f.outsider, f.pa = user("outsider@example.com", false), user("root@example.com", true)
		org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "Acme", NameKey: "acme", NameSkeleton: names.Key("Acme"), Slug: "acme"})
		if err != nil {
			return err
		}
		other, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "Other", NameKey: "other", NameSkeleton: names.Key("Other"), Slug: "other"})
		if err != nil {
			return err
		}
		f.org, f.other = org.ID, other.ID
		for u, role := range map[*store.User]access.Role{f.owner: access.Owner, f.editor: access.Editor, f.viewer: access.Viewer} {
			if err := q.AddMembership(ctx, f.org, u.ID, string(role)); err != nil {
				return err
			}
		}
		return q.AddMembership(ctx, f.other, f.outsider.ID, string(access.Owner))
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func ptr[T any](v T) *T { return &v }

func code(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	return ""
}

func kind(err error) problem.Kind {
	if p, ok := problem.As(err); ok {
		return p.Kind
	}
	return 0
}

func field(err error, name string) string {
	if p, ok := problem.As(err); ok {
		return p.Fields[name]
	}
	return ""
}

// course creates a course as the editor.
func (f *fixture) course(title string) store.Course {
	f.t.Helper()
	c, err := f.s.CreateCourse(context.Background(), f.editor, f.org, learning.CourseFields{Title: &title})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// lesson adds a lesson to a course as the editor.
func (f *fixture) lesson(courseID int64, title string, published bool) store.ContentItem {
	f.t.Helper()
	item, err := f.s.CreateContent(context.Background(), f.editor, f.org, courseID, learning.ContentFields{
		Kind: store.KindLesson, Title: &title, Body: ptr("Some *text*."), Published: &published})
	if err != nil {
		f.t.Fatal(err)
	}
	return item
}

// snapshot sums up a course and its content, to prove that a refused
// change changed nothing.
func (f *fixture) snapshot(orgID, courseID int64) string {
	f.t.Helper()
	ctx := context.Background()
	q := f.db.Read()
	c, err := q.Course(ctx, orgID, courseID)
	if err != nil {
		return "course gone"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%q %q %q enabled=%v public=%v %s;", c.Title, c.Slug, c.Description, c.Enabled, c.Public, c.UpdatedAt)
	items, err := q.CourseContents(ctx, orgID, courseID)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, i := range items {
		fmt.Fprintf(&b, " [%d %s %q %q pos=%d wait=%d pub=%v score=%d %s", i.ID, i.Kind, i.Title, i.Body, i.Position,
			i.WaitingPeriodSeconds, i.Published, i.RequiredScore, i.UpdatedAt)
		for _, qq := range i.Questions {
			fmt.Fprintf(&b, " q%d:%q", qq.ID, qq.Text)
			for _, a := range qq.Answers {
				fmt.Fprintf(&b, " a%d:%q:%v", a.ID, a.Text, a.Correct)
			}
		}
		b.WriteString("]")
	}
	return b.String()
}

// TestLookAlikeTitles: a course title that only looks like another
// course's of the organization is taken, and titles of courses and their
// content, and quiz texts, may hold no text-direction characters.
func TestLookAlikeTitles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		s := f.s
		basics := f.course("Go basics")
		other := f.course("Other")
		const hidden = "The title may not contain invisible or text-direction characters."
		for _, tt := range []struct{ title, code, field string }{
			{"Go basics\u200b", "invalid_course", hidden}, // zero-width space
			{"Go basics\u202e", "invalid_course", hidden}, // right-to-left override
			{"Go\u00a0basics", "title_taken", ""},         // no-break space
			{"Gо basics", "title_taken", ""},              // Cyrillic о
			{"Go bаsics", "title_taken", ""},              // Cyrillic а
			{"GO BASICS", "title_taken", ""},
		} {
			_, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr(tt.title)})
			if code(err) != tt.code || tt.field != "" && field(err, "title") != tt.field {
				t.Errorf("create %+q: %v (%s), want %s", tt.title, err, code(err), tt.code)
			}
			if _, err := s.UpdateCourse(ctx, f.editor, f.org, other.ID, learning.CourseFields{Title: ptr(tt.title)}); code(err) != tt.code {
				t.Errorf("rename to %+q: %v, want %s", tt.title, err, tt.code)
			}
		}
		// Another organization may have a look-alike title.
		if _, err := s.CreateCourse(ctx, f.outsider, f.other, learning.CourseFields{Title: ptr("Gо basics")}); err != nil {
			t.Errorf("a look-alike title in another organization: %v", err)
		}
		// A course keeps its title when other fields change.
		if _, err := s.UpdateCourse(ctx, f.editor, f.org, basics.ID, learning.CourseFields{Title: ptr("Go basics"), Description: ptr("New.")}); err != nil {
			t.Errorf("save a course under its own title: %v", err)
		}

		// Content titles and quiz texts.
		if _, err := s.CreateContent(ctx, f.editor, f.org, basics.ID, learning.ContentFields{Kind: store.KindLesson,
			Title: ptr("Lesson \u202e1"), Body: ptr("Text")}); field(err, "title") != hidden {
			t.Errorf("a lesson title with a right-to-left override: %v", err)
		}
		lesson, err := s.CreateContent(ctx, f.editor, f.org, basics.ID, learning.ContentFields{Kind: store.KindLesson,
			Title: ptr("Lesson\u00a0 1"), Body: ptr("Text")})
		if err != nil || lesson.Title != "Lesson 1" {
			t.Errorf("a lesson title with a no-break space: %q, %v; want \"Lesson 1\"", lesson.Title, err)
		}
		_, err = s.CreateContent(ctx, f.editor, f.org, basics.ID, learning.ContentFields{Kind: store.KindQuiz, Title: ptr("Check"), RequiredScore: ptr(50),
			Questions: []learning.Question{{Text: "Which is right?\u202e", Answers: []learning.Answer{{Text: "This\u2067", Correct: true}, {Text: "That"}}}}})
		if field(err, "questions[0].text") != "The question may not contain invisible or text-direction characters." ||
			field(err, "questions[0].answers[0].text") != "The answer may not contain invisible or text-direction characters." {
			t.Errorf("quiz texts with text-direction characters: %+v", err)
		}
	})
}

// TestLookAlikeTitlesFromBefore: a course whose title already looked like
// another's of its organization (store marks the younger one shared)
// keeps it, and no new course may look like either.
func TestLookAlikeTitlesFromBefore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		basics := f.course("Go basics")
		var old int64
		err := db.InTx(ctx, func(q *store.Queries) (err error) {
			old, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.org, Title: "Old", TitleKey: "old",
				TitleSkeleton: names.Key("Old"), Slug: "old"})
			if err != nil {
				return err
			}
			return q.UpdateCourse(ctx, f.org, old, store.CourseFields{Title: "Gо basics", TitleKey: "gо basics",
				TitleSkeleton: names.Key("Gо basics"), TitleSkeletonShared: true, Public: true})
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.UpdateCourse(ctx, f.editor, f.org, old, learning.CourseFields{Description: ptr("Still here.")}); err != nil {
			t.Errorf("edit a course with a shared title: %v", err)
		}
		if _, err := f.s.UpdateCourse(ctx, f.editor, f.org, old, learning.CourseFields{Title: ptr("Go bаsics")}); code(err) != "title_taken" {
			t.Errorf("rename to another look-alike: %v, want title_taken", err)
		}
		if _, err := f.s.UpdateCourse(ctx, f.editor, f.org, basics.ID, learning.CourseFields{Description: ptr("Also here.")}); err != nil {
			t.Errorf("edit the course holding the title: %v", err)
		}
		// It still holds the skeleton: the database refuses one more.
		err = db.InTx(ctx, func(q *store.Queries) error {
			_, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.org, Title: "Go basicѕ", TitleKey: "go basicѕ",
				TitleSkeleton: names.Key("Go basics"), Slug: "probe"})
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("a third course with the skeleton: %v, want ErrConflict", err)
		}
		if err := f.s.DeleteCourse(ctx, f.editor, f.org, basics.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Go basics")}); code(err) != "title_taken" {
			t.Errorf("create a look-alike of a shared title: %v, want title_taken", err)
		}
	})
}

func TestCourseRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		s := f.s

		c, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("  Intro to Go  "), Description: ptr("Line one\r\nLine two")})
		if err != nil {
			t.Fatal(err)
		}
		if c.Title != "Intro to Go" || c.Slug != "intro-to-go" || c.Description != "Line one\nLine two" || c.Enabled || !c.Public {
			t.Errorf("created = %+v; want trimmed, slug from the title, disabled and public", c)
		}

		// The title is unique in the organization whatever its case.
		if _, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("INTRO to go")}); code(err) != "title_taken" || kind(err) != problem.Conflict {
			t.Errorf("duplicate title: %v", err)
		}
		// ...but not across organizations.
		if oc, err := s.CreateCourse(ctx, f.outsider, f.other, learning.CourseFields{Title: ptr("Intro to Go")}); err != nil || oc.Slug != "intro-to-go" {
			t.Errorf("the same title in another organization: %+v, %v", oc, err)
		}
		// A title giving a taken slug gets a numbered one.
		second, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Intro: to Go!")})
		if err != nil || second.Slug != "intro-to-go-2" {
			t.Errorf("second slug = %q, %v", second.Slug, err)
		}
		third, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Intro (to) Go")})
		if err != nil || third.Slug != "intro-to-go-3" {
			t.Errorf("third slug = %q, %v", third.Slug, err)
		}
		// A title without ASCII letters still gets a slug.
		if jp, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("日本語")}); err != nil || jp.Slug != "course" {
			t.Errorf("slug of a Japanese title = %q, %v", jp.Slug, err)
		}
		// A slug may be chosen at creation; a taken or malformed one is refused.
		custom, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Custom"), Slug: ptr("go-basics")})
		if err != nil || custom.Slug != "go-basics" {
			t.Errorf("chosen slug = %q, %v", custom.Slug, err)
		}
		if _, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Another"), Slug: ptr("go-basics")}); code(err) != "slug_taken" {
			t.Errorf("taken chosen slug: %v", err)
		}
		for _, bad := range []string{"Go Basics", "-go", "go--x", "go_x", strings.Repeat("a", 61)} {
			if _, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Bad " + bad), Slug: ptr(bad)}); code(err) != "invalid_slug" {
				t.Errorf("slug %q: %v", bad, err)
			}
		}

		// Invalid fields are named.
		_, err = s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr(strings.Repeat("é", 201)), Description: ptr(strings.Repeat("x", 2001))})
		if kind(err) != problem.Invalid || field(err, "title") == "" || field(err, "description") == "" {
			t.Errorf("too long: %v", err)
		}
		if _, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("  ")}); field(err, "title") != "Enter a title." {
			t.Errorf("empty title: %v", err)
		}
		if _, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Tab\there")}); field(err, "title") == "" {
			t.Errorf("control character in the title: %v", err)
		}

		// The slug is fixed after creation: a new title keeps it.
		c, err = s.UpdateCourse(ctx, f.editor, f.org, c.ID, learning.CourseFields{Title: ptr("Go for Beginners"), Public: ptr(false)})
		if err != nil || c.Slug != "intro-to-go" || c.Title != "Go for Beginners" || c.Public || c.Description != "Line one\nLine two" {
			t.Errorf("after renaming: %+v, %v", c, err)
		}
		if _, err := s.UpdateCourse(ctx, f.editor, f.org, c.ID, learning.CourseFields{Slug: ptr("intro-to-go"), Title: ptr("Go for Beginners")}); err != nil {
			t.Errorf("repeating the slug: %v", err)
		}
		before := f.snapshot(f.org, c.ID)
		if _, err := s.UpdateCourse(ctx, f.editor, f.org, c.ID, learning.CourseFields{Slug: ptr("renamed")}); code(err) != "slug_fixed" || kind(err) != problem.Invalid {
			t.Errorf("changing the slug: %v", err)
		}
		if _, err := s.UpdateCourse(ctx, f.editor, f.org, c.ID, learning.CourseFields{Title: ptr("intro: TO go!")}); code(err) != "title_taken" {
			t.Errorf("renaming onto a taken title: %v", err)
		}
		// A course cannot be enabled without published content.
		if _, err := s.UpdateCourse(ctx, f.editor, f.org, c.ID, learning.CourseFields{Enabled: ptr(true)}); code(err) != "no_published_content" || kind(err) != problem.Conflict {
			t.Errorf("enabling an empty course: %v", err)
		}
		if _, err := s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr("Born enabled"), Enabled: ptr(true)}); code(err) != "no_published_content" {
			t.Errorf("creating an enabled course: %v", err)
		}
		draft := f.lesson(c.ID, "Draft", false)
		if _, err := s.UpdateCourse(ctx, f.editor, f.org, c.ID, learning.CourseFields{Enabled: ptr(true)}); code(err) != "no_published_content" {
			t.Errorf("enabling with an unpublished lesson only: %v", err)
		}
		if after := f.snapshot(f.org, c.ID); !strings.HasPrefix(after, before[:strings.Index(before, ";")]) {
			t.Errorf("refused updates changed the course:\nbefore %s\nafter  %s", before, after)
		}
		welcome := f.lesson(c.ID, "Welcome", true)
		if c, err = s.UpdateCourse(ctx, f.editor, f.org, c.ID, learning.CourseFields{Enabled: ptr(true)}); err != nil || !c.Enabled {
			t.Fatalf("enabling with a published lesson: %+v, %v", c, err)
		}

		// Enabled, it cannot be deleted, nor lose its only published item.
		before = f.snapshot(f.org, c.ID)
		if err := s.DeleteCourse(ctx, f.editor, f.org, c.ID); code(err) != "course_enabled" || kind(err) != problem.Conflict {
			t.Errorf("deleting an enabled course: %v", err)
		}
		if _, err := s.UpdateContent(ctx, f.editor, f.org, c.ID, welcome.ID, learning.ContentFields{Published: ptr(false)}); code(err) != "last_published_content" || kind(err) != problem.Conflict {
			t.Errorf("unpublishing the last published item: %v", err)
		}
		if err := s.DeleteContent(ctx, f.editor, f.org, c.ID, welcome.ID); code(err) != "last_published_content" {
			t.Errorf("deleting the last published item: %v", err)
		}
		if after := f.snapshot(f.org, c.ID); after != before {
			t.Errorf("refused changes changed the course:\nbefore %s\nafter  %s", before, after)
		}
		// Unpublished items come and go freely; with a second published
		// item, the first may go.
		if _, err := s.UpdateContent(ctx, f.editor, f.org, c.ID, draft.ID, learning.ContentFields{Published: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateContent(ctx, f.editor, f.org, c.ID, welcome.ID, learning.ContentFields{Published: ptr(false)}); err != nil {
			t.Errorf("unpublishing one of two published items: %v", err)
		}
		if err := s.DeleteContent(ctx, f.editor, f.org, c.ID, welcome.ID); err != nil {
			t.Errorf("deleting an unpublished item of an enabled course: %v", err)
		}

		// Disabled, it is deleted with its content.
		quiz, err := s.CreateContent(ctx, f.editor, f.org, c.ID, learning.ContentFields{Kind: store.KindQuiz, Title: ptr("Check"),
			Questions: []learning.Question{{Text: "2+2?", Answers: []learning.Answer{{Text: "4", Correct: true}, {Text: "5"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateCourse(ctx, f.editor, f.org, c.ID, learning.CourseFields{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteCourse(ctx, f.editor, f.org, c.ID); err != nil {
			t.Fatalf("deleting a disabled course: %v", err)
		}
		if _, err := s.Course(ctx, f.editor, f.org, c.ID); code(err) != "course_not_found" {
			t.Errorf("the deleted course: %v", err)
		}
		left, err := db.RowsWith(ctx, "course_id", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range left {
			if n != 0 {
				t.Errorf("%d rows of %s left for the deleted course", n, table)
			}
		}
		for _, table := range []string{"quiz_questions", "quiz_answers"} {
			if n, _ := db.RowsWith(ctx, "organization_id", f.org); n[table] != 0 {
				t.Errorf("%d rows of %s left after deleting the quiz's course (quiz %d)", n[table], table, quiz.ID)
			}
		}
		// The other courses are still there.
		if p, err := s.Courses(ctx, f.viewer, f.org, "", 1); err != nil || p.Total != 4 {
			t.Errorf("courses left: %d, %v", p.Total, err)
		}
	})
}

func TestCourseList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		for i := range learning.CoursesPageSize + 3 {
			f.course(fmt.Sprintf("Course %02d", i))
		}
		f.course("100% Go_lang")
		p, err := f.s.Courses(ctx, f.viewer, f.org, "", 2)
		if err != nil || p.Total != learning.CoursesPageSize+4 || p.Pages != 2 || len(p.Items) != 4 || p.CanEdit {
			t.Fatalf("page 2 = %d items of %d, %d pages, can edit %v, %v", len(p.Items), p.Total, p.Pages, p.CanEdit, err)
		}
		if p.Items[0].Title != "Course 24" { // after "100% Go_lang" and Course 00 to 23
			t.Errorf("page 2 starts with %q", p.Items[0].Title)
		}
		// Search is by part of the title, any case; % and _ are literal.
		for search, want := range map[string]int{"course 1": 10, "%": 1, "o_l": 1, "_": 1, "zzz": 0} {
			p, err := f.s.Courses(ctx, f.editor, f.org, search, 1)
			if err != nil || p.Total != want || !p.CanEdit {
				t.Errorf("search %q: %d, can edit %v, %v; want %d", search, p.Total, p.CanEdit, err, want)
			}
		}
		// Counts of content.
		c := f.course("Counted")
		f.lesson(c.ID, "One", true)
		f.lesson(c.ID, "Two", false)
		p, _ = f.s.Courses(ctx, f.viewer, f.org, "counted", 1)
		if len(p.Items) != 1 || p.Items[0].ContentCount != 2 || p.Items[0].PublishedCount != 1 {
			t.Errorf("counts = %+v", p.Items)
		}
	})
}

// TestWhoMayDoWhat: viewers read and are refused every write, members of
// another organization learn nothing, platform admins do everything.
func TestWhoMayDoWhat(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		s := f.s
		c := f.course("Course")
		lesson := f.lesson(c.ID, "Lesson", true)
		second := f.lesson(c.ID, "Second", false)

		writes := map[string]func(u *store.User) error{
			"create course": func(u *store.User) error {
				_, err := s.CreateCourse(ctx, u, f.org, learning.CourseFields{Title: ptr("New")})
				return err
			},
			"update course": func(u *store.User) error {
				_, err := s.UpdateCourse(ctx, u, f.org, c.ID, learning.CourseFields{Title: ptr("Renamed")})
				return err
			},
			"enable course": func(u *store.User) error {
				_, err := s.UpdateCourse(ctx, u, f.org, c.ID, learning.CourseFields{Enabled: ptr(true)})
				return err
			},
			"delete course": func(u *store.User) error { return s.DeleteCourse(ctx, u, f.org, c.ID) },
			// Invalid input is refused for who sends it before what it is.
			"create an untitled course": func(u *store.User) error {
				_, err := s.CreateCourse(ctx, u, f.org, learning.CourseFields{Title: ptr("")})
				return err
			},
			"create a video": func(u *store.User) error {
				_, err := s.CreateContent(ctx, u, f.org, c.ID, learning.ContentFields{Kind: "video", Title: ptr("")})
				return err
			},
			"move sideways": func(u *store.User) error { return s.MoveContent(ctx, u, f.org, c.ID, lesson.ID, "sideways") },
			"create content": func(u *store.User) error {
				_, err := s.CreateContent(ctx, u, f.org, c.ID, learning.ContentFields{Kind: store.KindLesson, Title: ptr("New")})
				return err
			},
			"update content": func(u *store.User) error {
				_, err := s.UpdateContent(ctx, u, f.org, c.ID, lesson.ID, learning.ContentFields{Title: ptr("Changed")})
				return err
			},
			"delete content": func(u *store.User) error { return s.DeleteContent(ctx, u, f.org, c.ID, second.ID) },
			"move content":   func(u *store.User) error { return s.MoveContent(ctx, u, f.org, c.ID, lesson.ID, learning.Down) },
			"reorder": func(u *store.User) error {
				_, err := s.ReorderContents(ctx, u, f.org, c.ID, []int64{second.ID, lesson.ID})
				return err
			},
		}
		for name, write := range writes {
			for _, who := range []struct {
				user *store.User
				kind problem.Kind
			}{{f.viewer, problem.Forbidden}, {f.outsider, problem.NotFound}, {nil, problem.Forbidden}} {
				label := "nobody"
				if who.user != nil {
					label = who.user.Email
				}
				before := f.snapshot(f.org, c.ID)
				_, total, _ := db.Read().ListCourses(ctx, store.CourseFilter{OrganizationID: f.org, Limit: 1})
				err := write(who.user)
				if kind(err) != who.kind {
					t.Errorf("%s as %s: %v, want kind %d", name, label, err, who.kind)
				}
				_, after, _ := db.Read().ListCourses(ctx, store.CourseFilter{OrganizationID: f.org, Limit: 1})
				if now := f.snapshot(f.org, c.ID); now != before || after != total {
					t.Errorf("%s as %s was refused but changed data:\nbefore %s\nafter  %s", name, label, before, now)
				}
			}
		}

		// Viewers read everything; outsiders nothing.
		if v, err := s.Course(ctx, f.viewer, f.org, c.ID); err != nil || v.CanEdit || len(v.Contents) != 2 {
			t.Errorf("the viewer's course: %+v, %v", v, err)
		}
		if v, err := s.Content(ctx, f.viewer, f.org, c.ID, lesson.ID); err != nil || v.CanEdit || v.Item.Title != "Lesson" {
			t.Errorf("the viewer's lesson: %+v, %v", v, err)
		}
		for name, read := range map[string]func(u *store.User) error{
			"courses": func(u *store.User) error { _, err := s.Courses(ctx, u, f.org, "", 1); return err },
			"course":  func(u *store.User) error { _, err := s.Course(ctx, u, f.org, c.ID); return err },
			"content": func(u *store.User) error { _, err := s.Content(ctx, u, f.org, c.ID, lesson.ID); return err },
		} {
			if err := read(f.outsider); kind(err) != problem.NotFound {
				t.Errorf("%s as an outsider: %v", name, err)
			}
		}
		if _, err := s.CourseForEditing(ctx, f.viewer, f.org, c.ID); kind(err) != problem.Forbidden {
			t.Errorf("the edit form for a viewer: %v", err)
		}

		// Editors and platform admins write.
		if v, err := s.CourseForEditing(ctx, f.editor, f.org, c.ID); err != nil || !v.CanEdit {
			t.Errorf("the editor's course: %+v, %v", v, err)
		}
		for _, u := range []*store.User{f.editor, f.pa} {
			if err := writes["update content"](u); err != nil {
				t.Errorf("update content as %s: %v", u.Email, err)
			}
			if err := writes["move content"](u); err != nil {
				t.Errorf("move content as %s: %v", u.Email, err)
			}
		}
	})
}

// TestCrossOrganizationIDs addresses a course and content of one
// organization through another's id: nothing is found, nothing changes.
func TestCrossOrganizationIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		s := f.s
		mine := f.course("Mine")
		theirs, err := s.CreateCourse(ctx, f.outsider, f.other, learning.CourseFields{Title: ptr("Theirs")})
		if err != nil {
			t.Fatal(err)
		}
		item, err := s.CreateContent(ctx, f.outsider, f.other, theirs.ID, learning.ContentFields{Kind: store.KindLesson, Title: ptr("Secret"), Published: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		// A platform admin may act in both, so only the ids tell the
		// answers apart; the owner of f.org is refused alike.
		for _, u := range []*store.User{f.owner, f.pa} {
			before := f.snapshot(f.other, theirs.ID) + f.snapshot(f.org, mine.ID)
			checks := map[string]error{}
			_, checks["course"] = s.Course(ctx, u, f.org, theirs.ID)
			_, checks["update course"] = s.UpdateCourse(ctx, u, f.org, theirs.ID, learning.CourseFields{Title: ptr("Taken")})
			checks["delete course"] = s.DeleteCourse(ctx, u, f.org, theirs.ID)
			_, checks["content via their course"] = s.Content(ctx, u, f.org, theirs.ID, item.ID)
			_, checks["content via my course"] = s.Content(ctx, u, f.org, mine.ID, item.ID)
			_, checks["add content"] = s.CreateContent(ctx, u, f.org, theirs.ID, learning.ContentFields{Kind: store.KindLesson, Title: ptr("x")})
			_, checks["update content"] = s.UpdateContent(ctx, u, f.org, mine.ID, item.ID, learning.ContentFields{Title: ptr("x")})
			checks["delete content"] = s.DeleteContent(ctx, u, f.org, mine.ID, item.ID)
			checks["move content"] = s.MoveContent(ctx, u, f.org, mine.ID, item.ID, learning.Up)
			_, checks["reorder with their id"] = s.ReorderContents(ctx, u, f.org, mine.ID, []int64{item.ID})
			for name, err := range checks {
				want := problem.NotFound
				if name == "reorder with their id" {
					want = problem.Invalid // my course's ids are the only valid ones
				}
				if kind(err) != want {
					t.Errorf("%s as %s: %v, want kind %d", name, u.Email, err, want)
				}
			}
			if after := f.snapshot(f.other, theirs.ID) + f.snapshot(f.org, mine.ID); after != before {
				t.Errorf("as %s, changes through the wrong organization changed data:\nbefore %s\nafter  %s", u.Email, before, after)
			}
		}
		// An item of another course of the same organization is not found
		// through this course either.
		other := f.course("Other course")
		mineItem := f.lesson(mine.ID, "Mine", false)
		if _, err := s.UpdateContent(ctx, f.editor, f.org, other.ID, mineItem.ID, learning.ContentFields{Title: ptr("x")}); code(err) != "content_not_found" {
			t.Errorf("an item through another course: %v", err)
		}
	})
}
