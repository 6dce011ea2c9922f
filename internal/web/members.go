package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// pathInt64 reads a positive integer path value; anything else is a
// missing page.
func pathInt64(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, problem.New(problem.NotFound, "not_found", "There is no such page.")
	}
	return id, nil
}

// orgAndID reads the organization id and a second id of a URL.
func orgAndID(r *http.Request, name string) (orgID, id int64, err error) {
	if orgID, err = pathID(r); err != nil {
		return 0, 0, err
	}
	id, err = pathInt64(r, name)
	return orgID, id, err
}

// memberForm is the data of the Add User page.
type memberForm struct {
	orgs.View
	Email string
	Role  string
	Roles []access.Role
	formErrors
}

func (s *Server) memberNewForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.orgs.Get(r.Context(), currentUser(r.Context()), id)
	if err == nil && !v.CanManageMembers {
		err = orgs.ErrForbidden
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "member_form.html", "Add user to "+v.Name,
		memberForm{View: v, Role: string(access.Editor), Roles: access.AssignableRoles})
}

func (s *Server) memberAdd(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	email, role := r.PostFormValue("email"), r.PostFormValue("role")
	added, err := s.orgs.AddMember(r.Context(), user, id, email, access.Role(role))
	if err == nil {
		if added.Member != nil {
			s.flashNext(r, fmt.Sprintf("%s was added as %s and told by email.", added.Member.Email, added.Member.Role))
		} else {
			s.flashNext(r, fmt.Sprintf("An invitation was sent to %s.", added.Invitation.Email))
		}
		http.Redirect(w, r, organizationPath(id)+"#members", http.StatusSeeOther)
		return
	}
	p, ok := problem.As(err)
	if !ok || p.Kind == problem.NotFound || p.Kind == problem.Forbidden {
		s.pageError(w, r, err)
		return
	}
	v, getErr := s.orgs.Get(r.Context(), user, id)
	if getErr != nil {
		s.pageError(w, r, getErr)
		return
	}
	s.render(w, r, statusOf(p.Kind), "member_form.html", "Add user to "+v.Name,
		memberForm{View: v, Email: email, Role: role, Roles: access.AssignableRoles, formErrors: errorsFor(p, postedFields(r))})
}

func (s *Server) memberRole(w http.ResponseWriter, r *http.Request) {
	orgID, userID, err := orgAndID(r, "user_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	m, err := s.orgs.ChangeRole(r.Context(), currentUser(r.Context()), orgID, userID, access.Role(r.PostFormValue("role")))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, fmt.Sprintf("%s is now %s.", m.Email, m.Role))
	http.Redirect(w, r, organizationPath(orgID)+"#members", http.StatusSeeOther)
}

// memberRemovePage asks before a member is removed, or before one leaves.
type memberRemovePage struct {
	orgs.View
	Member store.Member
	Self   bool
}

func (s *Server) memberRemoveForm(w http.ResponseWriter, r *http.Request) {
	orgID, userID, err := orgAndID(r, "user_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	v, m, err := s.orgs.PrepareRemoval(r.Context(), user, orgID, userID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	title := "Remove " + m.Email
	if m.UserID == user.ID {
		title = "Leave " + v.Name
	}
	s.render(w, r, http.StatusOK, "member_remove.html", title, memberRemovePage{View: v, Member: m, Self: m.UserID == user.ID})
}

func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request) {
	orgID, userID, err := orgAndID(r, "user_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	_, m, err := s.orgs.PrepareRemoval(r.Context(), user, orgID, userID)
	if err == nil {
		err = s.orgs.RemoveMember(r.Context(), user, orgID, userID)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if userID == user.ID {
		if s.sessions.GetInt64(r.Context(), sessionOrganization) == orgID {
			s.sessions.Remove(r.Context(), sessionOrganization)
		}
		s.flashNext(r, "You left the organization.")
		http.Redirect(w, r, organizationsPath, http.StatusSeeOther)
		return
	}
	s.flashNext(r, fmt.Sprintf("%s was removed from the organization.", m.Email))
	http.Redirect(w, r, organizationPath(orgID)+"#members", http.StatusSeeOther)
}

func (s *Server) invitationResend(w http.ResponseWriter, r *http.Request) {
	orgID, invID, err := orgAndID(r, "invitation_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	inv, err := s.orgs.ResendInvitation(r.Context(), currentUser(r.Context()), orgID, invID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, fmt.Sprintf("The invitation was sent to %s again, with a new link.", inv.Email))
	http.Redirect(w, r, organizationPath(orgID)+"#invitations", http.StatusSeeOther)
}

func (s *Server) invitationRevoke(w http.ResponseWriter, r *http.Request) {
	orgID, invID, err := orgAndID(r, "invitation_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.orgs.RevokeInvitation(r.Context(), currentUser(r.Context()), orgID, invID); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, "The invitation was withdrawn; its link no longer works.")
	http.Redirect(w, r, organizationPath(orgID)+"#invitations", http.StatusSeeOther)
}

// transferPage is the ownership transfer form.
type transferPage struct {
	orgs.View
	Candidates []store.Member
	Chosen     int64 // the member chosen in the refused form
	formErrors
}

func (s *Server) transferForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, candidates, err := s.orgs.TransferCandidates(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "transfer.html", "Transfer "+v.Name, transferPage{View: v, Candidates: candidates})
}

func (s *Server) transfer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	newOwner, _ := strconv.ParseInt(r.PostFormValue("user_id"), 10, 64)
	offer, err := s.orgs.OfferOwnership(r.Context(), user, id, newOwner)
	if err == nil {
		s.flashNext(r, fmt.Sprintf("The ownership was offered to %s, who becomes the owner on accepting it.", offer.Email))
		http.Redirect(w, r, organizationPath(id)+"#members", http.StatusSeeOther)
		return
	}
	p, ok := problem.As(err)
	if !ok || p.Kind == problem.NotFound || p.Kind == problem.Forbidden {
		s.pageError(w, r, err)
		return
	}
	v, candidates, getErr := s.orgs.TransferCandidates(r.Context(), user, id)
	if getErr != nil {
		s.pageError(w, r, getErr)
		return
	}
	s.render(w, r, statusOf(p.Kind), "transfer.html", "Transfer "+v.Name,
		transferPage{View: v, Candidates: candidates, Chosen: newOwner, formErrors: errorsFor(p, postedFields(r))})
}

// acceptOwnership makes the member an offer names the owner.
func (s *Server) acceptOwnership(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if _, err := s.orgs.AcceptOwnership(r.Context(), currentUser(r.Context()), id); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, "You now own the organization.")
	http.Redirect(w, r, organizationPath(id), http.StatusSeeOther)
}

// endOwnershipOffer withdraws an offer (the owner) or declines it (the
// member it names).
func (s *Server) endOwnershipOffer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.orgs.EndOwnershipOffer(r.Context(), currentUser(r.Context()), id); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, "The ownership offer was ended; nothing changed hands.")
	http.Redirect(w, r, organizationPath(id), http.StatusSeeOther)
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	aq := auditQuery(r)
	aq.Before, _ = strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	page, err := s.orgs.Audit(r.Context(), currentUser(r.Context()), id, aq)
	data := auditPage{AuditPage: page, OlderURL: auditOlderURL(aq, page.Next)}
	if len(aq.Kinds) == 1 {
		data.Kind = aq.Kinds[0]
	}
	for _, k := range orgs.EventKinds() {
		data.Kinds = append(data.Kinds, eventKindOption{Kind: string(k), Label: orgs.EventLabel(string(k))})
	}
	status := http.StatusOK
	if err != nil {
		// A filter the log cannot read is shown beside its field, over an
		// empty log; anything else is the error page.
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.Malformed || page.ID == 0 {
			s.pageError(w, r, err)
			return
		}
		status = http.StatusBadRequest
		data.formErrors = errorsFor(p, fieldSet{"kind": true, "actor": true, "from": true, "to": true})
	}
	if err == nil && page.CanExport {
		data.ExportURL = auditExportURL(id, aq)
	}
	s.render(w, r, status, "audit.html", "Audit log of "+page.Name, data)
}

