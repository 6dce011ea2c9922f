package orgs_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/mailtest"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

const baseURL = "https://school.example"

// fixture is an organization with an owner, an admin, an editor and a
// viewer, and a service that records its email without sending it.
type fixture struct {
	t                            *testing.T
	db                           *store.DB
	s                            *orgs.Service
	clock                        *clock
	platformAdmin                *store.User
	owner, admin, editor, viewer *store.User
	org                          store.Organization
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	mailer, err := mail.NewService(db, mail.Config{From: "mailschool <noreply@school.example>", BaseURL: baseURL,
		Transport: mail.Outbox{}, TransportName: "outbox"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewJobs(&river.Config{}); err != nil { // insert-only: the emails stay queued
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, clock: &clock{t: time.Now()},
		s: orgs.NewService(db, orgs.Config{Mail: mailer, BaseURL: baseURL, InvitationTTL: 48 * time.Hour})}
	f.s.SetClock(f.clock.now)
	f.platformAdmin = newUser(t, db, "root@example.com", true)
	f.owner = newUser(t, db, "owner@example.com", false)
	f.admin = newUser(t, db, "admin@example.com", false)
	f.editor = newUser(t, db, "editor@example.com", false)
	f.viewer = newUser(t, db, "viewer@example.com", false)
	f.org, err = f.s.Create(context.Background(), f.platformAdmin, orgs.Fields{Name: ptr("Acme"), OwnerEmail: f.owner.Email})
	if err != nil {
		t.Fatal(err)
	}
	addMember(t, db, f.org.ID, f.admin, access.Admin)
	addMember(t, db, f.org.ID, f.editor, access.Editor)
	addMember(t, db, f.org.ID, f.viewer, access.Viewer)
	return f
}

// roles returns every member's role by email.
func (f *fixture) roles(orgID int64) map[string]string {
	f.t.Helper()
	members, err := f.db.Read().OrganizationMembers(context.Background(), orgID, 0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	m := map[string]string{}
	for _, mem := range members {
		m[mem.Email] = mem.Role
	}
	return m
}

// mails returns the email messages of a kind sent to an address.
func (f *fixture) mails(to string, kind mail.Kind) []mail.Parsed {
	f.t.Helper()
	return mailtest.Sent(f.t, f.db, to, kind)
}

var tokenInLink = regexp.MustCompile(regexp.QuoteMeta(baseURL) + `/invitations/([A-Za-z0-9_-]{43})/`)

// invitationToken returns the token of the newest invitation email to an
// address.
func (f *fixture) invitationToken(to string) string {
	f.t.Helper()
	list := f.mails(to, mail.KindInvitation)
	if len(list) == 0 {
		f.t.Fatalf("no invitation email to %s", to)
	}
	m := tokenInLink.FindStringSubmatch(list[0].Text)
	if m == nil {
		f.t.Fatalf("no invitation link in:\n%s", list[0].Text)
	}
	return m[1]
}

// audit returns the actions of the organization's audit log, oldest first.
func (f *fixture) audit() []string {
	f.t.Helper()
	entries, err := f.db.Read().AuditLog(context.Background(), f.org.ID, 0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	var actions []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		actions = append(actions, e.Action+" "+e.Target+" "+e.OldValue+">"+e.NewValue)
	}
	return actions
}

func kind(err error) problem.Kind {
	if p, ok := problem.As(err); ok {
		return p.Kind
	}
	return 0
}

func TestAddMember(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		known := newUser(t, db, "known@example.com", false)

		added, err := f.s.AddMember(ctx, f.admin, f.org.ID, "  Known@Example.COM ", access.Editor)
		if err != nil || added.Member == nil || added.Member.Role != "editor" || added.Invitation != nil {
			t.Fatalf("adding a known user: %+v, %v", added, err)
		}
		notices := f.mails(known.Email, mail.KindMemberAdded)
		if len(notices) != 1 || !strings.Contains(notices[0].Text, "admin@example.com added you to Acme on mailschool as editor") ||
			!strings.Contains(notices[0].Text, fmt.Sprintf("%s/email-learning/platform/organizations/%d/", baseURL, f.org.ID)) {
			t.Errorf("notice emails = %+v", notices)
		}

		// Adding a member again changes nothing and says so.
		before := f.audit()
		if _, err := f.s.AddMember(ctx, f.admin, f.org.ID, "known@example.com", access.Viewer); code(err) != "already_member" ||
			!strings.Contains(err.Error(), "known@example.com is already a member of Acme, as editor") {
			t.Errorf("adding a member twice: %v", err)
		}
		if f.roles(f.org.ID)["known@example.com"] != "editor" || len(f.audit()) != len(before) || len(f.mails(known.Email, mail.KindMemberAdded)) != 1 {
			t.Error("adding a member twice changed something")
		}

		// Bad input.
		for _, tc := range []struct {
			email string
			role  access.Role
			code  string
		}{
			{"not an address", access.Editor, "invalid_email"},
			{"", access.Editor, "invalid_email"},
			{"Name <x@example.com>", access.Editor, "invalid_email"},
			{"x@example.com", access.Owner, "invalid_role"},
			{"x@example.com", access.Role("root"), "invalid_role"},
		} {
			if _, err := f.s.AddMember(ctx, f.admin, f.org.ID, tc.email, tc.role); code(err) != tc.code {
				t.Errorf("add %q as %q: %v, want %s", tc.email, tc.role, err, tc.code)
			}
		}
		// Editors and viewers may not add; non-members do not see the organization.
		if _, err := f.s.AddMember(ctx, f.editor, f.org.ID, "y@example.com", access.Viewer); !errors.Is(err, orgs.ErrForbidden) {
			t.Errorf("an editor adds: %v", err)
		}
		if _, err := f.s.AddMember(ctx, known, f.org.ID+1000, "y@example.com", access.Viewer); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("adding to a missing organization: %v", err)
		}
		if len(f.audit()) != len(before) {
			t.Error("refused additions wrote to the audit log")
		}
	})
}

func TestInvitationLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		const invitee = "new.person@example.com"

		added, err := f.s.AddMember(ctx, f.admin, f.org.ID, "New.Person@example.com", access.Viewer)
		if err != nil || added.Invitation == nil || added.Member != nil {
			t.Fatalf("inviting: %+v, %v", added, err)
		}
		inv := added.Invitation
		if inv.Email != invitee || inv.Role != "viewer" || inv.Status != store.InvitationPending || inv.InviterEmail != f.admin.Email ||
			!inv.ExpiresAt.Equal(f.clock.now().Add(48*time.Hour).UTC().Truncate(time.Microsecond)) {
			t.Errorf("invitation = %+v", inv)
		}
		first := f.invitationToken(invitee)

		// Inviting again renews the open invitation: one row, the new role,
		// a new link. (Within a minute, it is refused: see
		// TestStaffEmailLimits.)
		f.clock.advance(2 * time.Minute)
		again, err := f.s.AddMember(ctx, f.owner, f.org.ID, invitee, access.Editor)
		if err != nil || again.Invitation.ID != inv.ID || again.Invitation.Role != "editor" || again.Invitation.InviterEmail != f.owner.Email {
			t.Fatalf("inviting again: %+v, %v", again.Invitation, err)
		}
		open, _ := f.s.Invitations(ctx, f.admin, f.org.ID)
		if len(open) != 1 {
			t.Errorf("%d open invitations after inviting twice, want 1", len(open))
		}
		second := f.invitationToken(invitee)
		if second == first {
			t.Fatal("the renewed invitation kept its token")
		}
		if _, err := f.s.InvitationByToken(ctx, first); !errors.Is(err, orgs.ErrInvitationNotFound) {
			t.Errorf("the replaced link: %v, want not found", err)
		}

		// Resending gives yet another link and a new expiry.
		f.clock.advance(47 * time.Hour)
		resent, err := f.s.ResendInvitation(ctx, f.admin, f.org.ID, inv.ID)
		if err != nil || !resent.ExpiresAt.After(inv.ExpiresAt) {
			t.Fatalf("resend: %+v, %v", resent, err)
		}
		third := f.invitationToken(invitee)
		if third == second {
			t.Fatal("resending kept the token")
		}
		if _, err := f.s.InvitationByToken(ctx, second); !errors.Is(err, orgs.ErrInvitationNotFound) {
			t.Errorf("the link before resending: %v, want not found", err)
		}

		// A tampered token is not found, and accepting with it changes nothing.
		tampered := third[:len(third)-1] + string("AB"[strings.IndexByte("AB", third[len(third)-1])+1&1])
		if _, _, err := f.s.AcceptWithNewAccount(ctx, tampered, orgs.NewAccount{Name: "N", Password: "a long passphrase", PasswordConfirm: "a long passphrase"}); !errors.Is(err, orgs.ErrInvitationNotFound) {
			t.Errorf("tampered token: %v", err)
		}

		// Bad form input keeps the invitation usable and creates nobody.
		_, _, err = f.s.AcceptWithNewAccount(ctx, third, orgs.NewAccount{Name: " ", Password: "password", PasswordConfirm: "password"})
		if p, ok := problem.As(err); !ok || p.Fields["name"] == "" || p.Fields["password"] == "" {
			t.Errorf("bad account fields: %v", err)
		}
		_, _, err = f.s.AcceptWithNewAccount(ctx, third, orgs.NewAccount{Name: "Ada", Password: "a long passphrase", PasswordConfirm: "another passphrase"})
		if p, ok := problem.As(err); !ok || p.Fields["password_confirm"] == "" {
			t.Errorf("mismatched passwords: %v", err)
		}
		for _, name := range []string{"Ada\u202eecalevoL", "Ada\u200b"} {
			_, _, err = f.s.AcceptWithNewAccount(ctx, third, orgs.NewAccount{Name: name, Password: "a long passphrase", PasswordConfirm: "a long passphrase"})
			if p, ok := problem.As(err); !ok || p.Fields["name"] != "The name may not contain invisible or text-direction characters." {
				t.Errorf("name %+q: %v", name, err)
			}
		}
		if _, err := db.Read().UserByEmail(ctx, invitee); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("refused acceptance created the user: %v", err)
		}

		// Accepting creates the account and the membership at once.
		user, orgID, err := f.s.AcceptWithNewAccount(ctx, third, orgs.NewAccount{Name: " Ada Lovelace ", Password: "a long passphrase", PasswordConfirm: "a long passphrase"})
		if err != nil || orgID != f.org.ID || user.Email != invitee || user.Name != "Ada Lovelace" {
			t.Fatalf("accept: %+v, %d, %v", user, orgID, err)
		}
		if match, err := auth.CheckPassword(ctx, user.PasswordHash, "a long passphrase"); !match || err != nil {
			t.Fatalf("the new account's password does not match: %v", err)
		}
		if role := f.roles(f.org.ID)[invitee]; role != "editor" {
			t.Errorf("the new member's role = %q, want editor", role)
		}
		// The link is single-use.
		if _, err := f.s.InvitationByToken(ctx, third); !errors.Is(err, orgs.ErrInvitationAccepted) || kind(err) != problem.Gone {
			t.Errorf("the used link: %v", err)
		}
		if _, err := f.s.AcceptAsUser(ctx, &user, third); !errors.Is(err, orgs.ErrInvitationAccepted) {
			t.Errorf("accepting twice: %v", err)
		}
		if _, err := f.s.ResendInvitation(ctx, f.admin, f.org.ID, inv.ID); code(err) != "invitation_accepted" {
			t.Errorf("resending an accepted invitation: %v", err)
		}

		want := []string{
			`invitation.created new.person@example.com >{"role":"viewer"}`,
			`invitation.renewed new.person@example.com >{"role":"editor"}`,
			`invitation.resent new.person@example.com >`,
			`invitation.accepted new.person@example.com >{"role":"editor"}`,
			`member.added new.person@example.com >{"role":"editor"}`,
		}
		if got := f.audit(); strings.Join(got[len(got)-len(want):], "\n") != strings.Join(want, "\n") {
			t.Errorf("audit log ends with\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestDeadInvitationsChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		account := orgs.NewAccount{Name: "Late", Password: "a long passphrase", PasswordConfirm: "a long passphrase"}

		// Expired.
		if _, err := f.s.AddMember(ctx, f.admin, f.org.ID, "late@example.com", access.Viewer); err != nil {
			t.Fatal(err)
		}
		expired := f.invitationToken("late@example.com")
		f.clock.advance(48 * time.Hour)
		if _, _, err := f.s.AcceptWithNewAccount(ctx, expired, account); !errors.Is(err, orgs.ErrInvitationExpired) {
			t.Errorf("expired invitation: %v", err)
		}
		open, _ := f.s.Invitations(ctx, f.admin, f.org.ID)
		if len(open) != 1 || open[0].Status != store.InvitationExpired {
			t.Errorf("open invitations = %+v, want one expired", open)
		}

		// Revoked.
		if _, err := f.s.AddMember(ctx, f.admin, f.org.ID, "gone@example.com", access.Viewer); err != nil {
			t.Fatal(err)
		}
		revoked := f.invitationToken("gone@example.com")
		open, _ = f.s.Invitations(ctx, f.admin, f.org.ID)
		for _, inv := range open {
			if inv.Email == "gone@example.com" {
				if err := f.s.RevokeInvitation(ctx, f.editor, f.org.ID, inv.ID); !errors.Is(err, orgs.ErrForbidden) {
					t.Errorf("an editor revokes: %v", err)
				}
				if err := f.s.RevokeInvitation(ctx, f.admin, f.org.ID, inv.ID); err != nil {
					t.Fatal(err)
				}
				if err := f.s.RevokeInvitation(ctx, f.admin, f.org.ID, inv.ID); code(err) != "invitation_revoked" {
					t.Errorf("revoking twice: %v", err)
				}
			}
		}
		if _, _, err := f.s.AcceptWithNewAccount(ctx, revoked, account); !errors.Is(err, orgs.ErrInvitationRevoked) {
			t.Errorf("revoked invitation: %v", err)
		}
		for _, email := range []string{"late@example.com", "gone@example.com"} {
			if _, err := db.Read().UserByEmail(ctx, email); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a dead invitation created %s", email)
			}
		}

		// Someone logged in with another address is told so.
		if _, err := f.s.AddMember(ctx, f.admin, f.org.ID, "invitee@example.com", access.Viewer); err != nil {
			t.Fatal(err)
		}
		token := f.invitationToken("invitee@example.com")
		if _, err := f.s.AcceptAsUser(ctx, f.viewer, token); code(err) != "wrong_account" ||
			!strings.Contains(err.Error(), "This invitation is for invitee@example.com, but you are logged in as viewer@example.com") {
			t.Errorf("accepting as someone else: %v", err)
		}
		if f.roles(f.org.ID)["viewer@example.com"] != "viewer" {
			t.Error("accepting as someone else changed their role")
		}
		// An address that has an account meanwhile logs in rather than setting a password.
		invitee := newUser(t, db, "invitee@example.com", false)
		if _, _, err := f.s.AcceptWithNewAccount(ctx, token, account); code(err) != "account_exists" {
			t.Errorf("accepting with a new account for an existing address: %v", err)
		}
		if got, _ := db.Read().UserByEmail(ctx, invitee.Email); got.PasswordHash != invitee.PasswordHash {
			t.Error("the invitation set the password of an existing account")
		}
		if orgID, err := f.s.AcceptAsUser(ctx, invitee, token); err != nil || orgID != f.org.ID || f.roles(f.org.ID)[invitee.Email] != "viewer" {
			t.Errorf("accepting as the invited user: %d, %v", orgID, err)
		}
	})
}

