package web

import (
	"net/http"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// memberJSON is a member in the API.
type memberJSON struct {
	UserID    int64     `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func toMemberJSON(m store.Member) memberJSON {
	return memberJSON{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role, CreatedAt: m.Since}
}

// invitationJSON is an invitation in the API.
type invitationJSON struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	InvitedBy string    `json:"invited_by"`
	ExpiresAt time.Time `json:"expires_at"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toInvitationJSON(inv orgs.InvitationView) invitationJSON {
	return invitationJSON{ID: inv.ID, Email: inv.Email, Role: inv.Role, InvitedBy: inv.InviterEmail,
		ExpiresAt: inv.ExpiresAt, Status: string(inv.Status), CreatedAt: inv.CreatedAt, UpdatedAt: inv.UpdatedAt}
}

func (s *Server) apiMemberList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	page, err := cursorPage(r)
	if err != nil {
		return err
	}
	d, err := s.orgs.GetDetail(r.Context(), currentUser(r.Context()), id, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(d.Members, d.Page, d.Pages, func(m orgs.MemberView) memberJSON { return toMemberJSON(m.Member) }))
	return nil
}

// apiMemberAdd answers 201 with the member when the address has an
// account, and 202 with the invitation when it was invited.
func (s *Server) apiMemberAdd(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	added, err := s.orgs.AddMember(r.Context(), currentUser(r.Context()), id, in.Email, access.Role(in.Role))
	if err != nil {
		return err
	}
	if added.Member != nil {
		writeJSON(w, http.StatusCreated, toMemberJSON(*added.Member))
		return nil
	}
	writeJSON(w, http.StatusAccepted, toInvitationJSON(*added.Invitation))
	return nil
}

func (s *Server) apiMemberUpdate(w http.ResponseWriter, r *http.Request) error {
	orgID, userID, err := orgAndID(r, "user_id")
	if err != nil {
		return err
	}
	var in struct {
		Role string `json:"role"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	m, err := s.orgs.ChangeRole(r.Context(), currentUser(r.Context()), orgID, userID, access.Role(in.Role))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMemberJSON(m))
	return nil
}

func (s *Server) apiMemberRemove(w http.ResponseWriter, r *http.Request) error {
	orgID, userID, err := orgAndID(r, "user_id")
	if err != nil {
		return err
	}
	if err := s.orgs.RemoveMember(r.Context(), currentUser(r.Context()), orgID, userID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiInvitationList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	list, err := s.orgs.Invitations(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(list, 1, 1, toInvitationJSON))
	return nil
}

func (s *Server) apiInvitationResend(w http.ResponseWriter, r *http.Request) error {
	orgID, invID, err := orgAndID(r, "invitation_id")
	if err != nil {
		return err
	}
	inv, err := s.orgs.ResendInvitation(r.Context(), currentUser(r.Context()), orgID, invID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toInvitationJSON(inv))
	return nil
}

func (s *Server) apiInvitationRevoke(w http.ResponseWriter, r *http.Request) error {
	orgID, invID, err := orgAndID(r, "invitation_id")
	if err != nil {
		return err
	}
	if err := s.orgs.RevokeInvitation(r.Context(), currentUser(r.Context()), orgID, invID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiTransferOwnership(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		UserID int64 `json:"user_id"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	offer, err := s.orgs.OfferOwnership(r.Context(), currentUser(r.Context()), id, in.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toOfferJSON(offer))
	return nil
}

// offerJSON is an open offer of an organization's ownership in the API.
type offerJSON struct {
	OrganizationID int64     `json:"organization_id"`
	UserID         int64     `json:"user_id"`
	Email          string    `json:"email"`
	OfferedBy      string    `json:"offered_by"`
	CreatedAt      time.Time `json:"created_at"`
}

func toOfferJSON(o store.OwnershipOffer) offerJSON {
	return offerJSON{OrganizationID: o.OrganizationID, UserID: o.UserID, Email: o.Email, OfferedBy: o.OfferedBy, CreatedAt: o.CreatedAt}
}

func (s *Server) apiOwnershipOffer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	offer, err := s.orgs.OwnershipOffer(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toOfferJSON(offer))
	return nil
}

func (s *Server) apiAcceptOwnership(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	owner, err := s.orgs.AcceptOwnership(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMemberJSON(owner))
	return nil
}

func (s *Server) apiEndOwnershipOffer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.orgs.EndOwnershipOffer(r.Context(), currentUser(r.Context()), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// meJSON is the logged-in user in the API.
type meJSON struct {
	ID              int64            `json:"id"`
	Email           string           `json:"email"`
	Name            string           `json:"name"`
	IsPlatformAdmin bool             `json:"is_platform_admin"`
	Memberships     []membershipJSON `json:"memberships"`
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

type membershipJSON struct {
	OrganizationID   int64  `json:"organization_id"`
	OrganizationName string `json:"organization_name"`
	Role             string `json:"role"`
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) error {
	user := currentUser(r.Context())
	list, err := s.orgs.Memberships(r.Context(), user)
	if err != nil {
		return err
	}
	out := meJSON{ID: user.ID, Email: user.Email, Name: user.Name, IsPlatformAdmin: user.IsPlatformAdmin,
		Memberships: []membershipJSON{}, CreatedAt: user.CreatedAt, UpdatedAt: user.UpdatedAt}
	for _, m := range list {
		out.Memberships = append(out.Memberships, membershipJSON{OrganizationID: m.OrganizationID, OrganizationName: m.OrganizationName, Role: m.Role})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
