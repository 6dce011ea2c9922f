package orgs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Errors about members.
var (
	ErrMemberNotFound = problem.New(problem.NotFound, "member_not_found", "This user is not a member of the organization.")
	ErrOwnRole        = problem.New(problem.Forbidden, "own_role", "You cannot change your own role.")
	ErrOwnerFixed     = problem.New(problem.Conflict, "owner_fixed",
		"The owner cannot be demoted or removed. Ownership moves only by a transfer to another member.")
	ErrOwnerLeaving = problem.New(problem.Conflict, "owner_cannot_leave",
		"Transfer the ownership to another member before you leave the organization.")
	ErrInvalidRole = problem.Field("role", "invalid_role", "Choose admin, editor or viewer.")
)

// Added is the outcome of adding someone by email: a member at once (a
// known user), or an invitation (an unknown address).
type Added struct {
	Member     *store.Member
	Invitation *InvitationView
}

// AddMember adds the person with email to an organization with a role. A
// known user joins at once and is told by email; an unknown address gets
// an invitation, which replaces any open invitation for that address.
func (s *Service) AddMember(ctx context.Context, actor *store.User, orgID int64, email string, role access.Role) (Added, error) {
	email, err := normalizeEmail("email", email)
	if err != nil {
		return Added{}, err
	}
	if !role.Assignable() {
		return Added{}, ErrInvalidRole
	}
	var added Added
	err = s.changeMembers(ctx, actor, orgID, access.ManageMembers, func(q *store.Queries, v View) error {
		user, err := q.UserByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			inv, err := s.invite(ctx, q, actor, v.Organization, email, role)
			added.Invitation = &inv
			return err
		}
		if err != nil {
			return err
		}
		if existing, err := q.OrganizationMember(ctx, orgID, user.ID); err == nil {
			return problem.Newf(problem.Conflict, "already_member", "%s is already a member of %s, as %s.", email, v.Name, existing.Role)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := s.addMember(ctx, q, actor, v.Organization, user, role, true); err != nil {
			return err
		}
		m, err := q.OrganizationMember(ctx, orgID, user.ID)
		added.Member = &m
		return err
	})
	if err != nil {
		return Added{}, fmt.Errorf("add member %s: %w", email, err)
	}
	return added, nil
}

// addMember makes user a member with role, records it and, when notify is
// set, tells the user by email.
func (s *Service) addMember(ctx context.Context, q *store.Queries, actor *store.User, org store.Organization, user store.User, role access.Role, notify bool) error {
	if err := q.AddMembership(ctx, org.ID, user.ID, string(role)); err != nil {
		return err
	}
	err := s.emit(ctx, q, Event{Kind: MemberAdded, OrganizationID: org.ID, Actor: actor, UserID: user.ID, Target: user.Email,
		New: map[string]string{"role": string(role)}})
	if err != nil || !notify {
		return err
	}
	return s.send(ctx, q, org, user.Email, mail.KindMemberAdded, mail.MemberAdded{
		OrganizationName: org.Name, Role: string(role), AddedBy: actor.Email,
		URL: fmt.Sprintf("%s/email-learning/platform/organizations/%d/", s.baseURL, org.ID),
	})
}

// ChangeRole gives a member another role. Nobody changes their own role,
// and the owner's role moves only by transfer.
func (s *Service) ChangeRole(ctx context.Context, actor *store.User, orgID, userID int64, role access.Role) (store.Member, error) {
	if !role.Assignable() {
		return store.Member{}, ErrInvalidRole
	}
	var member store.Member
	err := s.changeMembers(ctx, actor, orgID, access.ViewOrganization, func(q *store.Queries, v View) error {
		m, err := s.memberFor(ctx, q, actor, v, access.ChangeRole, userID)
		if err != nil {
			return err
		}
		member = m
		if m.Role == string(role) {
			return nil
		}
		if err := q.SetMembershipRole(ctx, orgID, userID, string(role)); err != nil {
			return err
		}
		member.Role = string(role)
		return s.emit(ctx, q, Event{Kind: RoleChanged, OrganizationID: orgID, Actor: actor, UserID: userID, Target: m.Email,
			Old: map[string]string{"role": m.Role}, New: map[string]string{"role": string(role)}})
	})
	if err != nil {
		return store.Member{}, fmt.Errorf("change role of user %d in organization %d: %w", userID, orgID, err)
	}
	return member, nil
}

