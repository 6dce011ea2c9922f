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
		{"platform admin blocks addresses everywhere", admin, ManageBlockedEmails, true},
		{"staff may not block addresses everywhere", staff, ManageBlockedEmails, false},
		{"anonymous may not block addresses everywhere", nil, ManageBlockedEmails, false},
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
		ViewAuditLog:       {Admin, Owner},
		TransferOwnership:  {Owner},
		DeleteOrganization: {Owner},
		ManageAPIKeys:      {Admin, Owner},
		RevokeCertificates: {Editor, Admin, Owner},
		ExportLearners:     {Viewer, Editor, Admin, Owner},
		ExportAuditLog:     {Admin, Owner},
		ImportLearners:     {Editor, Admin, Owner},
		ExportOrganization: {Owner},
		ManageWebhooks:     {Admin, Owner},
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

// TestKeys: a key acts with its own role in its own organization only,
// never manages keys, is never created with more than its creator's role,
// and a platform key takes platform actions only.
func TestKeys(t *testing.T) {
	key := func(org int64, role Role) *store.User {
		return &store.User{IsActive: true, APIKey: &store.KeyGrant{KeyID: 1, OrganizationID: org, Role: string(role)}}
	}
	editor := key(7, Editor)
	if RoleIn(editor, 7, None) != Editor || RoleIn(editor, 8, Owner) != None {
		t.Error("a key's role is not its own role in its own organization alone")
	}
	member := &store.User{ID: 3, IsActive: true}
	if RoleIn(member, 7, Viewer) != Viewer {
		t.Error("a member's role is not their membership's")
	}
	admin := key(7, Admin)
	if !Allowed(admin, RoleIn(admin, 7, None), ManageMembers) || Allowed(admin, RoleIn(admin, 7, None), ManageAPIKeys) {
		t.Error("an admin key may not manage members, or may manage keys")
	}
	if !Allowed(admin, RoleIn(admin, 7, None), ManageWebhooks) || Allowed(editor, RoleIn(editor, 7, None), ManageWebhooks) {
		t.Error("an admin key may not manage webhooks, or an editor key may")
	}
	if Allowed(editor, RoleIn(editor, 7, None), EditOrganization) || !Allowed(editor, RoleIn(editor, 7, None), EditContent) {
		t.Error("an editor key goes beyond the editor's row of the matrix")
	}
	platformKey := &store.User{IsActive: true, IsPlatformAdmin: true, APIKey: &store.KeyGrant{KeyID: 2, Role: "platform"}}
	if !AllowedOnPlatform(platformKey, CreateOrganization) || AllowedOnPlatform(platformKey, ManagePlatformKeys) {
		t.Error("a platform key may not create organizations, or may manage platform keys")
	}
	if !AllowedOnPlatform(platformKey, ImportOrganization) || AllowedOnPlatform(&store.User{IsActive: true}, ImportOrganization) {
		t.Error("a platform key may not import organizations, or any user may")
	}
	if Allowed(platformKey, RoleIn(platformKey, 7, None), ExportOrganization) || Allowed(admin, RoleIn(admin, 7, None), ExportOrganization) {
		t.Error("a key exports an organization")
	}
	if Allowed(platformKey, RoleIn(platformKey, 7, None), ViewOrganization) {
		t.Error("a platform key acts inside an organization")
	}
	if AllowedOnPlatform(admin, CreateOrganization) || AllowedOnPlatform(admin, ViewAllOrganizations) {
		t.Error("an organization's key takes platform actions")
	}
	platformAdmin := &store.User{ID: 4, IsActive: true, IsPlatformAdmin: true}
	cases := []struct {
		actor     *store.User
		actorRole Role
		keyRole   Role
		want      bool
	}{
		{member, Admin, Admin, true},
		{member, Admin, Viewer, true},
		{member, Owner, Admin, true},
		{member, Owner, Owner, false}, // a key never owns
		{member, Editor, Viewer, false},
		{member, Admin, Role("superuser"), false},
		{platformAdmin, None, Admin, true},
		{admin, Admin, Viewer, false}, // a key makes no keys
	}
	for _, c := range cases {
		if got := MayCreateKey(c.actor, c.actorRole, c.keyRole); got != c.want {
			t.Errorf("MayCreateKey(%+v, %s, %s) = %v", c.actor, c.actorRole, c.keyRole, got)
		}
	}
}

