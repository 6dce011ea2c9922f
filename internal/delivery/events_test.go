package delivery_test

import (
	"context"
	"slices"
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
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
