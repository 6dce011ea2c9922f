package web

import (
	"fmt"
	"net/http"

	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
)

type organizationSuspendPage struct {
	orgs.View
	Reason    string // as typed in the refused form
	MaxReason int
	formErrors
}

// organizationSuspendForm asks a platform admin to confirm a suspension,
// with an optional reason.
func (s *Server) organizationSuspendForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.orgs.PrepareSuspend(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "organization_suspend.html", "Suspend "+v.Name,
		organizationSuspendPage{View: v, MaxReason: orgs.MaxSuspensionReasonRunes})
}

func (s *Server) organizationSuspend(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user, reason := currentUser(r.Context()), r.PostFormValue("reason")
	org, err := s.orgs.Suspend(r.Context(), user, id, reason)
	if err == nil {
		s.publicPages.forget(id)
		s.flashNext(r, fmt.Sprintf("%s is suspended: its staff cannot use it, its public pages are gone and its course emails wait until you resume it.", org.Name))
		http.Redirect(w, r, organizationPath(id), http.StatusSeeOther)
		return
	}
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid {
		s.pageError(w, r, err)
		return
	}
	v, loadErr := s.orgs.PrepareSuspend(r.Context(), user, id)
	if loadErr != nil {
		s.pageError(w, r, loadErr)
		return
	}
	s.render(w, r, statusOf(p.Kind), "organization_suspend.html", "Suspend "+v.Name,
		organizationSuspendPage{View: v, Reason: reason, MaxReason: orgs.MaxSuspensionReasonRunes,
			formErrors: errorsFor(p, postedFields(r, "reason"))})
}

func (s *Server) organizationResume(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	org, err := s.orgs.Resume(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.publicPages.forget(id)
	s.flashNext(r, fmt.Sprintf("%s is active again; the course emails it held go out now.", org.Name))
	http.Redirect(w, r, organizationPath(id), http.StatusSeeOther)
}

// apiOrganizationSuspend takes {"reason": "..."}, optional; an empty body
// suspends without a reason.
func (s *Server) apiOrganizationSuspend(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	org, err := s.orgs.Suspend(r.Context(), currentUser(r.Context()), id, in.Reason)
	if err != nil {
		return err
	}
	s.publicPages.forget(id)
	writeJSON(w, http.StatusOK, s.organizationJSON(org))
	return nil
}

func (s *Server) apiOrganizationResume(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	org, err := s.orgs.Resume(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		return err
	}
	s.publicPages.forget(id)
	writeJSON(w, http.StatusOK, s.organizationJSON(org))
	return nil
}
