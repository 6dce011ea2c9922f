package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestInvitationOverHTTP follows an invitation from the Add User form to
// the new member's first page, then tries the used, revoked and tampered
// links.
func TestInvitationOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		orgPath := organizationPath(1) // My Organization

		res := admin.post(orgPath+"members/", url.Values{"email": {" Newbie@Example.com "}, "role": {"editor"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("add user: %d\n%s", res.status, res.body)
		}
		page := admin.get(orgPath)
		if !strings.Contains(page.body, "An invitation was sent to newbie@example.com.") ||
			!strings.Contains(page.body, "<td>newbie@example.com</td>\n      <td>editor</td>") {
			t.Errorf("the organization page does not show the invitation:\n%s", page.body)
		}
		emails := app.mails("newbie@example.com", mail.KindInvitation)
		if len(emails) != 1 || emails[0].Header.Get("Subject") != "You are invited to join My Organization on mailschool" {
			t.Fatalf("invitation emails: %+v", emails)
		}
		link := app.linkIn(emails[0].Text, "/invitations/")

		// Someone else, logged in, is told the link is not theirs.
		if res := admin.get(link); res.status != http.StatusForbidden ||
			!strings.Contains(res.body, "This invitation is for newbie@example.com, but you are logged in as admin@example.com") {
			t.Errorf("the link as another user: %d\n%s", res.status, res.body)
		}
		if res := admin.post(link, nil); res.status != http.StatusForbidden {
			t.Errorf("accepting as another user: %d", res.status)
		}

		guest := app.client()
		if res := guest.get(link); res.status != http.StatusOK || !strings.Contains(res.body, "Join My Organization") ||
			!strings.Contains(res.body, `name="password_confirm"`) {
			t.Errorf("the invitation page: %d\n%s", res.status, res.body)
		}
		res = guest.post(link, url.Values{"name": {"Newbie"}, "password": {"password1"}, "password_confirm": {"password1"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "too common") || !strings.Contains(res.body, `value="Newbie"`) {
			t.Errorf("a common password: %d\n%s", res.status, res.body)
		}
		res = guest.post(link, url.Values{"name": {"Newbie"}, "password": {"a long passphrase"}, "password_confirm": {"a long passphrase"}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != orgPath {
			t.Fatalf("accepting: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		res = guest.get(orgPath)
		if res.status != http.StatusOK || !strings.Contains(res.body, `Your role: <span class="your-role">editor</span>`) ||
			strings.Contains(res.body, "Add User") || strings.Contains(res.body, "Pending invitations") {
			t.Errorf("the new editor's page: %d\n%s", res.status, res.body)
		}
		if _, me := guest.api(http.MethodGet, "/api/v1/me", nil); me["email"] != "newbie@example.com" || fmt.Sprint(me["memberships"]) != "[map[organization_id:1 organization_name:My Organization role:editor]]" {
			t.Errorf("/api/v1/me = %v", me)
		}
		// The link works once.
		if res := app.client().get(link); res.status != http.StatusGone || !strings.Contains(res.body, "already accepted") {
			t.Errorf("the used link: %d\n%s", res.status, res.body)
		}

		// Revoked and tampered links.
		admin.post(orgPath+"members/", url.Values{"email": {"later@example.com"}, "role": {"viewer"}})
		later := app.linkIn(app.mails("later@example.com", mail.KindInvitation)[0].Text, "/invitations/")
		_, list := admin.api(http.MethodGet, "/api/v1/organizations/1/invitations", nil)
		items, _ := list["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("open invitations: %v", list)
		}
		id := int64(items[0].(map[string]any)["id"].(float64))
		if res := admin.post(fmt.Sprintf("%sinvitations/%d/revoke", orgPath, id), nil); res.status != http.StatusSeeOther {
			t.Errorf("revoke: %d", res.status)
		}
		if res := app.client().get(later); res.status != http.StatusGone || !strings.Contains(res.body, "withdrawn") {
			t.Errorf("the revoked link: %d\n%s", res.status, res.body)
		}
		if res := app.client().get(strings.Replace(link, "/invitations/", "/invitations/x", 1)); res.status != http.StatusNotFound {
			t.Errorf("a tampered link: %d", res.status)
		}
	})
}

func TestExpiredInvitationPage(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), func(o *Options) { o.InvitationTTL = time.Millisecond })
	admin := app.loggedIn(adminEmail, adminPassword)
	admin.post(organizationPath(1)+"members/", url.Values{"email": {"slow@example.com"}, "role": {"viewer"}})
	link := app.linkIn(app.mails("slow@example.com", mail.KindInvitation)[0].Text, "/invitations/")
	time.Sleep(2 * time.Millisecond)
	guest := app.client()
	if res := guest.get(link); res.status != http.StatusGone || !strings.Contains(res.body, "This invitation has expired") {
		t.Errorf("the expired link: %d\n%s", res.status, res.body)
	}
	res := guest.post(link, url.Values{"name": {"Slow"}, "password": {"a long passphrase"}, "password_confirm": {"a long passphrase"}})
	if res.status != http.StatusGone {
		t.Errorf("accepting an expired invitation: %d", res.status)
	}
	if _, err := app.db.Read().UserByEmail(t.Context(), "slow@example.com"); err == nil {
		t.Error("an expired invitation created the account")
	}
	// The admin sees it expired and can resend it.
	if page := admin.get(organizationPath(1)); !strings.Contains(page.body, `<span class="status status-failed">expired</span>`) {
		t.Errorf("the organization page does not mark the invitation expired:\n%s", page.body)
	}
}

// TestMembersAPI runs the members API through its answers and refusals.
func TestMembersAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		res, org := admin.api(http.MethodPost, "/api/v1/organizations", map[string]string{"name": "Acme"})
		if res.status != http.StatusCreated {
			t.Fatalf("create: %d %s", res.status, res.body)
		}
		base := fmt.Sprintf("/api/v1/organizations/%d", int64(org["id"].(float64)))

		// An unknown address is invited (202), a known one added (201).
		res, inv := admin.api(http.MethodPost, base+"/members", map[string]string{"email": "Someone@example.com", "role": "admin"})
		if res.status != http.StatusAccepted || inv["email"] != "someone@example.com" || inv["status"] != "pending" || inv["invited_by"] != adminEmail {
			t.Errorf("invite: %d %s", res.status, res.body)
		}
		guest := app.client()
		link := app.linkIn(app.mails("someone@example.com", mail.KindInvitation)[0].Text, "/invitations/")
		guest.post(link, url.Values{"name": {"Some One"}, "password": {"a long passphrase"}, "password_confirm": {"a long passphrase"}})
		res, _ = admin.api(http.MethodPost, base+"/members", map[string]string{"email": "someone@example.com", "role": "viewer"})
		if res.status != http.StatusConflict || !strings.Contains(res.body, `"code":"already_member"`) {
			t.Errorf("adding a member again: %d %s", res.status, res.body)
		}
		_, me := guest.api(http.MethodGet, "/api/v1/me", nil)
		userID := int64(me["id"].(float64))
		memberPath := fmt.Sprintf("%s/members/%d", base, userID)

		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"bad role", "PATCH", memberPath, map[string]string{"role": "owner"}, 422, "invalid_role"},
			{"unknown field", "PATCH", memberPath, map[string]string{"rank": "admin"}, 400, "malformed_json"},
			{"bad email", "POST", base + "/members", map[string]string{"email": "nope", "role": "viewer"}, 422, "invalid_email"},
			{"demote the owner", "PATCH", fmt.Sprintf("%s/members/%d", base, 1), map[string]string{"role": "viewer"}, 403, "own_role"},
			{"missing member", "DELETE", base + "/members/999999", nil, 404, "member_not_found"},
			{"transfer to a non-member", "POST", base + "/transfer-ownership", map[string]int64{"user_id": 999999}, 422, "not_a_member"},
		} {
			res, _ := admin.api(tc.method, tc.path, tc.body)
			if res.status != tc.status || !strings.Contains(res.body, `"code":"`+tc.code+`"`) {
				t.Errorf("%s: %d %s, want %d %s", tc.name, res.status, res.body, tc.status, tc.code)
			}
		}

		// The new admin may not change their own role, nor the owner's.
		if res, _ := guest.api(http.MethodPatch, memberPath, map[string]string{"role": "viewer"}); res.status != http.StatusForbidden {
			t.Errorf("self-demotion: %d %s", res.status, res.body)
		}
		if res, _ := guest.api(http.MethodPatch, base+"/members/1", map[string]string{"role": "viewer"}); res.status != http.StatusConflict ||
			!strings.Contains(res.body, `"code":"owner_fixed"`) {
			t.Errorf("an admin demoting the owner: %d %s", res.status, res.body)
		}
		// Ownership moves by an offer that the new owner accepts; the old
		// owner becomes an admin.
		res, offer := admin.api(http.MethodPost, base+"/transfer-ownership", map[string]int64{"user_id": userID})
		if res.status != http.StatusAccepted || offer["email"] != "someone@example.com" || offer["offered_by"] != adminEmail {
			t.Errorf("offer: %d %s", res.status, res.body)
		}
		if res, seen := guest.api(http.MethodGet, base+"/transfer-ownership", nil); res.status != http.StatusOK || seen["email"] != "someone@example.com" {
			t.Errorf("the offer as its member sees it: %d %s", res.status, res.body)
		}
		if res, _ := admin.api(http.MethodPost, base+"/transfer-ownership/accept", nil); res.status != http.StatusNotFound {
			t.Errorf("the offerer accepting: %d %s", res.status, res.body)
		}
		res, owner := guest.api(http.MethodPost, base+"/transfer-ownership/accept", nil)
		if res.status != http.StatusOK || owner["role"] != "owner" || owner["email"] != "someone@example.com" {
			t.Errorf("accept: %d %s", res.status, res.body)
		}
		_, list := admin.api(http.MethodGet, base+"/members", nil)
		if got := fmt.Sprint(list["items"]); !strings.Contains(got, "email:admin@example.com name: role:admin") ||
			!strings.Contains(got, "email:someone@example.com name:Some One role:owner") {
			t.Errorf("members after the transfer: %s", got)
		}
		// The new owner removes the old one.
		if res, _ := guest.api(http.MethodDelete, base+"/members/1", nil); res.status != http.StatusNoContent {
			t.Errorf("removing the old owner: %d %s", res.status, res.body)
		}
		if res, _ := admin.api(http.MethodGet, base+"/members", nil); res.status != http.StatusOK {
			t.Errorf("a platform admin reads the members of an organization they left: %d", res.status)
		}
	})
}

