package web

import (
	"net/http"

	"github.com/mailschool/mailschool/internal/orgs"
)

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, platformHome, http.StatusSeeOther)
}

type platformHomePage struct {
	Organizations []orgs.Summary
}

// platformHome shows the user's organizations with the numbers that
// matter today.
func (s *Server) platformHome(w http.ResponseWriter, r *http.Request) {
	list, err := s.orgs.Overview(r.Context(), currentUser(r.Context()))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "platform_home.html", "Platform", platformHomePage{Organizations: list})
}
