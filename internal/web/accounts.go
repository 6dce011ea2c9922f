package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

const platformHome = "/email-learning/platform/"

type loginPage struct {
	Email string
	Next  string
	Error string
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if currentUser(r.Context()) != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login.html", "Log in", loginPage{Next: next})
}

// login checks the credentials. Every attempt counts against the client's
// IP; failed ones also count against the account from that IP, and
// against the account from everywhere, which refuses only the IPs that
// have failed at it: guessing one account's password from many places is
// throttled, and nobody can lock its owner out by failing on purpose.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	form := loginPage{Email: email, Next: safeNext(r.PostFormValue("next"))}

	attempt, ok, err := s.logins.Begin(r.Context(), strings.ToLower(email), clientNetwork(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !ok {
		form.Error = "Too many login attempts. Wait a few minutes and try again."
		w.Header().Set("Retry-After", "60")
		s.render(w, r, http.StatusTooManyRequests, "login.html", "Log in", form)
		return
	}
	user, err := s.accounts.Authenticate(r.Context(), email, password)
	// Begin has counted the attempt; what Done records refines it, and
	// failing to record it is no reason to refuse the answer.
	if err := attempt.Done(r.Context(), errors.Is(err, auth.ErrInvalidCredentials)); err != nil {
		s.logger.Error("record the end of a login attempt", "err", err)
	}
	if errors.Is(err, auth.ErrInvalidCredentials) {
		form.Error = auth.ErrInvalidCredentials.Message
		s.render(w, r, http.StatusUnauthorized, "login.html", "Log in", form)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.logIn(r, user); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
}

// logIn starts and saves a login session for user on the request's
// session; it comes after the request's other changes to the session.
func (s *Server) logIn(r *http.Request, user store.User) error {
	if err := s.startSession(r, user.ID, user.SessionEpoch); err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	s.logger.Info("login", "user_id", user.ID)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if currentUser(r.Context()) == nil {
		// Nobody to log out: a flash message would store a session for
		// every anonymous request.
		http.Redirect(w, r, "/accounts/login/", http.StatusSeeOther)
		return
	}
	if err := s.sessions.Destroy(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.flashNext(r, "You have been logged out.")
	http.Redirect(w, r, "/accounts/login/", http.StatusSeeOther)
}

// passwordChange changes the password after checking the old one. Wrong
// old passwords count against the account: a stolen session is not a way
// to guess the password. Each attempt takes its token before the password
// is checked, so parallel posts stay within the limit, and gives it back
// unless the old password was wrong.
func (s *Server) passwordChange(w http.ResponseWriter, r *http.Request) {
	user := currentUser(r.Context())
	if allowed, err := s.takePasswordAttempt(r, user); err != nil {
		s.serverError(w, r, err)
		return
	} else if !allowed {
		w.Header().Set("Retry-After", "60")
		s.renderProfile(w, r, http.StatusTooManyRequests, profilePage{Password: passwordChangePage{formErrors{
			Error: "Too many attempts with a wrong old password. Wait a few minutes and try again."}}})
		return
	}
	epoch, err := s.accounts.ChangePassword(r.Context(), *user,
		r.PostFormValue("old_password"), r.PostFormValue("new_password"), r.PostFormValue("password_confirm"))
	if !errors.Is(err, auth.ErrWrongPassword) {
		s.giveBackPasswordAttempt(r, user)
	}
	if p, ok := problem.As(err); ok {
		s.renderProfile(w, r, http.StatusUnprocessableEntity, profilePage{Password: passwordChangePage{errorsFor(p, postedFields(r, "password"))}})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.flashNext(r, "Your password was changed.")
	// The other sessions ended with the old epoch; this one continues with
	// a fresh id and the new epoch.
	if err := s.startSession(r, user.ID, epoch); err != nil {
		s.notLoggedIn(w, r, user.Email, "Your password was changed, but you could not stay logged in. Log in with your new password.", err)
		return
	}
	http.Redirect(w, r, platformHome, http.StatusSeeOther)
}

// takePasswordAttempt takes one attempt at typing the user's password
// again (to change it or the address, or to delete the account) from the
// account's allowance, before the password is checked, so that parallel
// posts stay within it. A stolen session is not a way to guess the
// password.
func (s *Server) takePasswordAttempt(r *http.Request, user *store.User) (bool, error) {
	return s.passwordChangePerAccount.Allow(r.Context(), strconv.FormatInt(user.ID, 10))
}

// giveBackPasswordAttempt returns the attempt of a request whose password
// was right: only wrong ones count.
func (s *Server) giveBackPasswordAttempt(r *http.Request, user *store.User) {
	if err := s.passwordChangePerAccount.Return(r.Context(), strconv.FormatInt(user.ID, 10)); err != nil {
		s.logger.Error("give back a password attempt", "user_id", user.ID, "err", err)
	}
}

// safeNext returns next when it is a path on this site, and the platform
// home otherwise, so the login form cannot redirect to another site.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return platformHome
	}
	return next
}
