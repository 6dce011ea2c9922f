package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestContentQueries checks the queries other packages build on: items in
// order with their questions, the next published item, and that ids of
// one organization find nothing in another.
func TestContentQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var orgA, orgB, course, courseB, lesson, quiz, draft int64
		err := db.InTx(ctx, func(q *store.Queries) error {
			a, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "A", NameKey: "a", NameSkeleton: names.Key("A"), Slug: "a"})
			if err != nil {
				return err
			}
			b, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "B", NameKey: "b", NameSkeleton: names.Key("B"), Slug: "b"})
			if err != nil {
				return err
			}
			orgA, orgB = a.ID, b.ID
			if course, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: orgA, Title: "Go", TitleKey: "go", TitleSkeleton: names.Key("Go"), Slug: "go", Public: true}); err != nil {
				return err
			}
			if courseB, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: orgB, Title: "Go", TitleKey: "go", TitleSkeleton: names.Key("Go"), Slug: "go"}); err != nil {
				return err
			}
			add := func(kind, title string, published bool) int64 {
				id, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: orgA, CourseID: course, Kind: kind, Title: title,
					Body: "body of " + title, WaitingPeriodSeconds: 60, Published: published, RequiredScore: map[bool]int{true: 75}[kind == store.KindQuiz]})
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			lesson, draft, quiz = add(store.KindLesson, "Lesson", true), add(store.KindLesson, "Draft", false), add(store.KindQuiz, "Quiz", true)
			return q.SaveQuizQuestions(ctx, orgA, quiz, []store.QuizQuestion{
				{Text: "First?", Answers: []store.QuizAnswer{{Text: "yes", Correct: true}, {Text: "no"}}},
				{Text: "Second?", Answers: []store.QuizAnswer{{Text: "a"}, {Text: "b", Correct: true}, {Text: "c"}}},
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		q := db.Read()

		items, err := q.CourseContents(ctx, orgA, course)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, i := range items {
			got = append(got, fmt.Sprintf("%s:%s@%d:%v:%d", i.Kind, i.Title, i.Position, i.Published, len(i.Questions)))
		}
		if strings.Join(got, " ") != "lesson:Lesson@1:true:0 lesson:Draft@2:false:0 quiz:Quiz@3:true:2" {
			t.Errorf("course contents: %v", got)
		}
		qz := items[2]
		if qz.RequiredScore != 75 || qz.WaitingPeriodSeconds != 60 || qz.Questions[1].Text != "Second?" ||
			len(qz.Questions[1].Answers) != 3 || !qz.Questions[1].Answers[1].Correct || qz.Questions[1].Answers[0].Correct {
			t.Errorf("quiz = %+v", qz)
		}
		if single, err := q.ContentItem(ctx, orgA, quiz); err != nil || fmt.Sprint(single.Questions) != fmt.Sprint(qz.Questions) {
			t.Errorf("ContentItem(quiz) = %+v, %v", single.Questions, err)
		}
		if l, err := q.ContentItem(ctx, orgA, lesson); err != nil || l.Questions != nil || l.Body != "body of Lesson" {
			t.Errorf("ContentItem(lesson) = %+v, %v", l, err)
		}

		// The next published item, skipping drafts.
		first, err := q.PublishedContentAfter(ctx, orgA, course, -1)
		if err != nil || first.ID != lesson {
			t.Errorf("first published: %+v, %v", first, err)
		}
		next, err := q.PublishedContentAfter(ctx, orgA, course, first.Position)
		if err != nil || next.ID != quiz || len(next.Questions) != 2 {
			t.Errorf("after the lesson: %+v, %v (draft %d skipped)", next, err, draft)
		}
		if _, err := q.PublishedContentAfter(ctx, orgA, course, next.Position); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after the last: %v", err)
		}
		if n, err := q.CountPublishedContents(ctx, orgA, course); err != nil || n != 2 {
			t.Errorf("published count: %d, %v", n, err)
		}

		// Another organization's id finds nothing.
		if _, err := q.ContentItem(ctx, orgB, lesson); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ContentItem through organization B: %v", err)
		}
		if _, err := q.PublishedContentAfter(ctx, orgB, course, -1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PublishedContentAfter through organization B: %v", err)
		}
		if list, err := q.CourseContents(ctx, orgB, course); err != nil || len(list) != 0 {
			t.Errorf("CourseContents through organization B: %v, %v", list, err)
		}
		if _, err := q.Course(ctx, orgB, course); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Course through organization B: %v", err)
		}
		if c, err := q.CourseBySlug(ctx, orgB, "go"); err != nil || c.ID != courseB {
			t.Errorf("CourseBySlug in organization B: %+v, %v", c, err)
		}
		err = db.InTx(ctx, func(q *store.Queries) error {
			if err := q.SetContentPosition(ctx, orgB, course, lesson, 9); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("SetContentPosition through organization B: %v", err)
			}
			if err := q.SetContentPosition(ctx, orgA, courseB, lesson, 9); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("SetContentPosition through another course: %v", err)
			}
			if err := q.DeleteContentItem(ctx, orgB, lesson); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteContentItem through organization B: %v", err)
			}
			if err := q.UpdateContentItem(ctx, orgB, lesson, store.ContentFields{Title: "x"}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UpdateContentItem through organization B: %v", err)
			}
			if err := q.DeleteCourse(ctx, orgB, course); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteCourse through organization B: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Saving questions matches rows by position: ids stay, surplus
		// rows go.
		err = db.InTx(ctx, func(q *store.Queries) error {
			return q.SaveQuizQuestions(ctx, orgA, quiz, []store.QuizQuestion{
				{Text: "First, reworded?", Answers: []store.QuizAnswer{{Text: "no", Correct: true}, {Text: "yes"}}},
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		after, _ := q.ContentItem(ctx, orgA, quiz)
		if len(after.Questions) != 1 || after.Questions[0].ID != qz.Questions[0].ID || after.Questions[0].Answers[0].ID != qz.Questions[0].Answers[0].ID ||
			after.Questions[0].Text != "First, reworded?" || !after.Questions[0].Answers[0].Correct || after.Questions[0].Answers[1].Correct {
			t.Errorf("after saving fewer questions: %+v", after.Questions)
		}
		if n, _ := db.RowsWith(ctx, "question_id", qz.Questions[1].ID); n["quiz_answers"] != 0 {
			t.Errorf("the removed question's answers are left: %v", n)
		}
	})
}
