// Package access is the one place that decides what a user may do. Handlers
// and domain packages ask it; nothing else encodes roles.
package access

import "github.com/mailschool/mailschool/internal/store"

// PlatformAction is something done outside any one organization.
type PlatformAction string

const (
	// ViewOutbox is reading every email the platform sent or stored.
	ViewOutbox PlatformAction = "view_outbox"
)

// platformActions maps each platform action to whether platform admins
// alone may take it; today every one of them is theirs.
var platformActions = map[PlatformAction]bool{
	ViewOutbox: true,
}

// AllowedOnPlatform reports whether user may take a platform action.
// Anonymous (nil) and deactivated users may take none.
func AllowedOnPlatform(user *store.User, action PlatformAction) bool {
	adminOnly, known := platformActions[action]
	if !known || user == nil || !user.IsActive {
		return false
	}
	return !adminOnly || user.IsPlatformAdmin
}
