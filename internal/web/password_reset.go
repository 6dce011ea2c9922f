package web

import (
	"net/http"
	"strings"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/problem"
)

type passwordResetPage struct {
	Email string
	formErrors
}

func (s *Server) passwordResetForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "password_reset.html", "Reset password", passwordResetPage{})
}

// passwordReset asks for a reset link. Every well-formed address gets the
// same answer, a redirect to the same page, whether or not an account has
// it, so the form cannot be used to find out who has an account; the
// account is looked up later, in a job, so the response time does not tell
// either. Every request counts against the client's IP. Each mailbox (the
// address without its +tag) gets a few links an hour; requests over that
// get the same answer and the same work (a job, which sends nothing), so
// nobody can flood an inbox and neither the answer nor its time tells
// anything.
func (s *Server) passwordReset(w http.ResponseWriter, r *http.Request) {
	form := passwordResetPage{Email: strings.TrimSpace(r.PostFormValue("email"))}
	allowed, err := s.resetPerIP.Allow(r.Context(), clientNetwork(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !allowed {
		form.Error = "Too many requests. Wait a few minutes and try again."
		w.Header().Set("Retry-After", "60")
		s.render(w, r, http.StatusTooManyRequests, "password_reset.html", "Reset password", form)
		return
	}
	// A malformed address says nothing about accounts, so it is answered
	// at once.
	email, err := auth.NormalizeEmail(form.Email)
	if p, ok := problem.As(err); ok {
		form.formErrors = errorsFor(p, postedFields(r))
		s.render(w, r, http.StatusUnprocessableEntity, "password_reset.html", "Reset password", form)
		return
	}
	allowed, err = s.resetPerAddress.Allow(r.Context(), auth.MailboxKey(email))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.accounts.RequestPasswordReset(r.Context(), auth.ResetRequest{Email: email, OverLimit: !allowed}); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/accounts/password_reset/done/", http.StatusSeeOther)
}

func (s *Server) passwordResetDone(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "password_reset_done.html", "Check your email", nil)
}

type passwordResetConfirmPage struct {
	Token string
	// LinkError says why the link does not work; empty when it does.
	LinkError string
	formErrors
}

// passwordResetConfirmForm shows the form to set a new password. It only
// checks the link: mail scanners fetch links, and must not use them up.
func (s *Server) passwordResetConfirmForm(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if err := s.accounts.CheckResetToken(r.Context(), token); err != nil {
		s.resetLinkError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "password_reset_confirm.html", "Set a new password", passwordResetConfirmPage{Token: token})
}

// passwordResetConfirm sets the new password, which ends every session of
// the user, and sends the person to log in with it rather than logging
// them in: whoever holds the link need not be at the account's usual
// browser.
func (s *Server) passwordResetConfirm(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	userID, err := s.accounts.ResetPassword(r.Context(), token, r.PostFormValue("new_password"), r.PostFormValue("password_confirm"))
	if p, ok := problem.As(err); ok && p.Kind == problem.Invalid {
		s.render(w, r, http.StatusUnprocessableEntity, "password_reset_confirm.html", "Set a new password",
			passwordResetConfirmPage{Token: token, formErrors: errorsFor(p, postedFields(r, "password"))})
		return
	}
	if err != nil {
		s.resetLinkError(w, r, err)
		return
	}
	s.logger.Info("password reset", "user_id", userID)
	s.flashNext(r, "Your password was set. Log in with the new password.")
	http.Redirect(w, r, "/accounts/login/", http.StatusSeeOther)
}

// resetLinkError answers a link that does not work (404 when it never
// did, 410 when it is used up or expired) with a way to ask for a new one.
func (s *Server) resetLinkError(w http.ResponseWriter, r *http.Request, err error) {
	p, ok := problem.As(err)
	if !ok {
		s.serverError(w, r, err)
		return
	}
	title := "Link not valid"
	if p.Kind == problem.Gone {
		title = "Link expired"
	}
	s.render(w, r, statusOf(p.Kind), "password_reset_confirm.html", title, passwordResetConfirmPage{LinkError: p.Message})
}
