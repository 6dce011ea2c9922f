package mail

import (
	"testing"

	"github.com/mailschool/mailschool/internal/sourcetest"
)

// TestEveryKindHasALabel finds every constant of type Kind in the
// package's source, so that a kind added later without a label fails.
func TestEveryKindHasALabel(t *testing.T) {
	found := sourcetest.ConstantsOfType(t, "Kind")
	if len(found) < len(kinds) {
		t.Fatalf("found %d Kind constants in the source, fewer than the %d kinds", len(found), len(kinds))
	}
	for _, k := range found {
		if label := KindLabel(k); label == k || label == "" {
			t.Errorf("kind %q has no label", k)
		}
	}
	if got := KindLabel("retired_kind"); got != "retired_kind" {
		t.Errorf("an unknown kind shows as %q, want it as stored", got)
	}
}
