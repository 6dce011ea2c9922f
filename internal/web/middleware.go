package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/metrics"
	"github.com/mailschool/mailschool/internal/store"
)

type ctxKey int

const userKey ctxKey = iota

// Session keys.
const (
	sessionUserID = "user_id"
	sessionEpoch  = "session_epoch"
	sessionFlash  = "flash"
	// sessionOrganization is the organization chosen in the switcher.
	sessionOrganization = "organization_id"
)

// currentUser returns the logged-in user of a request, or nil.
func currentUser(ctx context.Context) *store.User {
	u, _ := ctx.Value(userKey).(*store.User)
	return u
}

// authenticate puts the logged-in user, if any, into the request context:
// the principal of the request's API key, or the session's user. A
// session whose user is gone, deactivated or changed password since is
// dropped.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Other schemes (a proxy's Basic authentication) are not ours:
		// the session decides as usual. /metrics checks its own token.
		if scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") && r.URL.Path != metricsPath {
			s.authenticateKey(w, r, next, strings.TrimSpace(key))
			return
		}
		ctx := r.Context()
		id := s.sessions.GetInt64(ctx, sessionUserID)
		if id == 0 {
			next.ServeHTTP(w, r)
			return
		}
		user, err := s.accounts.SessionUser(ctx, id, s.sessions.GetInt64(ctx, sessionEpoch))
		if errors.Is(err, store.ErrNotFound) {
			s.sessions.Remove(ctx, sessionUserID)
			s.sessions.Remove(ctx, sessionEpoch)
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, userKey, &user)))
	})
}

// requireLogin answers a request that needs a login: API clients get 401,
// people are sent to the login page and brought back afterwards.
func (s *Server) requireLogin(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSONError(w, http.StatusUnauthorized, "not_authenticated", "Log in to use the API.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.renderError(w, r, http.StatusUnauthorized, "Not logged in", "Your session has ended. Log in and try again.")
		return
	}
	http.Redirect(w, r, "/accounts/login/?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

func (s *Server) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	s.logger.Warn("cross-origin request refused", "method", r.Method, "path", loggedPath(r),
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSONError(w, http.StatusForbidden, "cross_origin", "Requests from other sites are not allowed.")
		return
	}
	s.renderError(w, r, http.StatusForbidden, "Request refused",
		"This form was sent from another site, so it was refused. Go back to the page and try again.")
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy",
			"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader passes on the first status only: once an answer has begun,
// a later status (an error met half-way) can no longer be sent.
func (r *statusRecorder) WriteHeader(status int) {
	if r.status != 0 {
		return
	}
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// routeKey holds the *string into which the routes table notes the
// pattern a request matched, for the request's metrics.
type routeKey struct{}

// noteRoute notes the ServeMux pattern r matched, which the middleware
// around the mux cannot see (it sets it on its own copy of the request).
func noteRoute(r *http.Request) {
	if p, ok := r.Context().Value(routeKey{}).(*string); ok {
		*p = r.Pattern
	}
}

// logRequests logs one line per request and counts it in the metrics.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		var pattern string
		if s.metrics != nil {
			r = r.WithContext(context.WithValue(r.Context(), routeKey{}, &pattern))
		}
		next.ServeHTTP(rec, r)
		if rec.status == 0 && r.Context().Err() != nil {
			rec.status = statusClientClosed // nothing was answered: the request ended first
		} else if rec.status == 0 {
			rec.status = http.StatusOK // what net/http sends for a handler that wrote nothing
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		s.logger.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", loggedPath(r)),
			slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)),
			slog.String("ip", clientIP(r)))
		if s.metrics != nil {
			s.metrics.ObserveRequest(r.Method, metrics.RoutePattern(pattern), rec.status, time.Since(start))
		}
	})
}

// recoverPanics turns a panic in a handler into a 500 page and a log line.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.serverError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// clientNetwork is the client's address as the rate limits count it: an
// IPv4 address as it is, an IPv6 one as its /64 network, because one
// subscriber is commonly given a whole /64 and could otherwise count as
// 2^64 clients.
func clientNetwork(r *http.Request) string {
	ip, err := netip.ParseAddr(clientIP(r))
	if err != nil {
		return clientIP(r)
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	return netip.PrefixFrom(ip.WithZone(""), 64).Masked().String()
}

// secretLinks are the paths whose last part is a secret token: logs show
// them without it, so reading the logs opens no link.
var secretLinks = []string{"/accounts/reset/", "/invitations/",
	"/email-learning/public/enrollments/confirm/", "/email-learning/public/unsubscribe/", "/email-learning/public/quizzes/",
	"/email-learning/public/certificates/claim/"}

// loggedPath is the request's path as logs may show it.
func loggedPath(r *http.Request) string {
	for _, prefix := range secretLinks {
		if strings.HasPrefix(r.URL.Path, prefix) {
			return prefix + "…/"
		}
	}
	return r.URL.Path
}
