package delivery_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// TestBlockedAddressAnnouncesCancellation: the engine's cancellation of a
// blocked address's enrollment is an enrollment.cancelled event, as
// staff's is, and a completion an enrollment.completed one.
func TestBlockedAddressAnnouncesCancellation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		var events []string
		f.learning.OnEvent(func(_ context.Context, _ *store.Queries, e learning.Event) error {
			if e.Enrollment != nil {
				events = append(events, e.Enrollment.LearnerEmail+" "+string(e.Kind))
			}
			return nil
		})
		blocked := f.enroll("blocked@example.com")
		if _, err := f.learning.BlockEmail(context.Background(), f.editor, f.org, "blocked@example.com"); err != nil {
			t.Fatal(err)
		}
		f.deliver(f.deliveries(blocked)[0].ID)
		done := f.enroll("done@example.com")
		for i := range f.lessons {
			f.deliver(f.deliveries(done)[i].ID)
		}
		want := []string{"blocked@example.com enrollment.created", "blocked@example.com enrollment.cancelled",
			"done@example.com enrollment.created", "done@example.com enrollment.completed", "done@example.com certificate.issued"}
		if !slices.Equal(events, want) {
			t.Errorf("events %q, want %q", events, want)
		}
	})
}

// TestQuizWebhooks: a quiz answered, and the completion it brings, are
// written as webhook messages in the answer's transaction, in order.
func TestQuizWebhooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		webhooks.NewService(db, webhooks.Options{Learning: f.learning}).Attach(nil, f.learning)
		ctx := context.Background()
		var w store.WebhookEndpoint
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			w, err = q.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{OrganizationID: f.org, URL: "https://hr.example/",
				Events: []string{"quiz.answered", "enrollment.completed", "certificate.issued"}, Secret: "whsec_x"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		quiz := f.addQuiz("Final")
		e := f.enroll("ada@example.com")
		f.sendScheduled(e)
		id, sig := quizLink(t, f.mails("ada@example.com", mail.KindQuiz)[0])
		f.answer(id, sig, right(quiz))
		messages, err := db.Read().WebhookMessages(ctx, f.org, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, m := range slices.Backward(messages) {
			types = append(types, m.EventType)
			if m.Subject != "enrollment:"+strconv.FormatInt(e.ID, 10) {
				t.Errorf("%s has the subject %q", m.EventType, m.Subject)
			}
		}
		if want := []string{"quiz.answered", "enrollment.completed", "certificate.issued"}; !slices.Equal(types, want) {
			t.Fatalf("messages %q, want %q", types, want)
		}
		var p struct {
			Data webhooks.QuizEventData `json:"data"`
		}
		if err := json.Unmarshal([]byte(messages[2].Payload), &p); err != nil {
			t.Fatal(err)
		}
		a := p.Data.QuizAttempt
		if a.EnrollmentID != e.ID || a.QuizTitle != "Final" || a.Score != 100 || !a.Passed || a.Attempt != 1 ||
			a.LearnerEmail != "ada@example.com" || time.Since(a.AnsweredAt) > time.Minute || p.Data.Enrollment.Status != "active" {
			t.Errorf("quiz.answered data %+v", p.Data)
		}
	})
}
