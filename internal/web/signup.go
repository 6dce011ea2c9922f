package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
)

const signupPath = "/accounts/signup/"

// signupPage is the sign-up form, with what was typed when it was refused
// (never the password).
type signupPage struct {
	Email, Name, Organization string
	Domains                   []string
	formErrors
}

// signupOpen answers 404 when sign-up is closed, as if the pages did not
// exist, and reports whether it is open.
func (s *Server) signupOpen(w http.ResponseWriter, r *http.Request) bool {
	if !s.signup.Open {
		s.notFound(w, r)
		return false
	}
	return true
}

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	if !s.signupOpen(w, r) {
		return
	}
	s.render(w, r, http.StatusOK, "signup.html", "Sign up", signupPage{Domains: s.signup.Domains})
}

// signup takes the form. Every valid form gets the same answer, whether or
// not the address has an account (the email sent differs, in a job), so
// the form cannot tell who has one. Every request counts against the
// client's address; each mailbox gets a few emails an hour, and requests
// over that get the same answer and send nothing. A form whose hidden
// field is filled in came from a bot: it gets the same answer too.
func (s *Server) signupPost(w http.ResponseWriter, r *http.Request) {
	if !s.signupOpen(w, r) {
		return
	}
	page := signupPage{Email: strings.TrimSpace(r.PostFormValue("email")), Name: r.PostFormValue("name"),
		Organization: r.PostFormValue("organization"), Domains: s.signup.Domains}
	allowed, err := s.signupPerIP.Allow(r.Context(), clientNetwork(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !allowed {
		page.Error = "Too many sign-ups from your network. Wait a few minutes and try again."
		w.Header().Set("Retry-After", "60")
		s.render(w, r, http.StatusTooManyRequests, "signup.html", "Sign up", page)
		return
	}
	if r.PostFormValue(honeypotField) != "" {
		http.Redirect(w, r, signupPath+"done/", http.StatusSeeOther)
		return
	}
	valid, err := s.orgs.ValidateSignup(r.Context(), orgs.SignupForm{Email: page.Email, Name: page.Name,
		Password: r.PostFormValue("password"), Organization: page.Organization})
	if err == nil {
		var allowed bool
		if allowed, err = s.signupPerAddress.Allow(r.Context(), auth.MailboxKey(valid.Email)); err == nil {
			err = s.orgs.RequestSignup(r.Context(), valid, !allowed)
		}
	}
	if p, ok := problem.As(err); ok {
		page.formErrors = errorsFor(p, postedFields(r))
		s.render(w, r, statusOf(p.Kind), "signup.html", "Sign up", page)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, signupPath+"done/", http.StatusSeeOther)
}

func (s *Server) signupDone(w http.ResponseWriter, r *http.Request) {
	if !s.signupOpen(w, r) {
		return
	}
	s.render(w, r, http.StatusOK, "signup_done.html", "Check your email", nil)
}

// signupConfirmPage is the page a sign-up link opens.
type signupConfirmPage struct {
	orgs.Signup
	Token     string
	LinkError string
}

// signupConfirmForm shows what the link creates, with a button: a mail
// scanner that fetches the link creates nothing.
func (s *Server) signupConfirmForm(w http.ResponseWriter, r *http.Request) {
	if !s.signupOpen(w, r) {
		return
	}
	token := r.PathValue("token")
	su, err := s.orgs.CheckSignup(r.Context(), token)
	if p, ok := problem.As(err); ok {
		s.render(w, r, statusOf(p.Kind), "signup_confirm.html", "Confirm your sign-up", signupConfirmPage{LinkError: p.Message})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "signup_confirm.html", "Confirm your sign-up", signupConfirmPage{Signup: su, Token: token})
}

// signupConfirm creates the account and the organization, logs the new
// owner in and shows them their organization.
func (s *Server) signupConfirm(w http.ResponseWriter, r *http.Request) {
	if !s.signupOpen(w, r) {
		return
	}
	user, org, err := s.orgs.ConfirmSignup(r.Context(), r.PathValue("token"))
	if p, ok := problem.As(err); ok {
		s.render(w, r, statusOf(p.Kind), "signup_confirm.html", "Confirm your sign-up", signupConfirmPage{LinkError: p.Message})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.Info("signed up", "user_id", user.ID, "organization_id", org.ID)
	s.flashNext(r, "Welcome to mailschool! "+org.Name+" is yours.")
	if err := s.startSession(r, user.ID, user.SessionEpoch); err != nil {
		s.notLoggedIn(w, r, user.Email, "Your account was created. Log in with it.", err)
		return
	}
	http.Redirect(w, r, organizationPath(org.ID), http.StatusSeeOther)
}

// signupList is the platform's list of sign-ups.
func (s *Server) signupList(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	p, err := s.orgs.Signups(r.Context(), currentUser(r.Context()), page)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "signups.html", "Sign-ups", p)
}
