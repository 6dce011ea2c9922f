package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestDeleteInvitationsEndedBefore: accepted and revoked invitations go
// once they ended before the time given; open ones stay, expired or not.
func TestDeleteInvitationsEndedBefore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, members := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "admin@example.com", Role: "admin"})
		now := time.Now()
		ids := map[string]int64{}
		err := db.InTx(ctx, func(q *store.Queries) error {
			for _, email := range []string{"accepted@example.com", "revoked@example.com", "expired@example.com"} {
				expires := now.Add(365 * 24 * time.Hour)
				if email == "expired@example.com" {
					expires = now.Add(-365 * 24 * time.Hour)
				}
				inv, err := q.SaveInvitation(ctx, store.NewInvitation{OrganizationID: org, Email: email, Role: "editor",
					TokenHash: email, InvitedBy: members[0].ID, ExpiresAt: expires})
				if err != nil {
					return err
				}
				ids[email] = inv.ID
			}
			if err := q.AcceptInvitation(ctx, org, ids["accepted@example.com"], members[0].ID, now.Add(-40*24*time.Hour)); err != nil {
				return err
			}
			return q.RevokeInvitation(ctx, org, ids["revoked@example.com"])
		})
		if err != nil {
			t.Fatal(err)
		}
		remove := func(before time.Time, want int64) {
			t.Helper()
			var n int64
			err := db.InTx(ctx, func(q *store.Queries) error {
				var err error
				n, err = q.DeleteInvitationsEndedBefore(ctx, before)
				return err
			})
			if err != nil || n != want {
				t.Errorf("deleted %d invitations ended before %s, %v; want %d", n, before, err, want)
			}
		}
		remove(now.Add(-30*24*time.Hour), 1) // the one accepted 40 days ago
		remove(now.Add(time.Minute), 1)      // the one revoked just now
		remove(now.Add(time.Minute), 0)      // the expired one is still open
		if _, err := db.Read().Invitation(ctx, org, ids["expired@example.com"]); err != nil {
			t.Errorf("the expired open invitation: %v", err)
		}
	})
}
