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

func TestSuspendAndResume(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		key, err := f.s.CreateKey(ctx, f.admin, f.org.ID, orgs.NewKey{Name: "CRM", Role: access.Admin})
		if err != nil {
			t.Fatal(err)
		}
		keyUser, err := f.s.AuthenticateKey(ctx, key.Key, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		outsider := newUser(t, db, "outsider@example.com", false)

		// Nobody but platform admins suspends: members are forbidden,
		// others do not even see the organization.
		for _, u := range []*store.User{f.owner, f.admin, f.viewer, keyUser} {
			if _, err := f.s.Suspend(ctx, u, f.org.ID, ""); !errors.Is(err, orgs.ErrForbidden) {
				t.Errorf("%s suspends: %v", orgs.ActorName(u), err)
			}
		}
		if _, err := f.s.Suspend(ctx, outsider, f.org.ID, ""); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("an outsider suspends: %v", err)
		}
		if _, err := f.s.Suspend(ctx, f.platformAdmin, f.org.ID, strings.Repeat("é", orgs.MaxSuspensionReasonRunes+1)); kindOf(err) != problem.Invalid {
			t.Errorf("a reason too long: %v", err)
		}
		if _, err := f.s.Suspend(ctx, f.platformAdmin, f.org.ID, "One\nTwo"); kindOf(err) != problem.Invalid {
			t.Errorf("a reason on two lines: %v", err)
		}
		if v, err := f.s.Get(ctx, f.owner, f.org.ID); err != nil || v.Suspended() {
			t.Fatalf("refused suspensions changed the organization: %+v, %v", v, err)
		}

		org, err := f.s.Suspend(ctx, f.platformAdmin, f.org.ID, "  Unpaid invoices.  ")
		if err != nil {
			t.Fatal(err)
		}
		if !org.Suspended() || org.SuspensionReason != "Unpaid invoices." || org.SuspendedBy == nil || *org.SuspendedBy != f.platformAdmin.ID {
			t.Errorf("suspended organization: %+v", org)
		}
		if _, err := f.s.Suspend(ctx, f.platformAdmin, f.org.ID, ""); kindOf(err) != problem.Conflict {
			t.Errorf("suspended twice: %v", err)
		}

		// Its staff and its keys are refused, whatever the action; the
		// platform admin still gets in.
		for _, u := range []*store.User{f.owner, f.admin, f.editor, f.viewer, keyUser} {
			if _, err := f.s.Get(ctx, u, f.org.ID); !errors.Is(err, orgs.ErrSuspended) {
				t.Errorf("%s opens the suspended organization: %v", orgs.ActorName(u), err)
			}
			if _, err := f.s.Audit(ctx, u, f.org.ID, orgs.AuditQuery{}); !errors.Is(err, orgs.ErrSuspended) {
				t.Errorf("%s reads the audit log of the suspended organization: %v", orgs.ActorName(u), err)
			}
		}
		if _, err := f.s.Get(ctx, outsider, f.org.ID); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("an outsider learns of the suspension: %v", err)
		}
		if v, err := f.s.Get(ctx, f.platformAdmin, f.org.ID); err != nil || !v.CanSuspend || !v.Suspended() {
			t.Errorf("the platform admin's view: %+v, %v", v, err)
		}
		if _, _, err := f.s.Public(ctx, f.org.ID); !errors.Is(err, orgs.ErrUnavailable) {
			t.Errorf("public page of a suspended organization: %v", err)
		}
		if _, err := f.s.IDBySlug(ctx, f.org.Slug); !errors.Is(err, orgs.ErrUnavailable) {
			t.Errorf("public address of a suspended organization: %v", err)
		}
		list, err := f.s.List(ctx, f.owner, "", 1)
		if err != nil || len(list.Items) != 1 || !list.Items[0].Suspended() || list.Items[0].CanEdit || list.Items[0].CanDelete {
			t.Errorf("the owner's list: %+v, %v", list.Items, err)
		}

		if _, err := f.s.Resume(ctx, f.owner, f.org.ID); !errors.Is(err, orgs.ErrSuspended) {
			t.Errorf("the owner resumes: %v", err)
		}
		if _, err := f.s.Resume(ctx, outsider, f.org.ID); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("an outsider resumes: %v", err)
		}
		org, err = f.s.Resume(ctx, f.platformAdmin, f.org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if org.Suspended() || org.SuspensionReason != "" || org.SuspendedBy != nil {
			t.Errorf("resumed organization: %+v", org)
		}
		if _, err := f.s.Resume(ctx, f.platformAdmin, f.org.ID); kindOf(err) != problem.Conflict {
			t.Errorf("resumed twice: %v", err)
		}
		if _, err := f.s.Get(ctx, keyUser, f.org.ID); err != nil {
			t.Errorf("the key after the resumption: %v", err)
		}

		log, err := db.Read().AuditLog(ctx, f.org.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range log {
			if e.Action == string(orgs.OrganizationSuspended) || e.Action == string(orgs.OrganizationResumed) {
				actions = append(actions, e.Action)
				if e.ActorEmail != f.platformAdmin.Email || strings.Contains(e.NewValue, "Unpaid") {
					t.Errorf("audit entry %+v", e)
				}
			}
		}
		if strings.Join(actions, " ") != "organization.resumed organization.suspended" {
			t.Errorf("audit log: %v", actions)
		}
	})
}

// An invitation sent before the suspension cannot be accepted during it,
// and can after.
func TestSuspendedOrganizationTakesNoInvitations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		const invitee = "later@example.com"
		if _, err := f.s.AddMember(ctx, f.admin, f.org.ID, invitee, access.Editor); err != nil {
			t.Fatal(err)
		}
		token := f.invitationToken(invitee)
		user := newUser(t, db, invitee, false)
		if _, err := f.s.Suspend(ctx, f.platformAdmin, f.org.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.InvitationByToken(ctx, token); !errors.Is(err, orgs.ErrSuspended) {
			t.Errorf("the link during the suspension: %v", err)
		}
		if _, err := f.s.AcceptAsUser(ctx, user, token); !errors.Is(err, orgs.ErrSuspended) {
			t.Errorf("accepting during the suspension: %v", err)
		}
		if _, _, err := f.s.AcceptWithNewAccount(ctx, token, orgs.NewAccount{Name: "Later", Password: "a long enough password", PasswordConfirm: "a long enough password"}); !errors.Is(err, orgs.ErrSuspended) {
			t.Errorf("accepting with a new account during the suspension: %v", err)
		}
		if _, err := db.Read().OrganizationMember(ctx, f.org.ID, user.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused acceptance made a member: %v", err)
		}
		if _, err := f.s.Resume(ctx, f.platformAdmin, f.org.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.AcceptAsUser(ctx, user, token); err != nil {
			t.Errorf("accepting after the resumption: %v", err)
		}
	})
}

func kindOf(err error) problem.Kind {
	if p, ok := problem.As(err); ok {
		return p.Kind
	}
	return 0
}