// TestAuditLogPage shows the changes made to an organization.
func TestAuditLogPage(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	admin := app.loggedIn(adminEmail, adminPassword)
	admin.post(organizationPath(1)+"edit", url.Values{"name": {"Renamed School"}, "slug": {"my-organization"}})
	admin.post(organizationPath(1)+"members/", url.Values{"email": {"x@example.com"}, "role": {"viewer"}})
	res := admin.get(organizationPath(1) + "audit/")
	for _, want := range []string{
		"<td>admin@example.com</td>", `<td class="action">Settings changed</td>`,
		"Name: My Organization → Renamed School", `<td class="action">Invitation sent</td>`, "Role: — → viewer",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, res.body)
		}
	}
	// People read labels, not the identifiers the API gives (which only
	// the filter's choices hold, as their values).
	for _, raw := range []string{"organization.updated", "invitation.created"} {
		if strings.Contains(strings.ReplaceAll(res.body, `value="`+raw+`"`, ""), raw) {
			t.Errorf("the audit log shows the identifier %q", raw)
		}
	}
}

// TestInvitationAcceptanceIsThrottled limits attempts per client address.
func TestInvitationAcceptanceIsThrottled(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), func(o *Options) { o.InvitationPerIP = auth.Limit{Every: time.Hour, Burst: 2} })
	guest := app.client()
	for i, want := range []int{http.StatusNotFound, http.StatusNotFound, http.StatusTooManyRequests} {
		res := guest.post("/invitations/guessed-token/", url.Values{"name": {"x"}})
		if res.status != want {
			t.Errorf("attempt %d: %d, want %d", i+1, res.status, want)
		}
		if want == http.StatusTooManyRequests && res.header.Get("Retry-After") == "" {
			t.Error("a throttled answer without Retry-After")
		}
	}
}