func TestChangeRoleAndRemove(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		before := f.roles(f.org.ID)
		auditBefore := len(f.audit())

		refusals := []struct {
			name  string
			actor *store.User
			user  *store.User
			role  access.Role
			want  error
		}{
			{"self-demotion", f.admin, f.admin, access.Viewer, orgs.ErrOwnRole},
			{"the owner's own role", f.owner, f.owner, access.Admin, orgs.ErrOwnRole},
			{"demoting the owner", f.admin, f.owner, access.Viewer, orgs.ErrOwnerFixed},
			{"platform admin demoting the owner", f.platformAdmin, f.owner, access.Admin, orgs.ErrOwnerFixed},
			{"editor changing a role", f.editor, f.viewer, access.Editor, orgs.ErrForbidden},
			{"viewer promoting themself", f.viewer, f.viewer, access.Admin, orgs.ErrOwnRole},
			{"viewer changing the owner", f.viewer, f.owner, access.Viewer, orgs.ErrForbidden},
		}
		for _, r := range refusals {
			if _, err := f.s.ChangeRole(ctx, r.actor, f.org.ID, r.user.ID, r.role); !errors.Is(err, r.want) {
				t.Errorf("%s: %v, want %v", r.name, err, r.want)
			}
		}
		if _, err := f.s.ChangeRole(ctx, f.admin, f.org.ID, f.editor.ID, access.Owner); !errors.Is(err, orgs.ErrInvalidRole) {
			t.Errorf("making an owner by role change: %v", err)
		}
		if _, err := f.s.ChangeRole(ctx, f.admin, f.org.ID, f.platformAdmin.ID, access.Viewer); !errors.Is(err, orgs.ErrMemberNotFound) {
			t.Errorf("changing a non-member: %v", err)
		}
		removals := []struct {
			name  string
			actor *store.User
			user  *store.User
			want  error
		}{
			{"removing the owner", f.admin, f.owner, orgs.ErrOwnerFixed},
			{"the owner leaving", f.owner, f.owner, orgs.ErrOwnerLeaving},
			{"editor removing", f.editor, f.viewer, orgs.ErrForbidden},
			{"removing a non-member", f.admin, f.platformAdmin, orgs.ErrMemberNotFound},
		}
		for _, r := range removals {
			if err := f.s.RemoveMember(ctx, r.actor, f.org.ID, r.user.ID); !errors.Is(err, r.want) {
				t.Errorf("%s: %v, want %v", r.name, err, r.want)
			}
		}
		if got := f.roles(f.org.ID); fmt.Sprint(got) != fmt.Sprint(before) || len(f.audit()) != auditBefore {
			t.Errorf("refused changes changed the members: %v, want %v", got, before)
		}

		if m, err := f.s.ChangeRole(ctx, f.admin, f.org.ID, f.editor.ID, access.Viewer); err != nil || m.Role != "viewer" {
			t.Errorf("demoting the editor: %+v, %v", m, err)
		}
		if _, err := f.s.ChangeRole(ctx, f.admin, f.org.ID, f.editor.ID, access.Viewer); err != nil {
			t.Errorf("the same role again: %v", err)
		}
		if err := f.s.RemoveMember(ctx, f.viewer, f.org.ID, f.viewer.ID); err != nil {
			t.Errorf("the viewer leaving: %v", err)
		}
		if err := f.s.RemoveMember(ctx, f.owner, f.org.ID, f.editor.ID); err != nil {
			t.Errorf("the owner removing a member: %v", err)
		}
		want := []string{
			`member.role_changed editor@example.com {"role":"editor"}>{"role":"viewer"}`,
			`member.left viewer@example.com {"role":"viewer"}>`,
			`member.removed editor@example.com {"role":"viewer"}>`,
		}
		if got := f.audit()[auditBefore:]; strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if got := f.roles(f.org.ID); len(got) != 2 || got["owner@example.com"] != "owner" || got["admin@example.com"] != "admin" {
			t.Errorf("members at the end: %v", got)
		}
	})
}

