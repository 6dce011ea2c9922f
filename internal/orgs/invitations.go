package orgs

import (
	"context"
	"errors"
	"fmt"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// MaxUserNameRunes bounds the name people give themselves.
const MaxUserNameRunes = auth.MaxNameRunes

// Errors about invitations.
var (
	ErrInvitationNotFound = problem.New(problem.NotFound, "invitation_not_found", "This invitation link is not valid. Check that you copied all of it.")
	ErrInvitationAccepted = problem.New(problem.Gone, "invitation_accepted", "This invitation was already accepted: whoever accepted it reaches the organization from their list of organizations, after logging in.")
	ErrInvitationRevoked  = problem.New(problem.Gone, "invitation_revoked", "This invitation was withdrawn. Ask the organization's admins for a new one.")
	ErrInvitationExpired  = problem.New(problem.Gone, "invitation_expired", "This invitation has expired. Ask the organization's admins to send it again.")
)

// InvitationView is an invitation with its status at the time it was read.
type InvitationView struct {
	store.Invitation
	Status store.InvitationStatus
}

func (s *Service) view(inv store.Invitation) InvitationView {
	return InvitationView{Invitation: inv, Status: inv.Status(s.now())}
}

// invite creates or renews the invitation of email to org and sends it.
func (s *Service) invite(ctx context.Context, q *store.Queries, actor *store.User, org store.Organization, email string, role access.Role) (InvitationView, error) {
	token, hash := auth.NewToken()
	inv, err := q.SaveInvitation(ctx, store.NewInvitation{OrganizationID: org.ID, Email: email, Role: string(role),
		TokenHash: hash, InvitedBy: actor.ID, ExpiresAt: s.now().Add(s.invitationTTL)})
	if err != nil {
		return InvitationView{}, err
	}
	e := Event{Kind: InvitationCreated, OrganizationID: org.ID, Actor: actor, Target: email, New: map[string]string{"role": string(role)}}
	if !inv.CreatedAt.Equal(inv.UpdatedAt) {
		e.Kind = InvitationRenewed // an open invitation was there: it now has this role and link
	}
	if err := s.emit(ctx, q, e); err != nil {
		return InvitationView{}, err
	}
	return s.view(inv), s.sendInvitation(ctx, q, actor, org, inv, token)
}

func (s *Service) sendInvitation(ctx context.Context, q *store.Queries, actor *store.User, org store.Organization, inv store.Invitation, token string) error {
	return s.send(ctx, q, org, inv.Email, mail.KindInvitation, mail.Invitation{
		OrganizationName: org.Name, Role: inv.Role, InvitedBy: actor.Email,
		URL: s.baseURL + InvitationPath(token), ExpiresAt: inv.ExpiresAt,
	})
}

// InvitationPath is where an invitation is accepted.
func InvitationPath(token string) string { return "/invitations/" + token + "/" }

// Invitations lists an organization's open invitations, newest first.
func (s *Service) Invitations(ctx context.Context, actor *store.User, orgID int64) ([]InvitationView, error) {
	q := s.db.Read()
	if _, err := Authorize(ctx, q, actor, orgID, access.ManageMembers); err != nil {
		return nil, err
	}
	return s.openInvitations(ctx, q, orgID)
}

func (s *Service) openInvitations(ctx context.Context, q *store.Queries, orgID int64) ([]InvitationView, error) {
	list, err := q.OpenInvitations(ctx, orgID)
	if err != nil {
		return nil, err
	}
	views := make([]InvitationView, len(list))
	for i, inv := range list {
		views[i] = s.view(inv)
	}
	return views, nil
}

// ResendInvitation sends an open invitation again with a new link and a
// new expiry; the old link stops working.
func (s *Service) ResendInvitation(ctx context.Context, actor *store.User, orgID, invitationID int64) (InvitationView, error) {
	var view InvitationView
	err := s.changeMembers(ctx, actor, orgID, access.ManageMembers, func(q *store.Queries, v View) error {
		inv, err := openInvitation(ctx, q, orgID, invitationID)
		if err != nil {
			return err
		}
		token, hash := auth.NewToken()
		if err := q.RenewInvitation(ctx, orgID, inv.ID, hash, s.now().Add(s.invitationTTL)); err != nil {
			return err
		}
		if inv, err = q.Invitation(ctx, orgID, inv.ID); err != nil {
			return err
		}
		view = s.view(inv)
		if err := s.emit(ctx, q, Event{Kind: InvitationResent, OrganizationID: orgID, Actor: actor, Target: inv.Email}); err != nil {
			return err
		}
		return s.sendInvitation(ctx, q, actor, v.Organization, inv, token)
	})
	if err != nil {
		return InvitationView{}, fmt.Errorf("resend invitation %d: %w", invitationID, err)
	}
	return view, nil
}

// RevokeInvitation withdraws an open invitation: its link stops working.
func (s *Service) RevokeInvitation(ctx context.Context, actor *store.User, orgID, invitationID int64) error {
	err := s.changeMembers(ctx, actor, orgID, access.ManageMembers, func(q *store.Queries, v View) error {
		inv, err := openInvitation(ctx, q, orgID, invitationID)
		if err != nil {
			return err
		}
		if err := q.RevokeInvitation(ctx, orgID, inv.ID); err != nil {
			return err
		}
		return s.emit(ctx, q, Event{Kind: InvitationRevoked, OrganizationID: orgID, Actor: actor, Target: inv.Email,
			Old: map[string]string{"role": inv.Role}})
	})
	if err != nil {
		return fmt.Errorf("revoke invitation %d: %w", invitationID, err)
	}
	return nil
}

// openInvitation loads an invitation of the organization that can still
// be resent or revoked.
func openInvitation(ctx context.Context, q *store.Queries, orgID, id int64) (store.Invitation, error) {
	inv, err := q.Invitation(ctx, orgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Invitation{}, ErrInvitationNotFound
	}
	if err != nil {
		return store.Invitation{}, err
	}
	switch {
	case inv.AcceptedAt != nil:
		return store.Invitation{}, problem.New(problem.Conflict, "invitation_accepted", "This invitation was already accepted.")
	case inv.RevokedAt != nil:
		return store.Invitation{}, problem.New(problem.Conflict, "invitation_revoked", "This invitation was already withdrawn.")
	}
	return inv, nil
}

// Invited is an invitation as the invited person sees it, from the link.
type Invited struct {
	InvitationView
	OrganizationName string
	// AccountExists tells whether the invited address has an account: its
	// owner logs in to accept rather than setting a password.
	AccountExists bool
}

// InvitationByToken returns the pending invitation a link names. Unknown
// tokens are not found; accepted, revoked and expired ones are gone.
func (s *Service) InvitationByToken(ctx context.Context, token string) (Invited, error) {
	return s.invited(ctx, s.db.Read(), token)
}

func (s *Service) invited(ctx context.Context, q *store.Queries, token string) (Invited, error) {
	inv, err := q.InvitationByTokenHash(ctx, auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Invited{}, ErrInvitationNotFound
	}
	if err != nil {
		return Invited{}, err
	}
	view := s.view(inv)
	switch view.Status {
	case store.InvitationAccepted:
		return Invited{}, ErrInvitationAccepted
	case store.InvitationRevoked:
		return Invited{}, ErrInvitationRevoked
	case store.InvitationExpired:
		return Invited{}, ErrInvitationExpired
	}
	org, err := q.OrganizationByID(ctx, inv.OrganizationID)
	if err != nil {
		return Invited{}, err
	}
	// A suspended organization takes no new members; the link works
	// again when it is resumed, if it has not expired.
	if org.Suspended() {
		return Invited{}, ErrSuspended
	}
	_, err = q.UserByEmail(ctx, inv.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Invited{}, err
	}
	return Invited{InvitationView: view, OrganizationName: org.Name, AccountExists: err == nil}, nil
}

// NewAccount is what an invited person without an account enters.
type NewAccount struct {
	Name            string
	Password        string
	PasswordConfirm string
}

// AcceptWithNewAccount accepts an invitation for an address that has no
// account: it creates the account with the given name and password and
// the membership, in one transaction, and returns the new user and the
// organization joined.
func (s *Service) AcceptWithNewAccount(ctx context.Context, token string, a NewAccount) (store.User, int64, error) {
	if _, err := s.InvitationByToken(ctx, token); err != nil {
		return store.User{}, 0, err // say first that the link is dead, before judging the form
	}
	name, hash, err := validateNewAccount(ctx, a)
	if err != nil {
		return store.User{}, 0, err
	}
	var (
		user  store.User
		orgID int64
	)
	err = s.db.InTx(ctx, func(q *store.Queries) error {
		inv, err := s.invited(ctx, q, token)
		if err != nil {
			return err
		}
		if inv.AccountExists {
			return problem.Newf(problem.Conflict, "account_exists",
				"An account for %s already exists. Log in with it, then open the invitation link again.", inv.Email)
		}
		user, err = q.CreateUser(ctx, store.NewUser{Email: inv.Email, Name: name, PasswordHash: hash})
		if errors.Is(err, store.ErrConflict) {
			return problem.Newf(problem.Conflict, "account_exists", "An account for %s was just created. Log in with it.", inv.Email)
		}
		if err != nil {
			return err
		}
		orgID = inv.OrganizationID
		return s.accept(ctx, q, &user, inv.Invitation)
	})
	if err != nil {
		return store.User{}, 0, fmt.Errorf("accept invitation: %w", err)
	}
	return user, orgID, nil
}

// AcceptAsUser accepts an invitation for the logged-in user, whose address
// must be the invited one.
func (s *Service) AcceptAsUser(ctx context.Context, user *store.User, token string) (int64, error) {
	var orgID int64
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		inv, err := s.invited(ctx, q, token)
		if err != nil {
			return err
		}
		if user.Email != inv.Email {
			return WrongAccount(inv.Email, user.Email)
		}
		orgID = inv.OrganizationID
		return s.accept(ctx, q, user, inv.Invitation)
	})
	if err != nil {
		return 0, fmt.Errorf("accept invitation: %w", err)
	}
	return orgID, nil
}