// RemoveMember takes a member out of an organization. Removing oneself is
// leaving, which any member but the owner may do.
func (s *Service) RemoveMember(ctx context.Context, actor *store.User, orgID, userID int64) error {
	err := s.changeMembers(ctx, actor, orgID, access.ViewOrganization, func(q *store.Queries, v View) error {
		m, err := s.memberFor(ctx, q, actor, v, access.RemoveMember, userID)
		if errors.Is(err, ErrOwnerFixed) && userID == actor.ID {
			return ErrOwnerLeaving
		}
		if err != nil {
			return err
		}
		if err := q.DeleteMembership(ctx, orgID, userID); err != nil {
			return err
		}
		if _, err := q.EndOwnershipOffer(ctx, orgID, userID); err != nil {
			return err
		}
		kind := MemberRemoved
		if userID == actor.ID {
			kind = MemberLeft
		}
		return s.emit(ctx, q, Event{Kind: kind, OrganizationID: orgID, Actor: actor, UserID: userID, Target: m.Email,
			Old: map[string]string{"role": m.Role}})
	})
	if err != nil {
		return fmt.Errorf("remove user %d from organization %d: %w", userID, orgID, err)
	}
	return nil
}

// memberFor loads the member a change is about and asks access whether
// the actor may make it.
func (s *Service) memberFor(ctx context.Context, q *store.Queries, actor *store.User, v View, change access.MemberChange, userID int64) (store.Member, error) {
	m, err := q.OrganizationMember(ctx, v.ID, userID)
	if errors.Is(err, store.ErrNotFound) {
		if !v.CanManageMembers {
			return store.Member{}, ErrForbidden // reveal nothing about who belongs
		}
		return store.Member{}, ErrMemberNotFound
	}
	if err != nil {
		return store.Member{}, err
	}
	switch access.OnMember(actor, v.Role, change, userID, access.Role(m.Role)) {
	case access.Allow:
		return m, nil
	case access.OwnRole:
		return store.Member{}, ErrOwnRole
	case access.OwnerFixed:
		if !v.CanManageMembers && userID != actor.ID {
			return store.Member{}, ErrForbidden
		}
		return store.Member{}, ErrOwnerFixed
	}
	return store.Member{}, ErrForbidden
}

// Errors of ownership offers.
var ErrNoOwnershipOffer = problem.New(problem.NotFound, "no_ownership_offer",
	"There is no open offer of this organization's ownership to you.")

// OfferOwnership offers the organization to another member, who becomes
// its owner only by accepting (AcceptOwnership): nobody is made owner,
// and so unable to leave, without consenting. An earlier offer is
// replaced. It returns the offer.
func (s *Service) OfferOwnership(ctx context.Context, actor *store.User, orgID, userID int64) (store.OwnershipOffer, error) {
	var offer store.OwnershipOffer
	err := s.changeMembers(ctx, actor, orgID, access.TransferOwnership, func(q *store.Queries, v View) error {
		m, err := q.OrganizationMember(ctx, orgID, userID)
		if errors.Is(err, store.ErrNotFound) {
			return problem.Field("user_id", "not_a_member", "Choose a member of the organization to transfer it to.")
		}
		if err != nil {
			return err
		}
		if m.Role == string(access.Owner) {
			return problem.Newf(problem.Conflict, "already_owner", "%s already owns %s.", m.Email, v.Name)
		}
		if err := q.OfferOwnership(ctx, orgID, m.UserID, actor.ID); err != nil {
			return err
		}
		if offer, err = q.OwnershipOfferOf(ctx, orgID); err != nil {
			return err
		}
		return s.emit(ctx, q, Event{Kind: OwnershipOffered, OrganizationID: orgID, Actor: actor, UserID: m.UserID, Target: m.Email,
			New: map[string]string{"offered_to": m.Email}})
	})
	if err != nil {
		return store.OwnershipOffer{}, fmt.Errorf("offer organization %d to user %d: %w", orgID, userID, err)
	}
	return offer, nil
}

// OwnershipOffer returns the organization's open offer, for the owner
// and the member it names to see; ErrNoOwnershipOffer when there is none
// or the actor may not see it.
func (s *Service) OwnershipOffer(ctx context.Context, actor *store.User, orgID int64) (store.OwnershipOffer, error) {
	q := s.db.Read()
	v, err := Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return store.OwnershipOffer{}, err
	}
	return ownershipOffer(ctx, q, actor, v)
}

func ownershipOffer(ctx context.Context, q *store.Queries, actor *store.User, v View) (store.OwnershipOffer, error) {
	offer, err := q.OwnershipOfferOf(ctx, v.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && offer.UserID != actor.ID && !v.CanTransfer) {
		return store.OwnershipOffer{}, ErrNoOwnershipOffer
	}
	return offer, err
}

