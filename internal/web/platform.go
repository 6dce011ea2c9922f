package web

import (
	"context"
	"net/http"
	"time"
)

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, platformHome, http.StatusSeeOther)
}

func (s *Server) platformHome(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "platform_home.html", "Platform", nil)
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
