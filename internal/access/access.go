// Package access is the one place that decides what a user may do. Handlers
// and domain packages ask it; nothing else encodes roles.
package access

import "github.com/mailschool/mailschool/internal/store"

// Role is a member's role in an organization. Roles are ordered: each
// may do everything the one below it may.
type Role string

const (
	None   Role = "" // not a member
	Viewer Role = "viewer"
	Editor Role = "editor"
	Admin  Role = "admin"
	Owner  Role = "owner"
)

var rank = map[Role]int{None: 0, Viewer: 1, Editor: 2, Admin: 3, Owner: 4}

// Valid reports whether r is one of the four member roles.
func (r Role) Valid() bool { return r != None && rank[r] > 0 }

// AtLeast reports whether r is min or above it.
func (r Role) AtLeast(min Role) bool { return rank[r] >= rank[min] }

// Action is something done inside one organization.
type Action string

const (
	ViewOrganization   Action = "view_organization"   // see it, its courses, learners, reports
	EditContent        Action = "edit_content"        // create and edit courses, lessons, quizzes
	ManageEnrollments  Action = "manage_enrollments"  // cancel enrollments, block addresses
	EditOrganization   Action = "edit_organization"   // name, description, logo, slug
	ManageMembers      Action = "manage_members"      // add and remove users, change roles, invite
	ViewAuditLog       Action = "view_audit_log"      // read who changed what
	TransferOwnership  Action = "transfer_ownership"  // hand the organization to another member
	DeleteOrganization Action = "delete_organization" // remove it and everything it owns
	ManageAPIKeys      Action = "manage_api_keys"     // create, list and revoke the organization's API keys
	// RevokeCertificates is withdrawing a certificate an enrollment
	// earned. The design's matrix has no row for certificates: a
	// certificate is the outcome of an enrollment, so seeing them is
	// ViewOrganization and revoking is placed with "manage learner
	// enrollments" (editors and above), the role that may cancel the
	// enrollment itself. It is an action of its own so that the rule can
	// be read, and changed, in one place.
	RevokeCertificates Action = "revoke_certificates"
	// ExportLearners is downloading the organization's learners and
	// enrollments as files: whoever may see their lists may take them
	// away whole, viewers included (the design's "view" enrollments).
	ExportLearners Action = "export_learners"
	// ExportAuditLog is downloading the audit log as a file: the same
	// people as reading it.
	ExportAuditLog Action = "export_audit_log"
	// ImportLearners is enrolling a CSV file of addresses into a course:
	// "manage learner enrollments" in bulk, so editors and above.
	ImportLearners Action = "import_learners"
	// ExportOrganization is downloading a copy of everything the
	// organization holds (members' addresses, learners, the audit log):
	// the owner's, as deleting it is. No key may: keys never hold the
	// owner's role.
	ExportOrganization Action = "export_organization"
	// ManageWebhooks is adding, changing and removing the organization's
	// webhook endpoints and reading their delivery log: admins, as for
	// API keys. Unlike API keys, an admin's key may: integrations set up
	// their own endpoints, and an endpoint acts for nobody.
	ManageWebhooks Action = "manage_webhooks"
)

// minimumRole is the role matrix of the design: the lowest role that may
// take each action. Platform admins may take every action.
var minimumRole = map[Action]Role{
	ViewOrganization:   Viewer,
	EditContent:        Editor,
	ManageEnrollments:  Editor,
	EditOrganization:   Admin,
	ManageMembers:      Admin,
	ViewAuditLog:       Admin,
	TransferOwnership:  Owner,
	DeleteOrganization: Owner,
	ManageAPIKeys:      Admin,
	RevokeCertificates: Editor,
	ExportLearners:     Viewer,
	ExportAuditLog:     Admin,
	ImportLearners:     Editor,
	ExportOrganization: Owner,
	ManageWebhooks:     Admin,
}

// Allowed reports whether user, whose role in the organization is role
// (None when not a member), may take action there.
func Allowed(user *store.User, role Role, action Action) bool {
	min, known := minimumRole[action]
	if !known || user == nil || !user.IsActive {
		return false
	}
	if user.APIKey != nil {
		// A key never manages keys: a leaked one could otherwise make
		// others that outlive its revocation.
		return action != ManageAPIKeys && role != None && role.AtLeast(min)
	}
	if user.IsPlatformAdmin {
		return true
	}
	return role != None && role.AtLeast(min)
}

// RoleIn is the role actor acts with in organization orgID, whose
// membership gives memberRole: an API key has its own role in its own
// organization and none anywhere else, whatever its creator's roles.
func RoleIn(actor *store.User, orgID int64, memberRole Role) Role {
	if actor == nil {
		return None
	}
	if actor.APIKey != nil {
		if actor.APIKey.OrganizationID != 0 && actor.APIKey.OrganizationID == orgID {
			return Role(actor.APIKey.Role)
		}
		return None
	}
	return memberRole
}

