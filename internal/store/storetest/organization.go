package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
)

// Member is a user to add to an organization: a new user with this email,
// in this role.
type Member struct{ Email, Role string }

// NewOrganization creates an organization named name (its name key and
// slug derived from it) and its members, in one transaction, and returns
// its id and the members' users in the order given.
func NewOrganization(tb testing.TB, db *store.DB, name string, members ...Member) (int64, []store.User) {
	tb.Helper()
	ctx := context.Background()
	var (
		orgID int64
		users []store.User
	)
	key := strings.ToLower(name)
	err := db.InTx(ctx, func(q *store.Queries) error {
		org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: name, NameKey: key, NameSkeleton: names.Key(name),
			Slug: strings.ReplaceAll(key, " ", "-")})
		if err != nil {
			return err
		}
		orgID = org.ID
		for _, m := range members {
			u, err := q.CreateUser(ctx, store.NewUser{Email: m.Email})
			if err != nil {
				return err
			}
			if err := q.AddMembership(ctx, org.ID, u.ID, m.Role); err != nil {
				return err
			}
			users = append(users, u)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("organization %s: %v", name, err)
	}
	return orgID, users
}
