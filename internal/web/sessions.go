package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/mailschool/mailschool/internal/store"
)

// Session lifetimes: a session ends two weeks after login, or after three
// days unused.
const (
	sessionLifetime           = 14 * 24 * time.Hour
	DefaultSessionIdleTimeout = 3 * 24 * time.Hour
)

// sessionEnds is the session value holding the end of the session's
// lifetime (Unix seconds). The session's deadline in scs holds its idle
// expiry instead: scs is given no idle timeout, because with one it writes
// every session on every request.
const sessionEnds = "session_ends"

// sessionRefresh is how far the idle expiry of an unchanged session must
// move before it is written again: a minute, or less for the short idle
// timeouts of tests.
func sessionRefresh(idleTimeout time.Duration) time.Duration {
	return min(time.Minute, idleTimeout/10)
}

type sessionWriterKey struct{}

// loadAndSaveSession loads the request's session and saves it when the
// answer begins (the cookie is a header). It replaces scs's LoadAndSave
// for two reasons. When the save fails, LoadAndSave writes an error in
// front of the handler's answer, whose writes have committed by then: a
// client seeing the error repeats them. Here the failure is logged and
// the answer goes out unchanged; handlers for which the session is the
// point save it themselves first (saveSessionNow). And with an idle
// timeout, scs writes every session on every request; here an unchanged
// session is written when its idle expiry moves by sessionRefresh.
func (s *Server) loadAndSaveSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Cookie")
		var token string
		if c, err := r.Cookie(s.sessions.Cookie.Name); err == nil {
			token = c.Value
		}
		// The session's user is read with the session (authenticate
		// takes it from there).
		ctx, _ := store.WithSessionUser(r.Context())
		ctx, err := s.sessions.Load(ctx, token)
		if errors.Is(err, errBadSession) {
			// Saved in a form this version cannot read (by a later one,
			// say, during an upgrade or after going back): the person is
			// logged out rather than refused every page.
			s.logger.Warn("session unreadable, a new one begins", "path", loggedPath(r), "err", err)
			ctx, err = s.sessions.Load(r.Context(), "")
		}
		if err != nil {
			s.serverError(w, r, fmt.Errorf("load session: %w", err))
			return
		}
		sw := &sessionWriter{ResponseWriter: w, server: s, loadedToken: s.sessions.Token(ctx)}
		sw.request = r.WithContext(context.WithValue(ctx, sessionWriterKey{}, sw))
		next.ServeHTTP(sw, sw.request)
		sw.saveOnce()
	})
}

// sessionWriter saves the session before the first byte of the answer.
type sessionWriter struct {
	http.ResponseWriter
	server      *Server
	request     *http.Request
	loadedToken string // the id of the session as loaded, "" for a new one
	saved       bool   // the save has been tried
}

func (sw *sessionWriter) WriteHeader(status int) {
	sw.saveOnce()
	sw.ResponseWriter.WriteHeader(status)
}

func (sw *sessionWriter) Write(b []byte) (int, error) {
	sw.saveOnce()
	return sw.ResponseWriter.Write(b)
}

