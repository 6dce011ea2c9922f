package web

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// authenticateKey serves a request that carries "Authorization: Bearer
// key": only /api/ takes it; the key's principal stands in for any
// session, and each key is rate limited.
func (s *Server) authenticateKey(w http.ResponseWriter, r *http.Request, next http.Handler, key string) {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		http.Error(w, "API keys are accepted by /api/v1 only; pages need a login in the browser.", http.StatusBadRequest)
		return
	}
	principal, err := s.orgs.AuthenticateKey(r.Context(), key, clientIP(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if allowed, err := s.apiKeyLimiter.Allow(r.Context(), strconv.FormatInt(principal.APIKey.KeyID, 10)); err != nil {
		s.apiError(w, r, err)
		return
	} else if !allowed {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(s.apiKeyLimit.Every.Seconds(), 1)))))
		writeJSONError(w, http.StatusTooManyRequests, "rate_limited", "This API key made too many requests. Wait a moment and try again.")
		return
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey, principal)))
}

// apiKeyJSON is an API key in the API; Key is set only in the answer
// that creates it.
type apiKeyJSON struct {
	ID             int64      `json:"id"`
	Name           string     `json:"name"`
	Role           string     `json:"role"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      *time.Time `json:"expires_at"`
	LastUsedAt     *time.Time `json:"last_used_at"`
	LastUsedIP     string     `json:"last_used_ip,omitempty"`
	CreatedBy      *int64     `json:"created_by,omitempty"`
	CreatorEmail   string     `json:"creator_email,omitempty"`
	CreatorRemoved *bool      `json:"creator_removed,omitempty"`
	Key            string     `json:"key,omitempty"`
}

func toAPIKeyJSON(k store.APIKey) apiKeyJSON {
	removed := k.CreatorRemoved
	return apiKeyJSON{ID: k.ID, Name: k.Name, Role: k.Role, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt,
		LastUsedAt: k.LastUsedAt, LastUsedIP: k.LastUsedIP, CreatedBy: k.CreatedBy, CreatorEmail: k.CreatorEmail,
		CreatorRemoved: &removed}
}

// createdKeyJSON is exactly the contract's answer to a creation.
func createdKeyJSON(k orgs.CreatedKey) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Name: k.Name, Role: k.Role, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt,
		LastUsedAt: k.LastUsedAt, Key: k.Key}
}

type apiKeyInput struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (s *Server) apiKeyCreate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in apiKeyInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	k, err := s.orgs.CreateKey(r.Context(), currentUser(r.Context()), id,
		orgs.NewKey{Name: in.Name, Role: access.Role(in.Role), ExpiresAt: in.ExpiresAt})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdKeyJSON(k))
	return nil
}

func (s *Server) apiKeyList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	_, list, err := s.orgs.Keys(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(list, 1, 1, toAPIKeyJSON))
	return nil
}

// keyID reads the key id of a path.
func keyID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("key_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, orgs.ErrAPIKeyNotFound
	}
	return id, nil
}

func (s *Server) apiKeyRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	kid, err := keyID(r)
	if err != nil {
		return err
	}
	if err := s.orgs.RevokeKey(r.Context(), currentUser(r.Context()), id, kid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiPlatformKeyCreate(w http.ResponseWriter, r *http.Request) error {
	var in apiKeyInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if in.Role != "" && in.Role != "platform" {
		return problem.Field("role", "invalid_role", "A platform key has the role platform; leave it out.")
	}
	k, err := s.orgs.CreatePlatformKey(r.Context(), currentUser(r.Context()), orgs.NewKey{Name: in.Name, ExpiresAt: in.ExpiresAt})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdKeyJSON(k))
	return nil
}

func (s *Server) apiPlatformKeyList(w http.ResponseWriter, r *http.Request) error {
	list, err := s.orgs.PlatformKeys(r.Context(), currentUser(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(list, 1, 1, toAPIKeyJSON))
	return nil
}

func (s *Server) apiPlatformKeyRevoke(w http.ResponseWriter, r *http.Request) error {
	kid, err := keyID(r)
	if err != nil {
		return err
	}
	if err := s.orgs.RevokePlatformKey(r.Context(), currentUser(r.Context()), kid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
