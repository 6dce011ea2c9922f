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

// TestMatrix checks every cell of the design's role matrix.
func TestMatrix(t *testing.T) {
	member := &store.User{IsActive: true}
	admin := &store.User{IsActive: true, IsPlatformAdmin: true}
	want := map[Action][]Role{ // the roles allowed, per action
		ViewOrganization:   {Viewer, Editor, Admin, Owner},
		EditContent:        {Editor, Admin, Owner},
		ManageEnrollments:  {Editor, Admin, Owner},
		EditOrganization:   {Admin, Owner},
		ManageMembers:      {Admin, Owner},
		TransferOwnership:  {Owner},
		DeleteOrganization: {Owner},
	}
	for action, allowed := range want {
		for _, role := range []Role{None, Viewer, Editor, Admin, Owner} {
			expect := false
			for _, r := range allowed {
				expect = expect || r == role
			}
			if got := Allowed(member, role, action); got != expect {
				t.Errorf("%s may %s: got %v, want %v", role, action, got, expect)
			}
		}
		if !Allowed(admin, None, action) {
			t.Errorf("a platform admin may not %s", action)
		}
		if Allowed(nil, Owner, action) || Allowed(&store.User{IsActive: false}, Owner, action) {
			t.Errorf("anonymous or deactivated users may %s", action)
		}
	}
	if len(want) != len(minimumRole) {
		t.Errorf("the matrix has %d actions, the test %d", len(minimumRole), len(want))
	}
	if Allowed(admin, Owner, Action("launch_rockets")) {
		t.Error("an unknown action is allowed")
	}
	if Role("superuser").Valid() || None.Valid() || !Viewer.Valid() {
		t.Error("Valid is wrong")
	}
}
