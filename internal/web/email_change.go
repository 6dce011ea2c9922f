package web

import (
	"errors"
	"net/http"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/problem"
)

// emailChangePage is the state of the profile's address form.
type emailChangePage struct {
	Typed string // the new address as typed, when it was refused
	formErrors
}

// emailChange asks for a new address: a link goes there, and a notice to
// the current one. Wrong passwords count against the account, as on the
// password form.
func (s *Server) emailChange(w http.ResponseWriter, r *http.Request) {
	user := currentUser(r.Context())
	typed := r.PostFormValue("email")
	if allowed, err := s.takePasswordAttempt(r, user); err != nil {
		s.serverError(w, r, err)
		return
	} else if !allowed {
		w.Header().Set("Retry-After", "60")
		s.renderProfile(w, r, http.StatusTooManyRequests, profilePage{Email: emailChangePage{Typed: typed, formErrors: formErrors{
			Error: "Too many attempts with a wrong password. Wait a few minutes and try again."}}})
		return
	}
	newEmail, err := s.accounts.RequestEmailChange(r.Context(), *user, typed, r.PostFormValue("email_password"))
	if errors.Is(err, auth.ErrWrongPassword) {
		s.renderProfile(w, r, http.StatusUnprocessableEntity, profilePage{Email: emailChangePage{Typed: typed, formErrors: formErrors{
			Fields: map[string]string{"email_password": "That is not your password."}}}})
		return
	}
	s.giveBackPasswordAttempt(r, user)
	if p, ok := problem.As(err); ok {
		s.renderProfile(w, r, statusOf(p.Kind), profilePage{Email: emailChangePage{Typed: typed, formErrors: errorsFor(p, postedFields(r))}})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.Info("email change asked for", "user_id", user.ID)
	s.flashNext(r, "We sent a link to "+newEmail+". Your address changes when you open it.")
	http.Redirect(w, r, profilePath, http.StatusSeeOther)
}

// emailChangeConfirmPage is the page a link to confirm a new address opens.
type emailChangeConfirmPage struct {
	auth.EmailChangeRequest
	Token     string
	LinkError string
}

// emailChangeConfirmForm shows what the link changes, with a button: a
// mail scanner that fetches the link changes nothing.
func (s *Server) emailChangeConfirmForm(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	req, err := s.accounts.CheckEmailChange(r.Context(), token)
	if p, ok := problem.As(err); ok {
		s.render(w, r, statusOf(p.Kind), "email_change_confirm.html", "Confirm your new address", emailChangeConfirmPage{LinkError: p.Message})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "email_change_confirm.html", "Confirm your new address", emailChangeConfirmPage{EmailChangeRequest: req, Token: token})
}

// emailChangeConfirm changes the address, which ends every session of the
// user. A browser logged in as that user goes on with a new session; any
// other is sent to log in with the new address.
func (s *Server) emailChangeConfirm(w http.ResponseWriter, r *http.Request) {
	user, epoch, err := s.accounts.ConfirmEmailChange(r.Context(), r.PathValue("token"))
	if p, ok := problem.As(err); ok {
		s.render(w, r, statusOf(p.Kind), "email_change_confirm.html", "Confirm your new address", emailChangeConfirmPage{LinkError: p.Message})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.Info("email changed", "user_id", user.ID)
	if current := currentUser(r.Context()); current != nil && current.ID == user.ID {
		s.flashNext(r, "Your address is now "+user.Email+". You were logged out everywhere else.")
		if err := s.startSession(r, user.ID, epoch); err == nil {
			http.Redirect(w, r, profilePath, http.StatusSeeOther)
			return
		}
	}
	s.flashNext(r, "Your address is now "+user.Email+". Log in with it.")
	http.Redirect(w, r, "/accounts/login/", http.StatusSeeOther)
}
