package orgs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestKeys: admins create keys up to their own role, the key acts with its
// role in its organization only, expires with its expiry, and a revoked
// key's uses are audited at most once a minute.
func TestKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		if _, err := f.s.CreateKey(ctx, f.editor, f.org.ID, orgs.NewKey{Name: "x", Role: access.Viewer}); !errors.Is(err, orgs.ErrForbidden) {
			t.Errorf("an editor creates a key: %v", err)
		}
		if _, err := f.s.CreateKey(ctx, f.admin, f.org.ID, orgs.NewKey{Name: "x", Role: access.Owner}); !errors.Is(err, orgs.ErrKeyRole) {
			t.Errorf("an admin creates an owner key: %v", err)
		}
		past := f.clock.now().Add(-time.Hour)
		if _, err := f.s.CreateKey(ctx, f.admin, f.org.ID, orgs.NewKey{Name: "x", Role: access.Viewer, ExpiresAt: &past}); err == nil {
			t.Error("a key that expired already was created")
		}
		expires := f.clock.now().Add(time.Hour)
		k, err := f.s.CreateKey(ctx, f.admin, f.org.ID, orgs.NewKey{Name: "CRM", Role: access.Editor, ExpiresAt: &expires})
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.s.AuthenticateKey(ctx, k.Key, "192.0.2.1")
		if err != nil || p.ID != 0 || p.APIKey == nil || p.APIKey.Role != "editor" {
			t.Fatalf("principal %+v, %v", p, err)
		}
		if v, err := f.s.Get(ctx, p, f.org.ID); err != nil || v.Role != access.Editor || v.CanEdit {
			t.Errorf("the key's view of its organization: %+v, %v", v, err)
		}
		name := "Elsewhere"
		other, err := f.s.Create(ctx, f.platformAdmin, orgs.Fields{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.AddMember(ctx, f.platformAdmin, other.ID, f.admin.Email, access.Admin); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Get(ctx, p, other.ID); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("the key sees another organization of its creator: %v", err)
		}
		if _, err := f.s.CreateKey(ctx, p, f.org.ID, orgs.NewKey{Name: "y", Role: access.Viewer}); err == nil {
			t.Error("a key created a key")
		}

		f.clock.advance(2 * time.Hour)
		if _, err := f.s.AuthenticateKey(ctx, k.Key, "192.0.2.1"); !errors.Is(err, orgs.ErrAPIKeyExpired) {
			t.Errorf("after its expiry: %v", err)
		}
		if err := f.s.RevokeKey(ctx, f.admin, f.org.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := f.s.AuthenticateKey(ctx, k.Key, "192.0.2.1"); !errors.Is(err, orgs.ErrAPIKeyRevoked) {
				t.Errorf("after revocation: %v", err)
			}
		}
		log, err := db.Read().AuditLog(ctx, f.org.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		uses := 0
		for _, e := range log {
			if e.Action == string(orgs.APIKeyRevokedUse) {
				uses++
				if e.ActorID != nil || e.ActorEmail == "" {
					t.Errorf("revoked use recorded as %+v", e)
				}
			}
		}
		if uses != 1 {
			t.Errorf("%d audit entries for three uses of a revoked key within a minute, want 1", uses)
		}
	})
}
