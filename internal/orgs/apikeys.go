package orgs

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// MaxKeyNameRunes bounds an API key's name.
const MaxKeyNameRunes = 100

// KeyUseInterval is how often at most a key's last use is written.
const KeyUseInterval = time.Minute

// Answers to a request with an API key that cannot be used.
var (
	ErrInvalidAPIKey = problem.New(problem.Unauthenticated, "invalid_api_key",
		"This API key is not valid. Check that you copied all of it.")
	ErrAPIKeyRevoked = problem.New(problem.Unauthenticated, "api_key_revoked",
		"This API key was revoked. Ask the organization's admins for a new one.")
	ErrAPIKeyExpired = problem.New(problem.Unauthenticated, "api_key_expired",
		"This API key has expired. Ask the organization's admins for a new one.")
	ErrAPIKeyNotFound = problem.New(problem.NotFound, "api_key_not_found", "There is no such API key.")
	ErrKeyRole        = problem.Field("role", "invalid_role",
		"Choose viewer, editor or admin, and no more than your own role.")
)

// NewKey is what a key is created with.
type NewKey struct {
	Name      string
	Role      access.Role // ignored for platform keys
	ExpiresAt *time.Time  // nil: never
}

// CreatedKey is a new key with its secret, which is shown this once.
type CreatedKey struct {
	store.APIKey
	Key string
}

func (s *Service) checkNewKey(nk NewKey) (string, error) {
	name := strings.TrimSpace(nk.Name)
	switch {
	case name == "":
		return "", problem.Field("name", "name_required", "Give the key a name, such as the system that will use it.")
	case utf8.RuneCountInString(name) > MaxKeyNameRunes:
		return "", problem.Field("name", "name_too_long", "Use at most "+strconv.Itoa(MaxKeyNameRunes)+" characters.")
	case nk.ExpiresAt != nil && !nk.ExpiresAt.After(s.now()):
		return "", problem.Field("expires_at", "expiry_in_past", "Choose an expiry in the future, or none.")
	}
	return name, nil
}

// CreateKey creates an API key for an organization; its admins may, with
// a role no higher than their own.
func (s *Service) CreateKey(ctx context.Context, actor *store.User, orgID int64, nk NewKey) (CreatedKey, error) {
	name, err := s.checkNewKey(nk)
	if err != nil {
		return CreatedKey{}, err
	}
	var created CreatedKey
	err = s.db.InTx(ctx, func(q *store.Queries) error {
		v, err := Authorize(ctx, q, actor, orgID, access.ManageAPIKeys)
		if err != nil {
			return err
		}
		if !access.MayCreateKey(actor, v.Role, nk.Role) {
			return ErrKeyRole
		}
		created, err = s.createKey(ctx, q, actor, orgID, name, string(nk.Role), nk.ExpiresAt)
		if err != nil {
			return err
		}
		return s.emit(ctx, q, Event{Kind: APIKeyCreated, OrganizationID: orgID, Actor: actor, Target: name,
			New: map[string]string{"role": string(nk.Role)}})
	})
	return created, err
}

// CreatePlatformKey creates a platform API key; platform admins may.
func (s *Service) CreatePlatformKey(ctx context.Context, actor *store.User, nk NewKey) (CreatedKey, error) {
	if !access.AllowedOnPlatform(actor, access.ManagePlatformKeys) {
		return CreatedKey{}, ErrForbidden
	}
	name, err := s.checkNewKey(nk)
	if err != nil {
		return CreatedKey{}, err
	}
	var created CreatedKey
	err = s.db.InTx(ctx, func(q *store.Queries) error {
		created, err = s.createKey(ctx, q, actor, 0, name, "platform", nk.ExpiresAt)
		return err
	})
	return created, err
}

func (s *Service) createKey(ctx context.Context, q *store.Queries, actor *store.User, orgID int64, name, role string, expires *time.Time) (CreatedKey, error) {
	secret, hash, err := auth.NewAPIKeySecret()
	if err != nil {
		return CreatedKey{}, err
	}
	k, err := q.CreateAPIKey(ctx, store.NewAPIKey{OrganizationID: orgID, Name: name, Role: role, SecretHash: hash,
		CreatedBy: actor.ID, CreatorEmail: actor.Email, ExpiresAt: expires})
	if err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{APIKey: k, Key: auth.FormatAPIKey(k.ID, secret)}, nil
}

// Keys lists an organization's keys that are not revoked; its admins may.
func (s *Service) Keys(ctx context.Context, actor *store.User, orgID int64) (View, []store.APIKey, error) {
	q := s.db.Read()
	v, err := Authorize(ctx, q, actor, orgID, access.ManageAPIKeys)
	if err != nil {
		return View{}, nil, err
	}
	list, err := q.APIKeys(ctx, orgID)
	return v, list, err
}

