package orgs

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// ErrLastPlatformAdmin refuses to delete the account of the only platform
// admin, which would leave the platform without one.
var ErrLastPlatformAdmin = problem.New(problem.Conflict, "last_platform_admin",
	"You are the only platform admin. Make someone else a platform admin (mailschool createsuperuser --email ADDRESS) before you delete your account.")

// AccountDeletion is what deleting the actor's account would do: the
// organizations they would leave, and those they own, which stop it.
type AccountDeletion struct {
	Leaves []store.Membership
	Owns   []store.Membership
}

// PrepareAccountDeletion says what deleting the actor's account would do.
func (s *Service) PrepareAccountDeletion(ctx context.Context, actor *store.User) (AccountDeletion, error) {
	if actor == nil {
		return AccountDeletion{}, ErrForbidden
	}
	return accountDeletion(ctx, s.db.Read(), actor)
}

func accountDeletion(ctx context.Context, q *store.Queries, actor *store.User) (AccountDeletion, error) {
	list, err := q.UserMemberships(ctx, actor.ID)
	if err != nil {
		return AccountDeletion{}, err
	}
	var d AccountDeletion
	for _, m := range list {
		if access.Role(m.Role) == access.Owner {
			d.Owns = append(d.Owns, m)
		} else {
			d.Leaves = append(d.Leaves, m)
		}
	}
	return d, nil
}

// ownsOrganizations refuses to delete the account of an owner, naming
// what they own.
func ownsOrganizations(owned []store.Membership) error {
	names := make([]string, len(owned))
	for i, m := range owned {
		names[i] = m.OrganizationName
	}
	return problem.New(problem.Conflict, "owns_organizations", fmt.Sprintf(
		"You own %s. Transfer the ownership of each to another member (Members, then Transfer ownership), or delete it, before you delete your account.",
		strings.Join(names, ", ")))
}

// DeleteAccount deletes the actor's own account: their memberships end
// (each organization's audit log says so, with the address as it was) and
// their sessions with it. It is refused while they own an organization, and
// for the only platform admin. The caller has checked their password.
func (s *Service) DeleteAccount(ctx context.Context, actor *store.User) error {
	if actor == nil || actor.ID == 0 {
		return ErrForbidden
	}
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		d, err := accountDeletion(ctx, q, actor)
		if err != nil {
			return err
		}
		if len(d.Owns) > 0 {
			return ownsOrganizations(d.Owns)
		}
		if actor.IsPlatformAdmin {
			if err := q.LockPlatformAdmins(ctx); err != nil {
				return err
			}
			n, err := q.CountPlatformAdmins(ctx)
			if err != nil {
				return err
			}
			if n <= 1 {
				return ErrLastPlatformAdmin
			}
		}
		for _, m := range d.Leaves {
			if err := s.emit(ctx, q, Event{Kind: AccountDeleted, OrganizationID: m.OrganizationID, Actor: actor,
				UserID: actor.ID, Target: actor.Email, Old: map[string]string{"role": m.Role}}); err != nil {
				return err
			}
		}
		return q.DeleteUser(ctx, actor.ID)
	})
	if err != nil {
		return fmt.Errorf("delete the account of %s: %w", actor.Email, err)
	}
	return nil
}
