package delivery_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestLessonsAreRenderedBeforeTheTransaction: a delivery's lessons, its
// own and those that go out with it, are rendered before its transaction
// begins, so that no other write waits while Markdown is rendered: on
// SQLite that transaction holds the only write connection. While a lesson
// is rendered, the test locks the delivery's rows itself, which would
// wait for the delivery's transaction (its write connection on SQLite,
// its row locks on PostgreSQL) until it timed out.
func TestLessonsAreRenderedBeforeTheTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db) // One now, Two an hour after One
		three := f.addLesson("Three", 0)
		e := f.enroll("ada@example.com")
		var rendered []string
		var delivering int64
		f.engine.SetRenderer(func(body string) (learning.Rendered, error) {
			rendered = append(rendered, body)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err := db.InTx(ctx, func(q *store.Queries) error {
				_, err := q.LockDeliveriesForSending(ctx, []int64{delivering})
				return err
			})
			if err != nil {
				t.Errorf("a write while rendering %q waited for the delivery's transaction: %v", body, err)
			}
			return learning.RenderLesson(body)
		})

		delivering = f.deliveries(e)[0].ID
		f.deliver(delivering)
		delivering = f.deliveries(e)[1].ID
		f.deliver(delivering) // Two, and Three with it
		if got, want := rendered, []string{f.lessons[0].Body, f.lessons[1].Body, three.Body}; !slices.Equal(got, want) {
			t.Errorf("rendered %q, want %q", got, want)
		}
		if n := len(f.lessonMails("ada@example.com")); n != 3 {
			t.Errorf("%d lesson emails, want 3", n)
		}
	})
}

// TestALessonChangedWhileRenderedGoesOutChanged: when a lesson changes
// between its rendering and the delivery's transaction, the delivery
// renders it again rather than send what it no longer says.
func TestALessonChangedWhileRenderedGoesOutChanged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		e := f.enroll("ada@example.com")
		renders := 0
		f.engine.SetRenderer(func(body string) (learning.Rendered, error) {
			renders++
			if renders == 1 {
				_, err := f.learning.UpdateContent(context.Background(), f.editor, f.org, f.course, f.lessons[0].ID,
					learning.ContentFields{Body: ptr("The *corrected* first lesson")})
				if err != nil {
					t.Fatal(err)
				}
			}
			return learning.RenderLesson(body)
		})
		f.deliver(f.deliveries(e)[0].ID)
		mails := f.lessonMails("ada@example.com")
		if len(mails) != 1 {
			t.Fatalf("%d lesson emails, want 1", len(mails))
		}
		p, err := mail.Parse(mails[0].Raw)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.HTML, "<em>corrected</em>") || !strings.Contains(p.Text, "The corrected first lesson") || renders != 2 {
			t.Errorf("after %d renderings the lesson went out as\n%s\n%s", renders, p.HTML, p.Text)
		}
	})
}
