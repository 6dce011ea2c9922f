package web

import (
	"errors"
	"net/http"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
)

// accountDeletePage asks a user to confirm the deletion of their account,
// or says which organizations they must hand over first.
type accountDeletePage struct {
	orgs.AccountDeletion
	formErrors
}

func (s *Server) accountDeleteForm(w http.ResponseWriter, r *http.Request) {
	s.renderAccountDelete(w, r, http.StatusOK, formErrors{})
}

func (s *Server) renderAccountDelete(w http.ResponseWriter, r *http.Request, status int, errs formErrors) {
	d, err := s.orgs.PrepareAccountDeletion(r.Context(), currentUser(r.Context()))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, status, "account_delete.html", "Delete your account", accountDeletePage{d, errs})
}

// accountDelete deletes the user's own account once they have typed their
// password again. Wrong passwords count against the account, as on the
// password form: a stolen session is not a way to guess the password.
func (s *Server) accountDelete(w http.ResponseWriter, r *http.Request) {
	user := currentUser(r.Context())
	if allowed, err := s.takePasswordAttempt(r, user); err != nil {
		s.serverError(w, r, err)
		return
	} else if !allowed {
		w.Header().Set("Retry-After", "60")
		s.renderAccountDelete(w, r, http.StatusTooManyRequests, formErrors{
			Error: "Too many attempts with a wrong password. Wait a few minutes and try again."})
		return
	}
	err := auth.ConfirmPassword(r.Context(), *user, r.PostFormValue("password"))
	if errors.Is(err, auth.ErrWrongPassword) {
		s.renderAccountDelete(w, r, http.StatusUnprocessableEntity, formErrors{
			Fields: map[string]string{"password": "That is not your password."}})
		return
	}
	s.giveBackPasswordAttempt(r, user)
	if err == nil {
		err = s.orgs.DeleteAccount(r.Context(), user)
	}
	if p, ok := problem.As(err); ok {
		s.renderAccountDelete(w, r, statusOf(p.Kind), formErrors{Error: p.Message})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.Info("account deleted", "user_id", user.ID)
	if err := s.sessions.Destroy(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.flashNext(r, "Your account was deleted.")
	http.Redirect(w, r, "/accounts/login/", http.StatusSeeOther)
}
