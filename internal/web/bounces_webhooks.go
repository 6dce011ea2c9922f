package web

import (
	"errors"
	"io"
	"net/http"

	"github.com/mailschool/mailschool/internal/bounces/providers"
)

// bounceWebhookPattern is the route the email providers post their bounce
// and complaint events to. The cross-origin protection lets it through
// (see New), so it is named once for both.
const bounceWebhookPattern = "POST /email-learning/bounces/{provider}/"

// maxBounceWebhookBytes caps a provider's post: SendGrid batches events,
// but its batches stay well under this.
const maxBounceWebhookBytes = 1 << 20

// bounceWebhook takes a provider's bounce and complaint events: verified
// with the provider's scheme, then handed to the bounce rules. Providers
// retry until they get a 2xx, so an error on our side answers 500 (each
// report names its event, so one taken twice counts once).
func (s *Server) bounceWebhook(w http.ResponseWriter, r *http.Request) {
	provider := r.PathValue("provider")
	if s.bounceRecorder == nil || s.bounceWebhooks == nil || !s.bounceWebhooks.Enabled(provider) {
		writeJSONError(w, http.StatusNotFound, "not_found", "No bounce webhook is configured at this address.")
		return
	}
	// Every request counts against its client; a verified one is given
	// back, so only forgeries and mistakes are limited.
	client := clientNetwork(r)
	if allowed, err := s.bounceWebhookPerIP.Allow(r.Context(), client); err != nil {
		s.serverError(w, r, err)
		return
	} else if !allowed {
		w.Header().Set("Retry-After", "60")
		writeJSONError(w, http.StatusTooManyRequests, "rate_limited", "Too many refused requests. Wait a minute and try again.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBounceWebhookBytes))
	if errors.As(err, new(*http.MaxBytesError)) {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "too_large", "The request is larger than 1 MiB.")
		return
	} else if err != nil {
		writeJSONError(w, http.StatusBadRequest, "bad_request", "The request could not be read.")
		return
	}
	reports, err := s.bounceWebhooks.Reports(r.Context(), provider, r.Header, body)
	switch {
	case errors.Is(err, providers.ErrUnauthenticated):
		s.logger.Info("bounce webhook refused", "provider", provider, "client", clientIP(r), "err", err)
		if provider == providers.Postmark {
			w.Header().Set("WWW-Authenticate", `Basic realm="bounces"`)
			writeJSONError(w, http.StatusUnauthorized, "not_authenticated", "The credentials are missing or wrong.")
			return
		}
		writeJSONError(w, http.StatusForbidden, "bad_signature", "The signature is missing or wrong.")
		return
	case errors.Is(err, providers.ErrMalformed):
		writeJSONError(w, http.StatusBadRequest, "bad_request", "The request is not one this provider sends.")
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	if err := s.bounceWebhookPerIP.Return(r.Context(), client); err != nil {
		s.logger.Warn("return a rate limit token", "err", err)
	}
	for _, report := range reports {
		if err := s.bounceRecorder.Record(r.Context(), report); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}