// invitationPage is the page an invitation link opens.
type invitationPage struct {
	orgs.Invited
	Token string
	Name  string
	formErrors
	// WrongAccount is set when someone else is logged in.
	WrongAccount string
}

// invitationShow shows an invitation: a form to set a name and password,
// or, for the invited user when logged in, a button to accept.
func (s *Server) invitationShow(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	inv, err := s.orgs.InvitationByToken(r.Context(), token)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	page := invitationPage{Invited: inv, Token: token}
	status := http.StatusOK
	if user := currentUser(r.Context()); user != nil && user.Email != inv.Email {
		page.WrongAccount = orgs.WrongAccount(inv.Email, user.Email).Error()
		status = http.StatusForbidden
	}
	s.render(w, r, status, "invitation.html", "Join "+inv.OrganizationName, page)
}

// invitationAccept accepts an invitation: as the logged-in invited user,
// or by creating the account, after which the person is logged in.
func (s *Server) invitationAccept(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if allowed, err := s.invitationPerIP.Allow(r.Context(), clientNetwork(r)); err != nil {
		s.serverError(w, r, err)
		return
	} else if !allowed {
		w.Header().Set("Retry-After", "60")
		s.renderError(w, r, http.StatusTooManyRequests, "Too many attempts", "Too many attempts from your network. Wait a minute and try again.")
		return
	}
	if user := currentUser(r.Context()); user != nil {
		orgID, err := s.orgs.AcceptAsUser(r.Context(), user, token)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.flashNext(r, "Welcome! You are now a member of the organization.")
		http.Redirect(w, r, organizationPath(orgID), http.StatusSeeOther)
		return
	}
	user, orgID, err := s.orgs.AcceptWithNewAccount(r.Context(), token, orgs.NewAccount{
		Name: r.PostFormValue("name"), Password: r.PostFormValue("password"), PasswordConfirm: r.PostFormValue("password_confirm"),
	})
	if p, ok := problem.As(err); ok && p.Kind == problem.Invalid {
		inv, getErr := s.orgs.InvitationByToken(r.Context(), token)
		if getErr != nil {
			s.pageError(w, r, getErr)
			return
		}
		s.render(w, r, http.StatusUnprocessableEntity, "invitation.html", "Join "+inv.OrganizationName,
			invitationPage{Invited: inv, Token: token, Name: r.PostFormValue("name"), formErrors: errorsFor(p, postedFields(r))})
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.sessions.Put(r.Context(), sessionOrganization, orgID)
	s.flashNext(r, "Welcome! Your account is ready and you are a member of the organization.")
	if err := s.logIn(r, user); err != nil {
		s.notLoggedIn(w, r, user.Email, "Your account is ready and you are a member of the organization, but you could not be logged in. Log in with your new password.", err)
		return
	}
	http.Redirect(w, r, organizationPath(orgID), http.StatusSeeOther)
}