func (sw *sessionWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// saveOnce saves the session unless that was tried already. A failure
// changes nothing in the answer: it is only logged.
func (sw *sessionWriter) saveOnce() {
	if sw.saved {
		return
	}
	if err := sw.save(); err != nil {
		r, logger := sw.request, sw.server.logger
		if r.Context().Err() != nil {
			// The request ended (the client left, or an upload ran past
			// its deadline) and its context with it.
			logger.Info("session not saved: the request ended", "method", r.Method, "path", loggedPath(r), "err", err)
			return
		}
		logger.Error("session not saved", "method", r.Method, "path", loggedPath(r), "err", err)
	}
}

func (sw *sessionWriter) save() error {
	sw.saved = true
	return sw.server.saveSession(sw.request.Context(), sw.ResponseWriter, sw.loadedToken, sw.request)
}

// saveSession writes the session to the store if it changed, or if its
// idle expiry would move by sessionRefresh or more, and sets the cookie
// to match. The store learns whose session it is, and from which browser
// and address (those of r), so that people can see their sessions and end
// them.
func (s *Server) saveSession(ctx context.Context, w http.ResponseWriter, loadedToken string, r *http.Request) error {
	status := s.sessions.Status(ctx)
	if status == scs.Destroyed {
		s.sessions.WriteSessionCookie(ctx, w, "", time.Time{})
		return nil
	}
	token := s.sessions.Token(ctx)
	ends, known := time.Unix(s.sessions.GetInt64(ctx, sessionEnds), 0), s.sessions.Exists(ctx, sessionEnds)
	if !known || token != loadedToken {
		// scs has set the deadline of a new or renewed session to now plus
		// its lifetime (and that of a session saved before the end was
		// kept apart is its end too).
		ends = s.sessions.Deadline(ctx)
	}
	expiry := time.Now().Add(s.sessionIdleTimeout)
	if ends.Before(expiry) {
		expiry = ends
	}
	if status == scs.Unmodified {
		if token == "" {
			return nil // a new session with nothing in it: nothing to keep
		}
		if known && expiry.Sub(s.sessions.Deadline(ctx)) < s.sessionRefresh {
			return nil
		}
	}
	s.sessions.Put(ctx, sessionEnds, ends.Unix())
	s.sessions.SetDeadline(ctx, expiry)
	owner := store.SessionOwner{UserID: s.sessions.GetInt64(ctx, sessionUserID), Epoch: s.sessions.GetInt64(ctx, sessionEpoch)}
	if owner.UserID != 0 {
		owner.UserAgent = browserSummary(r.UserAgent())
		owner.ClientIP = clientIP(r)
	}
	token, expiry, err := s.sessions.Commit(store.WithSessionOwner(ctx, owner))
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	s.sessions.WriteSessionCookie(ctx, w, token, expiry)
	return nil
}

// saveSessionNow saves the request's session at once rather than when the
// answer begins, for handlers whose answer depends on it (logging in): a
// failure is then theirs to report. The session is not saved again in the
// request, so this comes after the handler's last change to it.
func (s *Server) saveSessionNow(r *http.Request) error {
	sw, ok := r.Context().Value(sessionWriterKey{}).(*sessionWriter)
	if !ok {
		return errors.New("save session: no session middleware")
	}
	return sw.save()
}

// startSession gives the request's session a new id (defeating session
// fixation), logs userID in with their session epoch and saves it at
// once. When that fails, the request's session is emptied and not saved:
// whatever the store holds stays (at most an old session that no longer
// matches the user's epoch, or that was about to be replaced).
func (s *Server) startSession(r *http.Request, userID, epoch int64) error {
	ctx := r.Context()
	err := s.sessions.RenewToken(ctx)
	if err == nil {
		s.sessions.Put(ctx, sessionUserID, userID)
		s.sessions.Put(ctx, sessionEpoch, epoch)
		err = s.saveSessionNow(r)
	}
	if err != nil {
		s.sessions.Clear(ctx)
		if sw, ok := ctx.Value(sessionWriterKey{}).(*sessionWriter); ok {
			sw.saved = true
		}
		return fmt.Errorf("start session of user %d: %w", userID, err)
	}
	return nil
}

// notLoggedIn answers a request whose change went through but whose login
// session could not be saved: the person sees the login form saying so,
// rather than a success that the next page would contradict, or an error
// that would have them repeat the change.
func (s *Server) notLoggedIn(w http.ResponseWriter, r *http.Request, email, message string, err error) {
	s.logger.Error("login session not saved", "method", r.Method, "path", loggedPath(r), "err", err)
	// The page shows nobody logged in, which is the case from now on.
	r = r.WithContext(context.WithValue(r.Context(), userKey, (*store.User)(nil)))
	s.render(w, r, http.StatusOK, "login.html", "Log in", loginPage{Email: email, Next: platformHome, Error: message})
}