// PlatformKeys lists the platform keys that are not revoked.
func (s *Service) PlatformKeys(ctx context.Context, actor *store.User) ([]store.APIKey, error) {
	if !access.AllowedOnPlatform(actor, access.ManagePlatformKeys) {
		return nil, ErrForbidden
	}
	return s.db.Read().APIKeys(ctx, 0)
}

// RevokeKey revokes an organization's key, at once for every node: each
// request reads its key from the database.
func (s *Service) RevokeKey(ctx context.Context, actor *store.User, orgID, keyID int64) error {
	return s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := Authorize(ctx, q, actor, orgID, access.ManageAPIKeys); err != nil {
			return err
		}
		k, err := q.APIKeyByID(ctx, keyID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (k.OrganizationID != orgID || k.RevokedAt != nil)) {
			return ErrAPIKeyNotFound
		}
		if err != nil {
			return err
		}
		if err := q.RevokeAPIKey(ctx, orgID, keyID); err != nil {
			return err
		}
		return s.emit(ctx, q, Event{Kind: APIKeyRevoked, OrganizationID: orgID, Actor: actor, Target: k.Name,
			Old: map[string]string{"role": k.Role}})
	})
}

// RevokePlatformKey revokes a platform key.
func (s *Service) RevokePlatformKey(ctx context.Context, actor *store.User, keyID int64) error {
	if !access.AllowedOnPlatform(actor, access.ManagePlatformKeys) {
		return ErrForbidden
	}
	return s.db.InTx(ctx, func(q *store.Queries) error {
		err := q.RevokeAPIKey(ctx, 0, keyID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrAPIKeyNotFound
		}
		return err
	})
}

// dummyKeyHash is compared with when a key's id does not exist, so that
// an unknown id costs the same hash work as a wrong secret.
var dummyKeyHash = auth.HashAPIKeySecret("no such key")

// KeyID is the id a key claims, for rate limiting before any lookup;
// ErrInvalidAPIKey when it is malformed.
func KeyID(key string) (int64, error) {
	id, _, err := auth.ParseAPIKey(key)
	if err != nil {
		return 0, ErrInvalidAPIKey
	}
	return id, nil
}

// AuthenticateKey returns the principal that key stands for in a request
// from ip: a User with no account (ID 0) and the key's grant. A malformed,
// unknown or wrong key gives ErrInvalidAPIKey, after the same work for an
// unknown id as for a known one; a revoked one ErrAPIKeyRevoked (and an
// audit entry, at most once a minute per key), an expired one
// ErrAPIKeyExpired. The key's last use is
// written at most once per KeyUseInterval.
func (s *Service) AuthenticateKey(ctx context.Context, key, ip string) (*store.User, error) {
	id, secret, err := auth.ParseAPIKey(key)
	if err != nil {
		auth.APIKeySecretMatches(key, dummyKeyHash)
		return nil, ErrInvalidAPIKey
	}
	k, err := s.db.Read().APIKeyByID(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	hash := k.SecretHash
	if err != nil {
		hash = dummyKeyHash
	}
	if !auth.APIKeySecretMatches(secret, hash) || err != nil {
		return nil, ErrInvalidAPIKey
	}
	now := s.now()
	principal := &store.User{Email: k.CreatorEmail, Name: "API key " + k.Name, IsActive: true,
		APIKey: &store.KeyGrant{KeyID: k.ID, Name: k.Name, OrganizationID: k.OrganizationID, Role: k.Role}}
	switch {
	case k.RevokedAt != nil:
		if k.OrganizationID != 0 && s.revokedUses.Allow(strconv.FormatInt(k.ID, 10)) {
			err := s.db.InTx(ctx, func(q *store.Queries) error {
				return s.emit(ctx, q, Event{Kind: APIKeyRevokedUse, OrganizationID: k.OrganizationID, Actor: principal,
					Target: k.Name, New: map[string]string{"address": ip}})
			})
			if err != nil {
				return nil, err
			}
		}
		return nil, ErrAPIKeyRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return nil, ErrAPIKeyExpired
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= KeyUseInterval {
		// The condition is checked again in the database, so that nodes
		// racing write once.
		if err := s.db.InTx(ctx, func(q *store.Queries) error {
			return q.TouchAPIKey(ctx, k.ID, ip, now, now.Add(-KeyUseInterval))
		}); err != nil {
			return nil, err
		}
	}
	return principal, nil
}

// Key returns an organization's key that is not revoked, for its admins.
func (s *Service) Key(ctx context.Context, actor *store.User, orgID, keyID int64) (View, store.APIKey, error) {
	q := s.db.Read()
	v, err := Authorize(ctx, q, actor, orgID, access.ManageAPIKeys)
	if err != nil {
		return View{}, store.APIKey{}, err
	}
	k, err := q.APIKeyByID(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (k.OrganizationID != orgID || k.RevokedAt != nil)) {
		return View{}, store.APIKey{}, ErrAPIKeyNotFound
	}
	return v, k, err
}
