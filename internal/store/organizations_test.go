package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestOrganizationSender: the sender identity is empty for an organization
// that never set one (the default organization of the first migration
// included), and is saved and read back by every query that returns
// organizations.
func TestOrganizationSender(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		def, err := db.Read().OrganizationByID(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if def.Sender != (store.Sender{}) {
			t.Errorf("the default organization's sender = %+v, want empty", def.Sender)
		}
		sender := store.Sender{Name: "Académie Acme", ReplyTo: "training@acme.example", PostalAddress: "Acme Ltd\n1 Main Street"}
		fields := store.OrganizationFields{Name: "Acme", NameKey: "acme", NameSkeleton: "acme", Slug: "acme", Sender: sender}
		var org store.Organization
		err = db.InTx(ctx, func(q *store.Queries) error {
			u, err := q.CreateUser(ctx, store.NewUser{Email: "owner@example.com"})
			if err != nil {
				return err
			}
			if org, err = q.CreateOrganization(ctx, fields); err != nil {
				return err
			}
			return q.AddMembership(ctx, org.ID, u.ID, "owner")
		})
		if err != nil {
			t.Fatal(err)
		}
		if org.Sender != sender {
			t.Errorf("created with sender %+v, want %+v", org.Sender, sender)
		}

		fields.Sender = store.Sender{Name: "Acme Training"}
		if err := db.InTx(ctx, func(q *store.Queries) error { return q.UpdateOrganization(ctx, org.ID, fields) }); err != nil {
			t.Fatal(err)
		}
		read := db.Read()
		byID, err := read.OrganizationByID(ctx, org.ID)
		if err != nil || byID.Sender != fields.Sender {
			t.Errorf("by id after the update: %+v, %v; want %+v", byID.Sender, err, fields.Sender)
		}
		bySlug, err := read.OrganizationBySlug(ctx, "acme")
		if err != nil || bySlug.Sender != fields.Sender {
			t.Errorf("by slug: %+v, %v", bySlug.Sender, err)
		}
		list, _, err := read.ListOrganizations(ctx, store.OrganizationFilter{Search: "acme", Limit: 10})
		if err != nil || len(list) != 1 || list[0].Sender != fields.Sender {
			t.Errorf("listed: %+v, %v", list, err)
		}
		all, err := read.AllOrganizations(ctx)
		if err != nil || len(all) != 2 || all[0].Sender != fields.Sender || all[1].Sender != (store.Sender{}) {
			t.Errorf("all organizations: %+v, %v", all, err)
		}
	})
}

// The total of a list is the number of organizations that match, whichever
// page is asked for: full pages, the last one and one past the end. The
// default organization of the first migration makes six.
func TestListOrganizationsTotal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		err := db.InTx(ctx, func(q *store.Queries) error {
			for _, name := range []string{"Alpha", "Beta", "Gamma", "Delta", "Epsilon"} {
				key := strings.ToLower(name)
				if _, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: name, NameKey: key, NameSkeleton: key, Slug: key}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			filter    store.OrganizationFilter
			rows, all int
		}{
			{store.OrganizationFilter{Limit: 2}, 2, 6},
			{store.OrganizationFilter{Limit: 4, Offset: 4}, 2, 6},
			{store.OrganizationFilter{Limit: 5, Offset: 5}, 1, 6},
			{store.OrganizationFilter{Limit: 2, Offset: 6}, 0, 6},
			{store.OrganizationFilter{Limit: 10}, 6, 6},
			{store.OrganizationFilter{Limit: 6}, 6, 6},
			{store.OrganizationFilter{Limit: 10, Search: "ta"}, 2, 2},
			{store.OrganizationFilter{Limit: 10, Search: "zeta"}, 0, 0},
		} {
			list, total, err := db.Read().ListOrganizations(ctx, c.filter)
			if err != nil || len(list) != c.rows || total != c.all {
				t.Errorf("%+v: %d rows of %d, %v; want %d of %d", c.filter, len(list), total, err, c.rows, c.all)
			}
		}
	})
}

// TestOrganizationAndRole: the organization comes with the user's role in
// it, none for someone else, and a missing organization is not found.
func TestOrganizationAndRole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var org store.Organization
		var member, other store.User
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			if org, err = q.CreateOrganization(ctx, store.OrganizationFields{Name: "Acme", NameKey: "acme", NameSkeleton: "acme", Slug: "acme"}); err != nil {
				return err
			}
			if member, err = q.CreateUser(ctx, store.NewUser{Email: "member@example.com"}); err != nil {
				return err
			}
			if other, err = q.CreateUser(ctx, store.NewUser{Email: "other@example.com"}); err != nil {
				return err
			}
			if err := q.AddMembership(ctx, org.ID, member.ID, "editor"); err != nil {
				return err
			}
			// A role elsewhere is no role here.
			return q.AddMembership(ctx, 1, other.ID, "admin")
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			user int64
			role string
		}{{member.ID, "editor"}, {other.ID, ""}, {0, ""}} {
			got, role, err := db.Read().OrganizationAndRole(ctx, org.ID, c.user)
			if err != nil || got.ID != org.ID || got.Name != "Acme" || role != c.role {
				t.Errorf("user %d: %d %q, role %q, %v; want role %q", c.user, got.ID, got.Name, role, err, c.role)
			}
		}
		if _, _, err := db.Read().OrganizationAndRole(ctx, org.ID+100, member.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a missing organization: %v, want not found", err)
		}
	})
}
