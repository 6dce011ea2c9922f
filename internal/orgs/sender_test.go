package orgs_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestSenderIdentity: admins and owners set how course emails are signed;
// the values are cleaned, a bad one is refused beside its field and
// changes nothing, the audit log records the change, and empty values
// restore the defaults.
func TestSenderIdentity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := orgs.NewService(db, orgs.Config{})
		root := newUser(t, db, "root@example.com", true)
		org, err := s.Create(ctx, root, orgs.Fields{Name: ptr("Acme Academy")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, root, orgs.Fields{Name: ptr("Beta School")}); err != nil {
			t.Fatal(err)
		}
		if org.Sender != (store.Sender{}) {
			t.Errorf("a new organization's sender = %+v, want the defaults", org.Sender)
		}
		members := map[access.Role]*store.User{}
		for _, role := range []access.Role{access.Viewer, access.Editor, access.Admin} {
			members[role] = newUser(t, db, string(role)+"@example.com", false)
			addMember(t, db, org.ID, members[role], role)
		}
		for _, role := range []access.Role{access.Viewer, access.Editor} {
			if _, err := s.Update(ctx, members[role], org.ID, orgs.Fields{SenderName: ptr("Mine")}); !errors.Is(err, orgs.ErrForbidden) {
				t.Errorf("%s sets the sender name: %v, want forbidden", role, err)
			}
		}

		got, err := s.Update(ctx, members[access.Admin], org.ID, orgs.Fields{SenderName: ptr("  Acme   Training "),
			ReplyTo: ptr(" Training@Acme.Example "), PostalAddress: ptr("\r\n  Acme Ltd  \r\n 1 Main Street\n\n")})
		if err != nil {
			t.Fatal(err)
		}
		want := store.Sender{Name: "Acme Training", ReplyTo: "training@acme.example", PostalAddress: "Acme Ltd\n1 Main Street"}
		if got.Sender != want {
			t.Errorf("saved sender = %+v, want %+v", got.Sender, want)
		}
		log, err := s.Audit(ctx, root, org.ID, orgs.AuditQuery{})
		if err != nil || len(log.Entries) == 0 || log.Entries[0].Action != string(orgs.OrganizationUpdated) {
			t.Fatalf("audit log: %+v, %v", log.Entries, err)
		}
		changed := map[string]string{}
		for _, c := range log.Entries[0].Changes {
			changed[c.Field] = c.New
		}
		if changed["sender_name"] != want.Name || changed["reply_to"] != want.ReplyTo || changed["postal_address"] != want.PostalAddress {
			t.Errorf("audited changes = %v", changed)
		}

		tests := []struct {
			name   string
			fields orgs.Fields
			field  string
		}{
			{"line break", orgs.Fields{SenderName: ptr("Acme\r\nBcc: victim@example.com")}, "sender_name"},
			{"angle brackets", orgs.Fields{SenderName: ptr("Acme <support@bank.example>")}, "sender_name"},
			{"quotes", orgs.Fields{SenderName: ptr(`Acme" <x@y.z>`)}, "sender_name"},
			{"an address", orgs.Fields{SenderName: ptr("support@bank.example")}, "sender_name"},
			{"text direction", orgs.Fields{SenderName: ptr("Acme \u202egnp.exe")}, "sender_name"},
			{"101 characters", orgs.Fields{SenderName: ptr(strings.Repeat("é", 101))}, "sender_name"},
			{"not an address", orgs.Fields{ReplyTo: ptr("not an address")}, "reply_to"},
			{"two addresses", orgs.Fields{ReplyTo: ptr("a@example.com, b@example.com")}, "reply_to"},
			{"a name and address", orgs.Fields{ReplyTo: ptr("Acme <a@example.com>")}, "reply_to"},
			{"501 characters", orgs.Fields{PostalAddress: ptr(strings.Repeat("p", 501))}, "postal_address"},
			{"11 lines", orgs.Fields{PostalAddress: ptr(strings.Repeat("line\n", 11))}, "postal_address"},
			{"control character", orgs.Fields{PostalAddress: ptr("Acme\x00Ltd")}, "postal_address"},
			{"text direction in the address", orgs.Fields{PostalAddress: ptr("Acme Ltd\n\u202e1 Main Street")}, "postal_address"},
		}
		for _, tt := range tests {
			_, err := s.Update(ctx, members[access.Admin], org.ID, tt.fields)
			if p, ok := problem.As(err); !ok || p.Kind != problem.Invalid || p.Fields[tt.field] == "" {
				t.Errorf("%s: err = %v, want a message on %s", tt.name, err, tt.field)
			}
		}
		// Another organization's name, or one that looks like it, would
		// let one organization pass for another.
		for _, name := range []string{"Beta School", "BETA SCHOOL", "Bеta School"} {
			if _, err := s.Update(ctx, members[access.Admin], org.ID, orgs.Fields{SenderName: ptr(name)}); code(err) != "sender_name_taken" {
				t.Errorf("sender name %q: err = %v, want sender_name_taken", name, err)
			}
		}
		if v, _ := s.Get(ctx, root, org.ID); v.Sender != want {
			t.Errorf("sender after refused changes = %+v, want %+v", v.Sender, want)
		}

		got, err = s.Update(ctx, members[access.Admin], org.ID, orgs.Fields{SenderName: ptr("Acme Academy"), ReplyTo: ptr(""), PostalAddress: ptr("")})
		if err != nil || got.Sender != (store.Sender{Name: "Acme Academy"}) {
			t.Errorf("the organization's own name and empty values: %+v, %v", got.Sender, err)
		}
	})
}