// AcceptOwnership makes the actor the owner of the organization that was
// offered to them; the old owner becomes an admin, in the same
// transaction. It returns the new owner.
func (s *Service) AcceptOwnership(ctx context.Context, actor *store.User, orgID int64) (store.Member, error) {
	var owner store.Member
	err := s.changeMembers(ctx, actor, orgID, access.ViewOrganization, func(q *store.Queries, v View) error {
		offer, err := q.OwnershipOfferOf(ctx, orgID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && offer.UserID != actor.ID) {
			return ErrNoOwnershipOffer
		}
		if err != nil {
			return err
		}
		if owner, err = q.OrganizationMember(ctx, orgID, actor.ID); err != nil {
			return err
		}
		if _, err := q.EndOwnershipOffer(ctx, orgID, 0); err != nil {
			return err
		}
		owner.Role = string(access.Owner)
		return s.transfer(ctx, q, actor, orgID, owner)
	})
	if err != nil {
		return store.Member{}, fmt.Errorf("accept the ownership of organization %d: %w", orgID, err)
	}
	return owner, nil
}

// EndOwnershipOffer withdraws the organization's offer (the owner or a
// platform admin) or declines it (the member it names).
func (s *Service) EndOwnershipOffer(ctx context.Context, actor *store.User, orgID int64) error {
	err := s.changeMembers(ctx, actor, orgID, access.ViewOrganization, func(q *store.Queries, v View) error {
		offer, err := ownershipOffer(ctx, q, actor, v)
		if err != nil {
			return err
		}
		if _, err := q.EndOwnershipOffer(ctx, orgID, 0); err != nil {
			return err
		}
		kind := OwnershipOfferWithdrawn
		if offer.UserID == actor.ID {
			kind = OwnershipOfferDeclined
		}
		return s.emit(ctx, q, Event{Kind: kind, OrganizationID: orgID, Actor: actor, UserID: offer.UserID, Target: offer.Email,
			Old: map[string]string{"offered_to": offer.Email}})
	})
	if err != nil {
		return fmt.Errorf("end the ownership offer of organization %d: %w", orgID, err)
	}
	return nil
}