// TestOnMember checks the rules about changing one member: nobody changes
// their own role, the owner is fixed, anyone but the owner may leave, and
// only those who manage members change others.
func TestOnMember(t *testing.T) {
	me := &store.User{ID: 1, IsActive: true}
	platformAdmin := &store.User{ID: 1, IsActive: true, IsPlatformAdmin: true}
	const other = 2
	tests := []struct {
		name       string
		actor      *store.User
		actorRole  Role
		change     MemberChange
		target     int64
		targetRole Role
		want       Verdict
	}{
		{"admin demotes an editor", me, Admin, ChangeRole, other, Editor, Allow},
		{"admin demotes another admin", me, Admin, ChangeRole, other, Admin, Allow},
		{"admin removes a viewer", me, Admin, RemoveMember, other, Viewer, Allow},
		{"owner changes an admin", me, Owner, ChangeRole, other, Admin, Allow},
		{"admin may not demote the owner", me, Admin, ChangeRole, other, Owner, OwnerFixed},
		{"admin may not remove the owner", me, Admin, RemoveMember, other, Owner, OwnerFixed},
		{"platform admin may not demote the owner", platformAdmin, None, ChangeRole, other, Owner, OwnerFixed},
		{"platform admin changes a member", platformAdmin, None, ChangeRole, other, Viewer, Allow},
		{"admin may not change their own role", me, Admin, ChangeRole, me.ID, Admin, OwnRole},
		{"owner may not change their own role", me, Owner, ChangeRole, me.ID, Owner, OwnRole},
		{"platform admin may not change their own role", platformAdmin, Admin, ChangeRole, me.ID, Admin, OwnRole},
		{"viewer leaves", me, Viewer, RemoveMember, me.ID, Viewer, Allow},
		{"owner may not leave", me, Owner, RemoveMember, me.ID, Owner, OwnerFixed},
		{"editor may not change roles", me, Editor, ChangeRole, other, Viewer, NotAllowed},
		{"editor may not remove", me, Editor, RemoveMember, other, Viewer, NotAllowed},
		{"non-member may not remove", me, None, RemoveMember, other, Viewer, NotAllowed},
		{"anonymous may not", nil, None, RemoveMember, other, Viewer, NotAllowed},
		{"deactivated admin may not", &store.User{ID: 1, IsActive: false}, Admin, ChangeRole, other, Viewer, NotAllowed},
	}
	for _, tt := range tests {
		if got := OnMember(tt.actor, tt.actorRole, tt.change, tt.target, tt.targetRole); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	if Owner.Assignable() || !Admin.Assignable() || Role("root").Assignable() {
		t.Error("Assignable is wrong")
	}
}

func TestMayCreateOrganization(t *testing.T) {
	admin := &store.User{ID: 1, IsActive: true, IsPlatformAdmin: true}
	user := &store.User{ID: 2, IsActive: true}
	inactive := &store.User{ID: 3}
	orgKey := &store.User{IsActive: true, APIKey: &store.KeyGrant{KeyID: 1, OrganizationID: 7, Role: "admin"}}
	platformKey := &store.User{IsActive: true, IsPlatformAdmin: true, APIKey: &store.KeyGrant{KeyID: 2, Role: "platform"}}
	for _, tc := range []struct {
		name        string
		user        *store.User
		selfService bool
		want        bool
	}{
		{"platform admin", admin, false, true},
		{"platform key", platformKey, false, true},
		{"user, sign-up closed", user, false, false},
		{"user, sign-up open", user, true, true},
		{"deactivated user, sign-up open", inactive, true, false},
		{"organization key, sign-up open", orgKey, true, false},
		{"nobody, sign-up open", nil, true, false},
	} {
		if got := MayCreateOrganization(tc.user, tc.selfService); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSuspendedOrganizations: platform admins and platform keys suspend;
// only platform admins' accounts still act inside a suspended
// organization, never its members or keys.
func TestSuspendedOrganizations(t *testing.T) {
	admin := &store.User{IsActive: true, IsPlatformAdmin: true}
	formerAdmin := &store.User{IsActive: false, IsPlatformAdmin: true}
	owner := &store.User{IsActive: true}
	platformKey := &store.User{IsActive: true, IsPlatformAdmin: true, APIKey: &store.KeyGrant{KeyID: 2, Role: "platform"}}
	orgKey := &store.User{IsActive: true, APIKey: &store.KeyGrant{KeyID: 3, OrganizationID: 7, Role: "admin"}}
	for _, tc := range []struct {
		name           string
		user           *store.User
		suspend, enter bool
	}{
		{"platform admin", admin, true, true},
		{"deactivated platform admin", formerAdmin, false, false},
		{"owner", owner, false, false},
		{"platform key", platformKey, true, false},
		{"organization's key", orgKey, false, false},
		{"nobody", nil, false, false},
	} {
		if got := AllowedOnPlatform(tc.user, SuspendOrganizations); got != tc.suspend {
			t.Errorf("%s suspends: %t, want %t", tc.name, got, tc.suspend)
		}
		if got := EntersSuspended(tc.user); got != tc.enter {
			t.Errorf("%s enters a suspended organization: %t, want %t", tc.name, got, tc.enter)
		}
	}
}
