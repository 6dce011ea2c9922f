package web

import (
	"net/http"

	"github.com/mailschool/mailschool/internal/learning"
)

type reportsPage struct {
	learning.Reports
	Statuses []string
}

func (s *Server) reports(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rep, err := s.learning.Reports(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "reports.html", "Reports of "+rep.Name, reportsPage{Reports: rep, Statuses: learning.EnrollmentStatuses})
}
