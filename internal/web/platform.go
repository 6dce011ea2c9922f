package web

import (
	"context"
	"net/http"
	"time"

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

// health reports whether the server and its database answer, for load
// balancers and monitoring.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.logger.Error("health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": "ok"})
}
