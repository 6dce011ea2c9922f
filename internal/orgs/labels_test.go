package orgs

import (
	"testing"

	"github.com/mailschool/mailschool/internal/sourcetest"
)

// TestEveryEventHasALabel finds every constant of type EventKind in the
// package's source, so that an audited action added later without a
// label fails.
func TestEveryEventHasALabel(t *testing.T) {
	found := sourcetest.ConstantsOfType(t, "EventKind")
	if len(found) < 16 {
		t.Fatalf("found only %d EventKind constants in the source", len(found))
	}
	for _, k := range found {
		if label := EventLabel(k); label == k || label == "" {
			t.Errorf("audit action %q has no label", k)
		}
	}
	if got := EventLabel("retired.action"); got != "retired.action" {
		t.Errorf("an unknown action shows as %q, want it as stored", got)
	}
	for field, want := range map[string]string{"role": "Role", "reply_to": "Reply-To address", "some_new_field": "Some new field"} {
		if got := FieldLabel(field); got != want {
			t.Errorf("FieldLabel(%q) = %q, want %q", field, got, want)
		}
	}
}
