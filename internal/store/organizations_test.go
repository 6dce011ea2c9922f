package store_test

import (
	"context"
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