// WrongAccount is the problem of a logged-in user opening an invitation
// meant for another address.
func WrongAccount(invited, current string) error {
	return problem.Newf(problem.Forbidden, "wrong_account",
		"This invitation is for %s, but you are logged in as %s. Log out, then open the link again.", invited, current)
}

// accept makes user a member as the invitation says, once. An owner
// invitation transfers the ownership; a user who became a member meanwhile
// keeps the role they have.
func (s *Service) accept(ctx context.Context, q *store.Queries, user *store.User, inv store.Invitation) error {
	if err := q.LockOrganization(ctx, inv.OrganizationID); err != nil {
		return err
	}
	if err := q.AcceptInvitation(ctx, inv.OrganizationID, inv.ID, user.ID, s.now()); errors.Is(err, store.ErrNotFound) {
		return ErrInvitationAccepted // a concurrent request used it first
	} else if err != nil {
		return err
	}
	err := s.emit(ctx, q, Event{Kind: InvitationAccepted, OrganizationID: inv.OrganizationID, Actor: user, UserID: user.ID,
		Target: inv.Email, New: map[string]string{"role": inv.Role}})
	if err != nil {
		return err
	}
	m, err := q.OrganizationMember(ctx, inv.OrganizationID, user.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		role := access.Role(inv.Role)
		if role == access.Owner {
			if err := q.AddMembership(ctx, inv.OrganizationID, user.ID, string(access.Viewer)); err != nil {
				return err
			}
			m, err = q.OrganizationMember(ctx, inv.OrganizationID, user.ID)
			if err != nil {
				return err
			}
			return s.transfer(ctx, q, user, inv.OrganizationID, m)
		}
		if err := q.AddMembership(ctx, inv.OrganizationID, user.ID, string(role)); err != nil {
			return err
		}
		return s.emit(ctx, q, Event{Kind: MemberAdded, OrganizationID: inv.OrganizationID, Actor: user, UserID: user.ID,
			Target: user.Email, New: map[string]string{"role": string(role)}})
	case err != nil:
		return err
	case inv.Role == string(access.Owner) && m.Role != string(access.Owner):
		return s.transfer(ctx, q, user, inv.OrganizationID, m)
	}
	return nil
}

func validateNewAccount(ctx context.Context, a NewAccount) (name, hash string, err error) {
	fields := map[string]string{}
	name, err = auth.CleanName(a.Name)
	if p, ok := problem.As(err); ok {
		fields["name"] = p.Fields["name"]
	} else if err != nil {
		return "", "", err
	}
	if perr := auth.ValidatePassword(a.Password); perr != nil {
		if p, ok := problem.As(perr); ok {
			for k, v := range p.Fields {
				fields[k] = v
			}
		} else {
			return "", "", perr
		}
	} else if a.Password != a.PasswordConfirm {
		fields["password_confirm"] = auth.ErrPasswordMismatch.Message
	}
	if len(fields) > 0 {
		return "", "", &problem.Error{Kind: problem.Invalid, Code: "invalid_account",
			Message: "Your account was not created: correct the marked fields.", Fields: fields}
	}
	if hash, err = auth.HashPassword(ctx, a.Password); err != nil {
		return "", "", err
	}
	return name, hash, nil
}
