package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
)

const profilePath = "/accounts/settings/"

// profilePage is the user's own settings: their name, the password
// change and their login sessions. Each form's errors are its own.
type profilePage struct {
	Name          string // as typed, when it was refused
	NameError     string
	MaxName       int
	Password      passwordChangePage
	Email         emailChangePage
	Sessions      []sessionView
	OtherSessions int
	Organizations []orgs.OwnMembership
}

// passwordChangePage is the state of the profile's password form.
type passwordChangePage struct {
	formErrors
}

// sessionView is one of the user's login sessions as the page shows it.
type sessionView struct {
	ID         string
	Browser    string
	Address    string
	Since      time.Time
	LastSeenAt time.Time
	Current    bool
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	s.renderProfile(w, r, http.StatusOK, profilePage{})
}

// renderProfile renders the profile page with the user's sessions; page
// holds what one of its forms needs to show again.
func (s *Server) renderProfile(w http.ResponseWriter, r *http.Request, status int, page profilePage) {
	user := currentUser(r.Context())
	if page.NameError == "" {
		page.Name = user.Name
	}
	page.MaxName = auth.MaxNameRunes
	list, err := s.accounts.Sessions(r.Context(), *user, s.sessions.Token(r.Context()))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	for _, us := range list {
		page.Sessions = append(page.Sessions, sessionView{ID: us.ID, Browser: us.UserAgent, Address: us.ClientIP, Since: us.CreatedAt, LastSeenAt: us.LastSeenAt, Current: us.Current})
		if !us.Current {
			page.OtherSessions++
		}
	}
	if page.Organizations, err = s.orgs.OwnMemberships(r.Context(), user); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, status, "profile.html", "Profile", page)
}

func (s *Server) profileName(w http.ResponseWriter, r *http.Request) {
	user := currentUser(r.Context())
	typed := r.PostFormValue("name")
	_, err := s.accounts.SetName(r.Context(), *user, typed)
	if p, ok := problem.As(err); ok {
		s.renderProfile(w, r, http.StatusUnprocessableEntity, profilePage{Name: typed, NameError: p.Fields["name"]})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.Info("name changed", "user_id", user.ID)
	s.flashNext(r, "Your name was changed.")
	http.Redirect(w, r, profilePath, http.StatusSeeOther)
}

// endOtherSessions logs the user out of every session but this one, which
// goes on with a fresh id.
func (s *Server) endOtherSessions(w http.ResponseWriter, r *http.Request) {
	user := currentUser(r.Context())
	epoch, err := s.accounts.EndOtherSessions(r.Context(), *user, s.sessions.Token(r.Context()))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.Info("logged out everywhere else", "user_id", user.ID)
	s.flashNext(r, "You were logged out everywhere else.")
	if err := s.startSession(r, user.ID, epoch); err != nil {
		s.notLoggedIn(w, r, user.Email, "You were logged out everywhere, here too. Log in again.", err)
		return
	}
	http.Redirect(w, r, profilePath, http.StatusSeeOther)
}

// endSession logs the user out of another of their sessions.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	user := currentUser(r.Context())
	err := s.accounts.EndSession(r.Context(), *user, r.PathValue("session_id"))
	if errors.Is(err, auth.ErrNoSuchSession) {
		s.flashNext(r, err.Error())
		http.Redirect(w, r, profilePath+"#sessions", http.StatusSeeOther)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.Info("session ended", "user_id", user.ID)
	s.flashNext(r, "That session was logged out.")
	http.Redirect(w, r, profilePath+"#sessions", http.StatusSeeOther)
}

// passwordChangeMoved sends the old address of the password form to the
// profile page, where the form is now.
func (s *Server) passwordChangeMoved(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, profilePath+"#password", http.StatusMovedPermanently)
}

// browserSummary describes the browser of a User-Agent header in a few
// words ("Firefox on Linux"), enough for people to recognize their
// devices; the header itself is not kept.
func browserSummary(userAgent string) string {
	if userAgent == "" {
		return ""
	}
	has := func(s string) bool { return strings.Contains(userAgent, s) }
	browser := "Unknown browser"
	switch {
	case has("Edg/") || has("EdgA/") || has("EdgiOS/"):
		browser = "Edge"
	case has("OPR/"):
		browser = "Opera"
	case has("Firefox/") || has("FxiOS/"):
		browser = "Firefox"
	case has("Chrome/") || has("CriOS/") || has("Chromium/"):
		browser = "Chrome"
	case has("Safari/") && has("Version/"):
		browser = "Safari"
	case strings.HasPrefix(userAgent, "curl/"):
		browser = "curl"
	case strings.HasPrefix(userAgent, "Go-http-client/"):
		browser = "Go program"
	}
	system := ""
	switch {
	case has("iPhone") || has("iPad") || has("iPod"):
		system = "iOS"
	case has("Android"):
		system = "Android"
	case has("Windows"):
		system = "Windows"
	case has("CrOS"):
		system = "ChromeOS"
	case has("Mac OS X") || has("Macintosh"):
		system = "macOS"
	case has("Linux"):
		system = "Linux"
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}
