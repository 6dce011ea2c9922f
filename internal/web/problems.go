package web

import (
	"net/http"

	"github.com/mailschool/mailschool/internal/problem"
)

// statusOf maps a problem's kind to its HTTP status: the one place that
// does.
func statusOf(kind problem.Kind) int {
	switch kind {
	case problem.Invalid:
		return http.StatusUnprocessableEntity
	case problem.Malformed:
		return http.StatusBadRequest
	case problem.Unauthenticated:
		return http.StatusUnauthorized
	case problem.Forbidden:
		return http.StatusForbidden
	case problem.NotFound:
		return http.StatusNotFound
	case problem.Conflict:
		return http.StatusConflict
	case problem.TooLarge:
		return http.StatusRequestEntityTooLarge
	case problem.UnsupportedType:
		return http.StatusUnsupportedMediaType
	case problem.Throttled:
		return http.StatusTooManyRequests
	case problem.Gone:
		return http.StatusGone
	case problem.TimedOut:
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

// pageError answers a failed page request: a problem as a page with its
// status and message, anything else as a 500.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	p, ok := problem.As(err)
	if !ok {
		s.serverError(w, r, err)
		return
	}
	status := statusOf(p.Kind)
	s.renderError(w, r, status, errorTitle(status), p.Message)
}

// errorTitle is the heading of an error page with a status.
func errorTitle(status int) string {
	titles := map[int]string{
		http.StatusNotFound:  "Page not found",
		http.StatusForbidden: "Not allowed",
		http.StatusConflict:  "Conflict",
		http.StatusGone:      "Link no longer valid",
	}
	if title := titles[status]; title != "" {
		return title
	}
	return "Something is not right"
}

// apiError answers a failed API request with the API's error shape.
// api adapts an API handler that returns its error, which apiError then
// answers: a handler cannot write a response and forget to stop.
func (s *Server) api(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.apiError(w, r, err)
		}
	}
}

func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	p, ok := problem.As(err)
	if !ok {
		if s.clientGone(w, r, err) {
			return
		}
		s.logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal_error", "Something went wrong on our side. Please try again in a moment.")
		return
	}
	writeJSON(w, statusOf(p.Kind), map[string]jsonError{"error": {Code: p.Code, Message: p.Message, Fields: p.Fields}})
}
