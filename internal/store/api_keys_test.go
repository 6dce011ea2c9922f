package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestAPIKeys: keys are listed per organization (platform keys apart),
// revoked keys leave the list but stay readable by id, the last use is
// written at most once per interval, and keys go with their organization.
func TestAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, members := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "admin@example.com", Role: "admin"})
		other, _ := storetest.NewOrganization(t, db, "Other", storetest.Member{Email: "other@example.com", Role: "admin"})
		expires := time.Now().Add(time.Hour)
		var key, platformKey store.APIKey
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			if key, err = q.CreateAPIKey(ctx, store.NewAPIKey{OrganizationID: org, Name: "CRM", Role: "editor",
				SecretHash: "h1", CreatedBy: members[0].ID, CreatorEmail: "admin@example.com", ExpiresAt: &expires}); err != nil {
				return err
			}
			platformKey, err = q.CreateAPIKey(ctx, store.NewAPIKey{Name: "Provisioning", Role: "admin",
				SecretHash: "h2", CreatedBy: members[0].ID, CreatorEmail: "admin@example.com"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if key.OrganizationID != org || key.ExpiresAt == nil || key.CreatorRemoved || key.LastUsedAt != nil {
			t.Errorf("created key = %+v", key)
		}
		if !platformKey.CreatorRemoved {
			t.Error("a platform key made by someone who is not a platform admin is not shown as such")
		}
		q := db.Read()
		list, err := q.APIKeys(ctx, org)
		if err != nil || len(list) != 1 || list[0].ID != key.ID {
			t.Fatalf("keys of the organization = %+v, %v", list, err)
		}
		if list, _ := q.APIKeys(ctx, 0); len(list) != 1 || list[0].ID != platformKey.ID {
			t.Errorf("platform keys = %+v", list)
		}
		if list, _ := q.APIKeys(ctx, other); len(list) != 0 {
			t.Errorf("keys of another organization = %+v", list)
		}

		now := time.Now()
		touch := func(at time.Time, ip string) {
			t.Helper()
			if err := db.InTx(ctx, func(q *store.Queries) error {
				return q.TouchAPIKey(ctx, key.ID, ip, at, at.Add(-time.Minute))
			}); err != nil {
				t.Fatal(err)
			}
		}
		touch(now, "192.0.2.1")
		touch(now.Add(30*time.Second), "192.0.2.2")
		k, _ := q.APIKeyByID(ctx, key.ID)
		if k.LastUsedAt == nil || k.LastUsedIP != "192.0.2.1" {
			t.Errorf("after two uses within a minute: last used %v from %q", k.LastUsedAt, k.LastUsedIP)
		}
		touch(now.Add(2*time.Minute), "192.0.2.3")
		if k, _ := q.APIKeyByID(ctx, key.ID); k.LastUsedIP != "192.0.2.3" {
			t.Errorf("a use two minutes later was not recorded: %q", k.LastUsedIP)
		}

		revoke := func(orgID, id int64) error {
			return db.InTx(ctx, func(q *store.Queries) error { return q.RevokeAPIKey(ctx, orgID, id) })
		}
		if err := revoke(other, key.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoking through another organization: %v", err)
		}
		if err := revoke(org, key.ID); err != nil {
			t.Fatal(err)
		}
		if err := revoke(org, key.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoking twice: %v", err)
		}
		if k, err := q.APIKeyByID(ctx, key.ID); err != nil || k.RevokedAt == nil {
			t.Errorf("revoked key = %+v, %v", k, err)
		}
		if list, _ := q.APIKeys(ctx, org); len(list) != 0 {
			t.Errorf("a revoked key is listed: %+v", list)
		}

		if err := db.InTx(ctx, func(q *store.Queries) error { return q.DeleteOrganization(ctx, org) }); err != nil {
			t.Fatal(err)
		}
		if _, err := q.APIKeyByID(ctx, key.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a key outlived its organization: %v", err)
		}
	})
}