// transferTo offers the organization to u and has u accept.
func (f *fixture) transferTo(actor, u *store.User) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.s.OfferOwnership(ctx, actor, f.org.ID, u.ID); err != nil {
		f.t.Fatalf("offer to %s: %v", u.Email, err)
	}
	if _, err := f.s.AcceptOwnership(ctx, u, f.org.ID); err != nil {
		f.t.Fatalf("%s accepting: %v", u.Email, err)
	}
}

func TestTransferOwnership(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		if _, err := f.s.OfferOwnership(ctx, f.admin, f.org.ID, f.editor.ID); !errors.Is(err, orgs.ErrForbidden) {
			t.Errorf("an admin offers: %v", err)
		}
		if _, err := f.s.OfferOwnership(ctx, f.owner, f.org.ID, f.platformAdmin.ID); code(err) != "not_a_member" {
			t.Errorf("offer to a non-member: %v", err)
		}
		if _, err := f.s.OfferOwnership(ctx, f.owner, f.org.ID, f.owner.ID); code(err) != "already_owner" {
			t.Errorf("offer to the owner: %v", err)
		}

		// An offer changes nothing until the member it names accepts it.
		offer, err := f.s.OfferOwnership(ctx, f.owner, f.org.ID, f.editor.ID)
		if err != nil || offer.Email != f.editor.Email || offer.OfferedBy != f.owner.Email {
			t.Fatalf("offer: %+v, %v", offer, err)
		}
		if roles := f.roles(f.org.ID); roles[f.owner.Email] != "owner" || roles[f.editor.Email] != "editor" {
			t.Errorf("roles after the offer alone: %v", roles)
		}
		// Nobody else accepts it, nor sees it but the owner and the editor.
		for _, u := range []*store.User{f.admin, f.viewer, f.owner, f.platformAdmin} {
			if _, err := f.s.AcceptOwnership(ctx, u, f.org.ID); !errors.Is(err, orgs.ErrNoOwnershipOffer) {
				t.Errorf("%s accepting the editor's offer: %v", u.Email, err)
			}
		}
		if _, err := f.s.OwnershipOffer(ctx, f.viewer, f.org.ID); !errors.Is(err, orgs.ErrNoOwnershipOffer) {
			t.Errorf("the viewer sees the offer: %v", err)
		}
		if err := f.s.EndOwnershipOffer(ctx, f.admin, f.org.ID); !errors.Is(err, orgs.ErrNoOwnershipOffer) {
			t.Errorf("an admin ends the offer: %v", err)
		}
		owner, err := f.s.AcceptOwnership(ctx, f.editor, f.org.ID)
		if err != nil || owner.Email != f.editor.Email || owner.Role != "owner" {
			t.Fatalf("accept: %+v, %v", owner, err)
		}
		roles := f.roles(f.org.ID)
		if roles["owner@example.com"] != "admin" || roles["editor@example.com"] != "owner" {
			t.Errorf("roles after the transfer: %v", roles)
		}
		if _, err := f.s.AcceptOwnership(ctx, f.editor, f.org.ID); !errors.Is(err, orgs.ErrNoOwnershipOffer) {
			t.Errorf("accepting twice: %v", err)
		}
		// The old owner may now leave; the new one may not.
		if err := f.s.RemoveMember(ctx, f.editor, f.org.ID, f.editor.ID); !errors.Is(err, orgs.ErrOwnerLeaving) {
			t.Errorf("the new owner leaving: %v", err)
		}
		if err := f.s.RemoveMember(ctx, f.owner, f.org.ID, f.owner.ID); err != nil {
			t.Errorf("the old owner leaving: %v", err)
		}

		// Declined, withdrawn, or its member gone: the offer ends and
		// nothing changes hands.
		if _, err := f.s.OfferOwnership(ctx, f.editor, f.org.ID, f.viewer.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.s.EndOwnershipOffer(ctx, f.viewer, f.org.ID); err != nil {
			t.Errorf("declining: %v", err)
		}
		if _, err := f.s.OfferOwnership(ctx, f.editor, f.org.ID, f.viewer.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.s.EndOwnershipOffer(ctx, f.editor, f.org.ID); err != nil {
			t.Errorf("withdrawing: %v", err)
		}
		if _, err := f.s.OfferOwnership(ctx, f.editor, f.org.ID, f.viewer.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RemoveMember(ctx, f.viewer, f.org.ID, f.viewer.ID); err != nil {
			t.Errorf("the offered member leaving: %v", err)
		}
		addMember(t, db, f.org.ID, f.viewer, access.Viewer)
		if _, err := f.s.AcceptOwnership(ctx, f.viewer, f.org.ID); !errors.Is(err, orgs.ErrNoOwnershipOffer) {
			t.Errorf("an offer outlived its member leaving: %v", err)
		}
		if roles := f.roles(f.org.ID); roles[f.editor.Email] != "owner" {
			t.Errorf("roles after ended offers: %v", roles)
		}

		// Platform admins may offer too.
		if _, err := f.s.OfferOwnership(ctx, f.platformAdmin, f.org.ID, f.viewer.ID); err != nil {
			t.Errorf("a platform admin offers: %v", err)
		}
		got := strings.Join(f.audit(), "\n")
		for _, want := range []string{
			`ownership.offered editor@example.com >{"offered_to":"editor@example.com"}`,
			`ownership.transferred editor@example.com {"owner":"owner@example.com"}>{"owner":"editor@example.com"}`,
			`ownership.offer_declined viewer@example.com`, `ownership.offer_withdrawn viewer@example.com`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("the audit log lacks %s:\n%s", want, got)
			}
		}
	})
}

