package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// An organization's members come owner first, then admins, editors and
// viewers, each by email, a page at a time; on SQLite the page is read
// from memberships_rank_idx among other organizations' members, so it
// sorts only within a role, and only the roles up to the page's last.
func TestOrganizationMembersReadTheRankIndex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const orgs, members = 20, 100
		roles := []string{"viewer", "editor", "admin"}
		var orgIDs []int64
		err := db.InTx(ctx, func(q *store.Queries) error {
			for o := range orgs {
				name := fmt.Sprintf("Org %02d", o)
				org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: name, NameKey: strings.ToLower(name), NameSkeleton: names.Key(name), Slug: fmt.Sprintf("org-%02d", o)})
				if err != nil {
					return err
				}
				orgIDs = append(orgIDs, org.ID)
				for i := range members {
					// Emails in reverse of the order they are added in, so
					// neither ids nor insertion order give the right one.
					u, err := q.CreateUser(ctx, store.NewUser{Email: fmt.Sprintf("m%03d-%02d@example.com", members-i, o), Name: "Member"})
					if err != nil {
						return err
					}
					role := roles[i%len(roles)]
					if i == members/2 {
						role = "owner"
					}
					if err := q.AddMembership(ctx, org.ID, u.ID, role); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Vacuum(ctx); err != nil {
			t.Fatal(err)
		}
		orgID := orgIDs[orgs/2]
		first, err := db.Read().OrganizationMembers(ctx, orgID, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		second, err := db.Read().OrganizationMembers(ctx, orgID, 50, 50)
		if err != nil {
			t.Fatal(err)
		}
		all := append(first, second...)
		if len(first) != 50 || len(all) != members {
			t.Fatalf("pages of %d and %d members, want 50 and 50", len(first), len(second))
		}
		rank := map[string]int{"owner": 0, "admin": 1, "editor": 2, "viewer": 3}
		if !slices.IsSortedFunc(all, func(a, b store.Member) int {
			if c := rank[a.Role] - rank[b.Role]; c != 0 {
				return c
			}
			return strings.Compare(a.Email, b.Email)
		}) || all[0].Role != "owner" {
			t.Errorf("members not owner first, then by role and email: %v", all)
		}
		// A page's times are the ones stored, as a member read alone has it.
		for _, m := range all[:5] {
			alone, err := db.Read().OrganizationMember(ctx, orgID, m.UserID)
			if err != nil || !alone.Since.Equal(m.Since) || m.Since.Location() != time.UTC || m.Since.IsZero() {
				t.Errorf("member %d since %v in the page, %v alone (%v)", m.UserID, m.Since, alone.Since, err)
			}
		}

		plans, err := db.OrganizationMembersPlans(ctx, orgID, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range plans {
			t.Log(p)
			text := strings.Join(p.Lines, "\n")
			if db.Dialect() == store.SQLite {
				// "TEMP B-TREE FOR LAST TERM OF ORDER BY" (or "RIGHT
				// PART") sorts within a role; a sort of every member is
				// "TEMP B-TREE FOR ORDER BY".
				if !strings.Contains(text, "memberships_rank_idx (organization_id=?)") || strings.Contains(text, "TEMP B-TREE FOR ORDER BY") {
					t.Errorf("%s: want a read of memberships_rank_idx, sorting only within a role", p.Name)
				}
				continue
			}
			// PostgreSQL hashes an organization's hundred members and sorts
			// them all, which costs it little; the index is not required,
			// only that the organization's members are read by an index.
			if strings.Contains(text, "Seq Scan on memberships") {
				t.Errorf("%s: want the organization's members read by an index", p.Name)
			}
		}
	})
}
