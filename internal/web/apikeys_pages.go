package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// apiKeysPage lists an organization's API keys with the form that
// creates one; NewKey is the key just created, shown this once.
type apiKeysPage struct {
	orgs.View
	Keys   []store.APIKey
	Roles  []access.Role
	NewKey *orgs.CreatedKey
	// The refused form's values.
	Name, Role, Expires string
	formErrors
}

func apiKeysPath(orgID int64) string { return fmt.Sprintf(organizationsPath+"%d/api-keys/", orgID) }

func (s *Server) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, orgID int64, page apiKeysPage) {
	v, keys, err := s.orgs.Keys(r.Context(), currentUser(r.Context()), orgID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	page.View, page.Keys, page.Roles = v, keys, access.KeyRoles
	if page.Role == "" {
		page.Role = string(access.Viewer)
	}
	if page.NewKey != nil {
		w.Header().Set("Cache-Control", "no-store")
	}
	s.render(w, r, status, "api_keys.html", "API keys", page)
}

func (s *Server) apiKeysList(w http.ResponseWriter, r *http.Request) {
	orgID, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.renderAPIKeys(w, r, http.StatusOK, orgID, apiKeysPage{})
}

// apiKeysCreate creates a key and shows it on the page it answers with,
// not after a redirect: the key is in no session and no later page.
func (s *Server) apiKeysCreate(w http.ResponseWriter, r *http.Request) {
	orgID, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	form := apiKeysPage{Name: r.PostFormValue("name"), Role: r.PostFormValue("role"), Expires: r.PostFormValue("expires")}
	nk := orgs.NewKey{Name: form.Name, Role: access.Role(form.Role)}
	if form.Expires != "" {
		day, err := time.Parse("2006-01-02", form.Expires)
		if err != nil {
			err = problem.Field("expires", "invalid_date", "Give the expiry as a date, such as 2030-12-31.")
			s.apiKeysRefused(w, r, orgID, form, err)
			return
		}
		end := day.Add(24 * time.Hour) // the key works through the day given
		nk.ExpiresAt = &end
	}
	k, err := s.orgs.CreateKey(r.Context(), currentUser(r.Context()), orgID, nk)
	if err != nil {
		s.apiKeysRefused(w, r, orgID, form, err)
		return
	}
	s.renderAPIKeys(w, r, http.StatusCreated, orgID, apiKeysPage{NewKey: &k})
}

func (s *Server) apiKeysRefused(w http.ResponseWriter, r *http.Request, orgID int64, form apiKeysPage, err error) {
	p, ok := problem.As(err)
	if !ok || p.Kind == problem.NotFound || p.Kind == problem.Forbidden {
		s.pageError(w, r, err)
		return
	}
	if p.Fields["expires_at"] != "" {
		p = problem.Field("expires", p.Code, p.Fields["expires_at"])
	}
	form.formErrors = errorsFor(p, postedFields(r))
	s.renderAPIKeys(w, r, statusOf(p.Kind), orgID, form)
}

// apiKeyRevokePage asks before a key is revoked.
type apiKeyRevokePage struct {
	orgs.View
	Key store.APIKey
}

func (s *Server) apiKeyRevokeForm(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := orgAndID(r, "key_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, k, err := s.orgs.Key(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "api_key_revoke.html", "Revoke "+k.Name, apiKeyRevokePage{View: v, Key: k})
}

func (s *Server) apiKeysRevoke(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := orgAndID(r, "key_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.orgs.RevokeKey(r.Context(), currentUser(r.Context()), orgID, id); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, "The key is revoked: requests with it are refused from now on.")
	http.Redirect(w, r, apiKeysPath(orgID), http.StatusSeeOther)
}