func TestCreateForAnotherOwner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		// The fixture's organization was created for an existing owner.
		if roles := f.roles(f.org.ID); roles[f.owner.Email] != "owner" || roles[f.platformAdmin.Email] != "" {
			t.Errorf("roles of an organization created for someone: %v", roles)
		}
		if len(f.mails(f.owner.Email, mail.KindMemberAdded)) != 1 {
			t.Error("the named owner was not told")
		}

		// An unknown owner is invited; the creator holds the ownership meanwhile.
		org, err := f.s.Create(ctx, f.platformAdmin, orgs.Fields{Name: ptr("Beta"), OwnerEmail: "Boss@Example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if roles := f.roles(org.ID); roles[f.platformAdmin.Email] != "owner" || len(roles) != 1 {
			t.Errorf("roles before acceptance: %v", roles)
		}
		token := f.invitationToken("boss@example.com")
		boss, _, err := f.s.AcceptWithNewAccount(ctx, token, orgs.NewAccount{Name: "Boss", Password: "a long passphrase", PasswordConfirm: "a long passphrase"})
		if err != nil {
			t.Fatal(err)
		}
		if roles := f.roles(org.ID); roles[boss.Email] != "owner" || roles[f.platformAdmin.Email] != "admin" {
			t.Errorf("roles after the owner accepted: %v", roles)
		}
		if _, err := f.s.Create(ctx, f.platformAdmin, orgs.Fields{Name: ptr("Gamma"), OwnerEmail: "nope"}); code(err) != "invalid_email" {
			t.Errorf("a bad owner address: %v", err)
		}
		if _, err := db.Read().OrganizationBySlug(ctx, "gamma"); !errors.Is(err, store.ErrNotFound) {
			t.Error("a refused creation left an organization")
		}
	})
}

func TestHooksSeeEventsInTheTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		var seen []string
		refuse := false
		f.s.OnEvent(func(ctx context.Context, q *store.Queries, e orgs.Event) error {
			if refuse {
				return errors.New("hook says no")
			}
			seen = append(seen, fmt.Sprintf("%s %s %d", e.Kind, e.Target, e.UserID))
			return nil
		})
		if _, err := f.s.ChangeRole(ctx, f.admin, f.org.ID, f.viewer.ID, access.Editor); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("member.role_changed viewer@example.com %d", f.viewer.ID); len(seen) != 1 || seen[0] != want {
			t.Errorf("hook saw %v, want [%s]", seen, want)
		}
		// A failing hook undoes the change.
		refuse = true
		if _, err := f.s.ChangeRole(ctx, f.admin, f.org.ID, f.viewer.ID, access.Viewer); err == nil {
			t.Error("a failing hook did not fail the change")
		}
		if f.roles(f.org.ID)[f.viewer.Email] != "editor" {
			t.Error("a failing hook did not undo the change")
		}
	})
}

// TestConcurrentMemberChanges runs changes that could break the
// invariants at the same moment, many times, on both databases.
func TestConcurrentMemberChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		other := newUser(t, db, "admin2@example.com", false)

		for round := range 10 {
			// Two admins demote each other: one wins, the other is no longer an admin when its turn comes.
			for _, u := range []*store.User{f.admin, other} {
				if err := db.InTx(ctx, func(q *store.Queries) error {
					q.DeleteMembership(ctx, f.org.ID, u.ID)
					return q.AddMembership(ctx, f.org.ID, u.ID, "admin")
				}); err != nil {
					t.Fatal(err)
				}
			}
			errs := parallel(
				func() error { _, err := f.s.ChangeRole(ctx, f.admin, f.org.ID, other.ID, access.Viewer); return err },
				func() error { _, err := f.s.ChangeRole(ctx, other, f.org.ID, f.admin.ID, access.Viewer); return err },
			)
			roles := f.roles(f.org.ID)
			admins := 0
			for _, email := range []string{f.admin.Email, other.Email} {
				if roles[email] == "admin" {
					admins++
				}
			}
			if ok := countNil(errs); ok != 1 || admins != 1 {
				t.Fatalf("round %d: %d demotions succeeded (%v), %d admins left; want exactly one of each", round, ok, errs, admins)
			}
		}

		// An acceptance and a new offer at once: one wins, and the
		// organization has one owner.
		owner := f.owner
		for round := range 10 {
			a, b := f.admin, f.editor
			if _, err := f.s.OfferOwnership(ctx, owner, f.org.ID, a.ID); err != nil {
				t.Fatal(err)
			}
			errs := parallel(
				func() error { _, err := f.s.AcceptOwnership(ctx, a, f.org.ID); return err },
				func() error { _, err := f.s.OfferOwnership(ctx, owner, f.org.ID, b.ID); return err },
			)
			if countNil(errs) != 1 {
				t.Fatalf("round %d: acceptance and offer %v, want exactly one to succeed", round, errs)
			}
			owners := 0
			for email, role := range f.roles(f.org.ID) {
				if role == "owner" {
					owners++
					if email == a.Email {
						owner = a
					}
				}
			}
			if owners != 1 {
				t.Fatalf("round %d: %d owners", round, owners)
			}
			// Hand it back for the next round.
			if owner != f.owner {
				f.transferTo(owner, f.owner)
				owner = f.owner
			} else if err := f.s.EndOwnershipOffer(ctx, owner, f.org.ID); err != nil {
				t.Fatal(err)
			}
			for _, u := range []*store.User{f.admin, f.editor} {
				if _, err := f.s.ChangeRole(ctx, f.owner, f.org.ID, u.ID, access.Admin); err != nil {
					t.Fatal(err)
				}
			}
		}

		// The same invitation accepted twice at once: one account, one membership.
		if _, err := f.s.AddMember(ctx, f.owner, f.org.ID, "race@example.com", access.Viewer); err != nil {
			t.Fatal(err)
		}
		token := f.invitationToken("race@example.com")
		account := orgs.NewAccount{Name: "Racer", Password: "a long passphrase", PasswordConfirm: "a long passphrase"}
		errs := parallel(
			func() error { _, _, err := f.s.AcceptWithNewAccount(ctx, token, account); return err },
			func() error { _, _, err := f.s.AcceptWithNewAccount(ctx, token, account); return err },
		)
		if countNil(errs) != 1 {
			t.Errorf("accepting one invitation twice at once: %v, want exactly one success", errs)
		}
		if f.roles(f.org.ID)["race@example.com"] != "viewer" {
			t.Error("the racing acceptance left no membership")
		}
	})
}