// KeyRoles are the roles an organization's API key may have: a key never
// owns.
var KeyRoles = []Role{Viewer, Editor, Admin}

// MayCreateKey reports whether actor, whose role in the organization is
// actorRole, may create a key there with keyRole: admins may, never with
// more than their own role.
func MayCreateKey(actor *store.User, actorRole, keyRole Role) bool {
	if keyRole != Viewer && keyRole != Editor && keyRole != Admin {
		return false
	}
	if !Allowed(actor, actorRole, ManageAPIKeys) {
		return false
	}
	return actor.IsPlatformAdmin || actorRole.AtLeast(keyRole)
}

// MemberChange is a change to one member of an organization.
type MemberChange int

const (
	ChangeRole   MemberChange = iota + 1 // give another role
	RemoveMember                         // take out of the organization; for oneself, leave it
)

// Verdict is the answer about a change to a member: allowed, or why not.
type Verdict int

const (
	Allow      Verdict = iota
	NotAllowed         // the actor may not manage members
	OwnRole            // nobody changes their own role
	OwnerFixed         // the owner is neither demoted nor removed: ownership moves by transfer
)

// OnMember decides whether actor, whose role in the organization is
// actorRole, may make a change to the member targetID, whose role is
// targetRole. Leaving is removing oneself: any member but the owner may.
func OnMember(actor *store.User, actorRole Role, change MemberChange, targetID int64, targetRole Role) Verdict {
	if actor == nil || !actor.IsActive {
		return NotAllowed
	}
	self := actor.ID == targetID
	switch {
	case change == ChangeRole && self:
		return OwnRole
	case targetRole == Owner:
		return OwnerFixed
	case change == RemoveMember && self && actorRole != None:
		return Allow
	case !Allowed(actor, actorRole, ManageMembers):
		return NotAllowed
	}
	return Allow
}

// AssignableRoles are the roles a member can be given by adding or
// changing: the owner's role moves only by transfer.
var AssignableRoles = []Role{Admin, Editor, Viewer}

// Assignable reports whether r can be given by adding or changing a member.
func (r Role) Assignable() bool { return r == Admin || r == Editor || r == Viewer }

// PlatformAction is something done outside any one organization.
type PlatformAction string

const (
	// ViewOutbox is reading every email the platform sent or stored.
	ViewOutbox PlatformAction = "view_outbox"
	// CreateOrganization is adding a new organization.
	CreateOrganization PlatformAction = "create_organization"
	// ViewAllOrganizations is listing every organization, member or not.
	ViewAllOrganizations PlatformAction = "view_all_organizations"
	// ManageBlockedEmails is blocking addresses for every organization at
	// once, and lifting such blocks; organizations block their own with
	// ManageEnrollments.
	ManageBlockedEmails PlatformAction = "manage_blocked_emails"
	// ManagePlatformKeys is creating, listing and revoking platform API
	// keys; no key may, whatever it may do otherwise.
	ManagePlatformKeys PlatformAction = "manage_platform_keys"
	// SuspendOrganizations is suspending an organization (its staff are
	// refused, its public pages gone, its course email held) and
	// resuming it.
	SuspendOrganizations PlatformAction = "suspend_organizations"
	// ImportOrganization is creating an organization from an export,
	// with its members' accounts where they have none.
	ImportOrganization PlatformAction = "import_organization"
)

// platformActions lists the platform actions; today every one of them is
// for platform admins alone.
var platformActions = map[PlatformAction]bool{
	ViewOutbox:           true,
	CreateOrganization:   true,
	ViewAllOrganizations: true,
	ManageBlockedEmails:  true,
	ManagePlatformKeys:   true,
	SuspendOrganizations: true,
	ImportOrganization:   true,
}

// MayCreateOrganization reports whether user may create an organization:
// platform admins (and platform keys) may; so may any user whom the
// platform's sign-up admits (selfService), for an organization they own
// themselves. A key of an organization may not.
func MayCreateOrganization(user *store.User, selfService bool) bool {
	if AllowedOnPlatform(user, CreateOrganization) {
		return true
	}
	return selfService && user != nil && user.IsActive && user.APIKey == nil
}

// AllowedOnPlatform reports whether user may take a platform action.
// Anonymous (nil) and deactivated users may take none.
func AllowedOnPlatform(user *store.User, action PlatformAction) bool {
	adminOnly, known := platformActions[action]
	if !known || user == nil || !user.IsActive {
		return false
	}
	if user.APIKey != nil {
		// A platform key may take the platform actions, but never manage
		// keys; an organization's key may take none.
		return user.APIKey.OrganizationID == 0 && action != ManagePlatformKeys
	}
	return !adminOnly || user.IsPlatformAdmin
}

// EntersSuspended reports whether user may still act inside a suspended
// organization: platform admins may (to see what is there and resume
// it); its members and its API keys may not, whatever their role.
func EntersSuspended(user *store.User) bool {
	return user != nil && user.IsActive && user.APIKey == nil && user.IsPlatformAdmin
}
