package access

import (
	"testing"

	"github.com/mailschool/mailschool/internal/store"
)

func TestAllowedOnPlatform(t *testing.T) {
	admin := &store.User{IsActive: true, IsPlatformAdmin: true}
	staff := &store.User{IsActive: true}
	formerAdmin := &store.User{IsActive: false, IsPlatformAdmin: true}
	tests := []struct {
		name   string
		user   *store.User
		action PlatformAction
		want   bool
	}{
		{"platform admin reads the outbox", admin, ViewOutbox, true},
		{"staff may not", staff, ViewOutbox, false},
		{"anonymous may not", nil, ViewOutbox, false},
		{"deactivated admin may not", formerAdmin, ViewOutbox, false},
		{"unknown action is refused even to admins", admin, PlatformAction("launch_rockets"), false},
	}
	for _, tt := range tests {
		if got := AllowedOnPlatform(tt.user, tt.action); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