func parallel(fns ...func() error) []error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, fn := range fns {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func countNil(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}

func TestAdoptOwnerless(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		// My Organization, from the first migration, has no owner; the
		// platform admin is already an admin there.
		addMember(t, db, 1, f.platformAdmin, access.Admin)
		if _, err := f.s.AdoptOwnerless(ctx, f.owner); !errors.Is(err, orgs.ErrForbidden) {
			t.Errorf("a staff user adopts: %v", err)
		}
		names, err := f.s.AdoptOwnerless(ctx, f.platformAdmin)
		if err != nil || fmt.Sprint(names) != "[My Organization]" {
			t.Fatalf("adopt: %v, %v", names, err)
		}
		if role := f.roles(1)[f.platformAdmin.Email]; role != "owner" {
			t.Errorf("the platform admin's role = %q, want owner", role)
		}
		if f.roles(f.org.ID)[f.owner.Email] != "owner" || f.roles(f.org.ID)[f.platformAdmin.Email] != "" {
			t.Error("an organization with an owner changed hands")
		}
		if names, err := f.s.AdoptOwnerless(ctx, f.platformAdmin); err != nil || len(names) != 0 {
			t.Errorf("adopting again: %v, %v", names, err)
		}
	})
}

// TestStaffEmailLimits: an organization's staff can make the platform
// email one address at most once a minute and a few times a day, whether
// by resending an invitation or by adding and removing an account; a
// refused action changes nothing.
func TestStaffEmailLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		const invitee = "target@example.com"
		added, err := f.s.AddMember(ctx, f.admin, f.org.ID, invitee, access.Viewer)
		if err != nil {
			t.Fatal(err)
		}
		token := f.invitationToken(invitee)
		_, err = f.s.ResendInvitation(ctx, f.admin, f.org.ID, added.Invitation.ID)
		if p, ok := problem.As(err); !ok || p.Kind != problem.Throttled || p.Code != "recently_emailed" {
			t.Fatalf("resending at once: %v, want throttled", err)
		}
		if f.invitationToken(invitee) != token || len(f.mails(invitee, mail.KindInvitation)) != 1 {
			t.Error("a refused resend changed the link or sent an email")
		}
		// Adding and removing an account: the second "you were added" within
		// a minute is refused, and the account is not added.
		known := newUser(t, db, "known@example.com", false)
		if _, err := f.s.AddMember(ctx, f.admin, f.org.ID, known.Email, access.Viewer); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RemoveMember(ctx, f.admin, f.org.ID, known.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.AddMember(ctx, f.admin, f.org.ID, known.Email, access.Viewer); code(err) != "recently_emailed" {
			t.Errorf("adding again at once: %v, want throttled", err)
		}
		if _, ok := f.roles(f.org.ID)[known.Email]; ok {
			t.Error("the refused addition added the account")
		}

		for i := 2; i <= orgs.MailPerAddressPerDay; i++ {
			f.clock.advance(2 * time.Minute) // the emails' times are the database's, a little after the clock's
			if _, err := f.s.ResendInvitation(ctx, f.admin, f.org.ID, added.Invitation.ID); err != nil {
				t.Fatalf("resend %d a minute after the last: %v", i, err)
			}
		}
		f.clock.advance(time.Hour)
		if _, err := f.s.ResendInvitation(ctx, f.admin, f.org.ID, added.Invitation.ID); code(err) != "emailed_too_often" {
			t.Errorf("resend %d within a day: %v, want throttled", orgs.MailPerAddressPerDay+1, err)
		}
		if n := len(f.mails(invitee, mail.KindInvitation)); n != orgs.MailPerAddressPerDay {
			t.Errorf("%d invitation emails, want %d", n, orgs.MailPerAddressPerDay)
		}
		// The limit is the organization's: another one may still invite.
		other, err := f.s.Create(ctx, f.platformAdmin, orgs.Fields{Name: ptr("Other")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.AddMember(ctx, f.platformAdmin, other.ID, invitee, access.Viewer); err != nil {
			t.Errorf("another organization's invitation: %v", err)
		}
		f.clock.advance(24 * time.Hour)
		if _, err := f.s.ResendInvitation(ctx, f.admin, f.org.ID, added.Invitation.ID); err != nil {
			t.Errorf("resend a day later: %v", err)
		}

	})
}