// transfer makes m the owner and the current owner, if any, an admin. The
// old owner steps down first: at most one owner may exist at any moment.
func (s *Service) transfer(ctx context.Context, q *store.Queries, actor *store.User, orgID int64, m store.Member) error {
	old := map[string]string{"owner": ""}
	owner, err := q.OrganizationOwner(ctx, orgID)
	switch {
	case err == nil:
		if err := q.SetMembershipRole(ctx, orgID, owner.UserID, string(access.Admin)); err != nil {
			return err
		}
		old["owner"] = owner.Email
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if err := q.SetMembershipRole(ctx, orgID, m.UserID, string(access.Owner)); err != nil {
		return err
	}
	return s.emit(ctx, q, Event{Kind: OwnershipTransferred, OrganizationID: orgID, Actor: actor, UserID: m.UserID, Target: m.Email,
		Old: old, New: map[string]string{"owner": m.Email}})
}

// changeMembers runs fn in a transaction that holds the organization's
// lock, after checking that the actor may take action there. The lock
// makes concurrent changes (two admins demoting each other, two
// transfers) take turns, so each sees the outcome of the one before.
func (s *Service) changeMembers(ctx context.Context, actor *store.User, orgID int64, action access.Action, fn func(q *store.Queries, v View) error) error {
	return s.db.InTx(ctx, func(q *store.Queries) error {
		if err := q.LockOrganization(ctx, orgID); errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		v, err := Authorize(ctx, q, actor, orgID, action)
		if err != nil {
			return err
		}
		return fn(q, v)
	})
}

// Memberships lists the organizations the actor belongs to, with roles.
func (s *Service) Memberships(ctx context.Context, actor *store.User) ([]store.Membership, error) {
	if actor == nil {
		return nil, ErrForbidden
	}
	return s.db.Read().UserMemberships(ctx, actor.ID)
}

// OwnMembership is one of the actor's organizations as their profile lists
// it: their role, and whether they may leave (an owner transfers the
// ownership first).
type OwnMembership struct {
	store.Membership
	CanLeave bool
}

// OwnMemberships lists the organizations the actor belongs to, with roles
// and whether they may leave each.
func (s *Service) OwnMemberships(ctx context.Context, actor *store.User) ([]OwnMembership, error) {
	list, err := s.Memberships(ctx, actor)
	if err != nil {
		return nil, err
	}
	own := make([]OwnMembership, len(list))
	for i, m := range list {
		role := access.Role(m.Role)
		own[i] = OwnMembership{Membership: m, CanLeave: access.OnMember(actor, role, access.RemoveMember, actor.ID, role) == access.Allow}
	}
	return own, nil
}

// Limits on the emails that one organization's staff can make the
// platform send to one address (invitations, resends, "you were added"):
// the address and part of the text are theirs to choose, so without a
// limit resending and adding and removing would turn the platform into a
// tool for flooding someone's inbox.
const (
	MailPerAddressPerMinute = 1
	MailPerAddressPerDay    = 5
)

// Errors of the limits on staff emails.
var (
	ErrMailedMinuteAgo = problem.New(problem.Throttled, "recently_emailed",
		"This address was sent an email from this organization less than a minute ago. Wait a minute and try again.")
	ErrMailedTooOften = problem.New(problem.Throttled, "emailed_too_often",
		fmt.Sprintf("This address was sent %d emails from this organization in the last 24 hours, the most allowed. Try again tomorrow.", MailPerAddressPerDay))
)

// staffMailKinds are the emails that staff actions send.
var staffMailKinds = []string{string(mail.KindInvitation), string(mail.KindMemberAdded)}

// send renders and enqueues an email that speaks for org, in q's
// transaction, unless the limits on staff emails to the address forbid it.
func (s *Service) send(ctx context.Context, q *store.Queries, org store.Organization, to string, kind mail.Kind, data any) error {
	if s.mail == nil {
		return errors.New("organizations service has no mailer")
	}
	for _, limit := range []struct {
		within time.Duration
		most   int
		err    error
	}{{time.Minute, MailPerAddressPerMinute, ErrMailedMinuteAgo}, {24 * time.Hour, MailPerAddressPerDay, ErrMailedTooOften}} {
		n, err := q.CountRecentMail(ctx, org.ID, to, staffMailKinds, s.now().Add(-limit.within))
		if err != nil {
			return err
		}
		if n >= limit.most {
			return limit.err
		}
	}
	_, err := s.mail.Enqueue(ctx, q, mail.Email{Kind: kind, To: to, OrganizationID: org.ID,
		Organization: &mail.Branding{Name: org.Name}, Data: data})
	return err
}

// normalizeEmail checks an address and reports a problem on field.
func normalizeEmail(field, email string) (string, error) {
	normalized, err := auth.NormalizeEmail(email)
	if err != nil {
		return "", problem.Field(field, "invalid_email", "Enter a valid email address.")
	}
	return normalized, nil
}

// PrepareRemoval returns the member that removing userID would remove,
// after checking that the actor may, for the confirmation page.
func (s *Service) PrepareRemoval(ctx context.Context, actor *store.User, orgID, userID int64) (View, store.Member, error) {
	q := s.db.Read()
	v, err := Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return View{}, store.Member{}, err
	}
	m, err := s.memberFor(ctx, q, actor, v, access.RemoveMember, userID)
	if errors.Is(err, ErrOwnerFixed) && userID == actor.ID {
		err = ErrOwnerLeaving
	}
	return v, m, err
}

// maxTransferCandidates bounds the members offered as the next owner.
const maxTransferCandidates = 1000

// TransferCandidates returns the members the actor may hand the
// organization to: everyone but the owner.
func (s *Service) TransferCandidates(ctx context.Context, actor *store.User, orgID int64) (View, []store.Member, error) {
	q := s.db.Read()
	v, err := Authorize(ctx, q, actor, orgID, access.TransferOwnership)
	if err != nil {
		return View{}, nil, err
	}
	members, err := q.OrganizationMembers(ctx, orgID, 0, maxTransferCandidates)
	if err != nil {
		return View{}, nil, err
	}
	var candidates []store.Member
	for _, m := range members {
		if m.Role != string(access.Owner) {
			candidates = append(candidates, m)
		}
	}
	return v, candidates, nil
}

// AdoptOwnerless makes a platform admin the owner of every organization
// that has none, such as the default organization of a new install, so
// that each organization has its one owner. It returns their names.
func (s *Service) AdoptOwnerless(ctx context.Context, actor *store.User) ([]string, error) {
	if !access.AllowedOnPlatform(actor, access.CreateOrganization) {
		return nil, ErrForbidden
	}
	var names []string
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		list, err := q.OwnerlessOrganizations(ctx)
		if err != nil {
			return err
		}
		for _, org := range list {
			if err := q.LockOrganization(ctx, org.ID); err != nil {
				return err
			}
			m, err := q.OrganizationMember(ctx, org.ID, actor.ID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				err = s.addMember(ctx, q, actor, org, *actor, access.Owner, false)
			case err == nil:
				err = s.transfer(ctx, q, actor, org.ID, m)
			}
			if err != nil {
				return err
			}
			names = append(names, org.Name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("adopt organizations without owner: %w", err)
	}
	return names, nil
}
