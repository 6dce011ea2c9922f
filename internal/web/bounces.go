package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/store"
)

// bounceLog shows an organization's bounce log, newest first.
func (s *Server) bounceLog(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	page, err := s.bounces.Log(r.Context(), currentUser(r.Context()), id, before)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "bounces.html", "Bounces of "+page.Name, page)
}

// bounceJSON is an entry of the bounce log in the API.
type bounceJSON struct {
	ID           int64     `json:"id"`
	Email        string    `json:"email"`
	Kind         string    `json:"kind"`
	Diagnostic   string    `json:"diagnostic"`
	Source       string    `json:"source"`
	MessageID    *int64    `json:"message_id"`
	Subject      string    `json:"subject"`
	EnrollmentID *int64    `json:"enrollment_id"`
	OccurredAt   time.Time `json:"occurred_at"`
	CreatedAt    time.Time `json:"created_at"`
}

func toBounceJSON(b store.Bounce) bounceJSON {
	return bounceJSON{ID: b.ID, Email: b.Email, Kind: b.Kind, Diagnostic: b.Diagnostic, Source: b.Source, MessageID: b.MessageID,
		Subject: b.Subject, EnrollmentID: b.EnrollmentID, OccurredAt: b.OccurredAt, CreatedAt: b.CreatedAt}
}

// apiBounceLog lists an organization's bounce log, newest first, as its
// page does.
func (s *Server) apiBounceLog(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	before, err := cursorID(r)
	if err != nil {
		return err
	}
	page, err := s.bounces.Log(r.Context(), currentUser(r.Context()), id, before)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listAfter(page.Items, page.Next, toBounceJSON))
	return nil
}
