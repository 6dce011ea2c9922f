package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

const phoneAgent = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"

// TestProfile: a user sets their name, changes their password and ends
// their other sessions on the profile page; nobody else is touched.
func TestProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		orgID, _ := storetest.NewOrganization(t, db, "Acme Academy")
		admin, err := db.Read().UserByEmail(ctx, adminEmail)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(q *store.Queries) error { return q.AddMembership(ctx, orgID, admin.ID, "admin") }); err != nil {
			t.Fatal(err)
		}
		createStaff(t, db, "staff@example.com", "staff password 1")

		laptop := app.loggedIn(adminEmail, adminPassword)
		phone := app.client()
		if res := phone.post("/accounts/login/", url.Values{"email": {adminEmail}, "password": {adminPassword}}, "User-Agent", phoneAgent); res.status != 303 {
			t.Fatalf("login from the phone: %d", res.status)
		}
		staff := app.loggedIn("staff@example.com", "staff password 1")

		res := laptop.get("/email-learning/platform/")
		if !strings.Contains(res.body, `href="/accounts/settings/"`) {
			t.Error("the header has no link to the profile page")
		}
		res = laptop.get(profilePath)
		if res.status != 200 || strings.Count(res.body, "(this session)") != 1 || !strings.Contains(res.body, "Firefox on Android") ||
			!strings.Contains(res.body, "Go program") || !strings.Contains(res.body, `action="/accounts/settings/sessions/end-others"`) {
			t.Fatalf("profile page: %d; want both sessions, this one marked\n%s", res.status, res.body)
		}

		// A bad name is refused, once, beside the field, with what was typed.
		for typed, message := range map[string]string{
			"Ada\u200bLovelace":      "The name may not contain invisible or text-direction characters.",
			"  ":                     "Enter your name.",
			strings.Repeat("a", 201): "The name is too long: use at most 200 characters.",
		} {
			res := laptop.post(profilePath+"name", url.Values{"name": {typed}})
			if res.status != http.StatusUnprocessableEntity || strings.Count(res.body, message) != 1 || !strings.Contains(res.body, `aria-invalid="true"`) {
				t.Errorf("name %q: %d, want 422 saying %q once\n%s", typed, res.status, message, excerpt(res.body, 2000))
			}
			if typed != "  " && !strings.Contains(res.body, `value="`+typed+`"`) {
				t.Errorf("name %q: the form lost what was typed", typed)
			}
		}
		res = laptop.post(profilePath+"name", url.Values{"name": {"  Ada   Lovelace "}})
		if res.status != 303 || res.header.Get("Location") != profilePath {
			t.Fatalf("set name: %d %s", res.status, res.header.Get("Location"))
		}
		if res := laptop.get(profilePath); !strings.Contains(res.body, "Your name was changed.") || !strings.Contains(res.body, `value="Ada Lovelace"`) {
			t.Errorf("profile after the change:\n%s", res.body)
		}
		if res := laptop.get("/email-learning/platform/"); !strings.Contains(res.body, "Welcome, Ada Lovelace") {
			t.Error("the platform home does not greet the new name")
		}
		if res := staff.get(organizationsPath + itoa(orgID) + "/"); res.status != 404 {
			t.Fatalf("a non-member sees the organization: %d", res.status)
		}
		if res := laptop.get(organizationsPath + itoa(orgID) + "/"); !strings.Contains(res.body, "<td>Ada Lovelace</td>") {
			t.Error("the members list does not show the new name")
		}

		// A forged cross-site post ends nothing.
		if res := laptop.post(profilePath+"sessions/end-others", nil, "Origin", "http://evil.example"); res.status != http.StatusForbidden {
			t.Errorf("cross-site log out everywhere else: %d, want 403", res.status)
		}
		if res := phone.get("/email-learning/platform/"); res.status != 200 {
			t.Fatalf("the phone after a refused request: %d", res.status)
		}

		before := sessionCookie(laptop).Value
		res = laptop.post(profilePath+"sessions/end-others", nil)
		if res.status != 303 || res.header.Get("Location") != profilePath {
			t.Fatalf("log out everywhere else: %d", res.status)
		}
		if after := sessionCookie(laptop); after == nil || after.Value == before {
			t.Error("the session that stays did not get a new id")
		}
		res = laptop.get(profilePath)
		if res.status != 200 || !strings.Contains(res.body, "You were logged out everywhere else.") || strings.Contains(res.body, "Firefox on Android") {
			t.Errorf("profile after logging out everywhere else: %d\n%s", res.status, res.body)
		}
		if res := phone.get("/email-learning/platform/"); res.status != 303 {
			t.Errorf("the other session: %d, want a redirect to login", res.status)
		}
		if res := staff.get("/email-learning/platform/"); res.status != 200 {
			t.Errorf("another user's session: %d, want it untouched", res.status)
		}

		// The password form on the profile page: errors beside their
		// fields, and a change that ends the other sessions.
		phone = app.loggedIn(adminEmail, adminPassword)
		res = laptop.post(profilePath+"password", url.Values{"old_password": {adminPassword}, "new_password": {"brand new secret"}, "password_confirm": {"other secret"}})
		if res.status != 422 || strings.Count(res.body, "The two passwords do not match.") != 1 {
			t.Errorf("mismatched passwords: %d\n%s", res.status, excerpt(res.body, 2000))
		}
		res = laptop.post(profilePath+"password", url.Values{"old_password": {adminPassword}, "new_password": {"brand new secret"}, "password_confirm": {"brand new secret"}})
		if res.status != 303 || res.header.Get("Location") != platformHome {
			t.Fatalf("password change: %d %s", res.status, res.header.Get("Location"))
		}
		if res := laptop.get(platformHome); res.status != 200 || !strings.Contains(res.body, "Your password was changed.") {
			t.Errorf("after the change: %d", res.status)
		}
		if res := phone.get("/email-learning/platform/"); res.status != 303 {
			t.Errorf("another session after the password change: %d, want a redirect to login", res.status)
		}
		app.loggedIn(adminEmail, "brand new secret")
	})
}

// TestEndOneSession: a user logs one other session out from the profile
// page; that session is refused from then on, even when a request of it
// that was under way writes it afterwards, and nobody can end a session
// that is not theirs.
func TestEndOneSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		createStaff(t, db, "staff@example.com", "staff password 1")
		laptop := app.loggedIn(adminEmail, adminPassword)
		phone := app.client()
		if res := phone.post("/accounts/login/", url.Values{"email": {adminEmail}, "password": {adminPassword}}, "User-Agent", phoneAgent); res.status != 303 {
			t.Fatalf("login from the phone: %d", res.status)
		}
		staff := app.loggedIn("staff@example.com", "staff password 1")

		res := laptop.get(profilePath)
		forms := regexp.MustCompile(`action="/accounts/settings/sessions/([^/"]+)/end"`).FindAllStringSubmatch(res.body, -1)
		if len(forms) != 1 || !strings.Contains(res.body, "<td>127.0.0.1</td>") {
			t.Fatalf("the profile lists %d sessions to log out (want the phone's alone) or no address:\n%s", len(forms), res.body)
		}
		end := profilePath + "sessions/" + forms[0][1] + "/end"
		phoneToken := sessionCookie(phone).Value
		if strings.Contains(res.body, phoneToken) {
			t.Fatal("the page shows the phone session's key")
		}

		if res := staff.post(end, nil); res.status != 303 {
			t.Errorf("another user ends the phone's session: %d", res.status)
		}
		if res := staff.get(profilePath); !strings.Contains(res.body, "That session has already ended.") {
			t.Error("ending a session that is not yours does not say it found none")
		}
		if res := laptop.post(end, nil, "Origin", "http://evil.example"); res.status != http.StatusForbidden {
			t.Errorf("a cross-site post: %d, want 403", res.status)
		}
		if res := phone.get(platformHome); res.status != 200 {
			t.Fatalf("the phone after refused attempts: %d, want still logged in", res.status)
		}

		if res := laptop.post(end, nil); res.status != 303 || res.header.Get("Location") != profilePath+"#sessions" {
			t.Fatalf("log the phone out: %d %s", res.status, res.header.Get("Location"))
		}
		if res := phone.get(platformHome); res.status != 303 {
			t.Errorf("the phone after being logged out: %d, want a redirect to login", res.status)
		}
		// A request of the phone that began before the end writes its
		// session when it finishes: it stays ended.
		admin, err := db.Read().UserByEmail(ctx, adminEmail)
		if err != nil {
			t.Fatal(err)
		}
		late := store.WithSessionOwner(ctx, store.SessionOwner{UserID: admin.ID, Epoch: admin.SessionEpoch})
		if err := db.Sessions().CommitCtx(late, phoneToken, []byte("late"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, found, err := db.Sessions().FindCtx(ctx, phoneToken); found || err != nil {
			t.Errorf("a late write brought the ended session back (%v)", err)
		}
		res = laptop.get(profilePath)
		if res.status != 200 || !strings.Contains(res.body, "That session was logged out.") || strings.Contains(res.body, "Firefox on Android") {
			t.Errorf("the profile after the phone was logged out: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		if res := laptop.post(end, nil); res.status != 303 {
			t.Errorf("ending it again: %d", res.status)
		}
		if res := staff.get(platformHome); res.status != 200 {
			t.Errorf("another user's session: %d, want it untouched", res.status)
		}
	})
}

// TestProfileOrganizations: the profile lists the user's organizations
// with their role, and offers Leave where they may leave; an owner is sent
// to the transfer instead.
func TestProfileOrganizations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		acme, _ := storetest.NewOrganization(t, db, "Acme Academy")
		globex, _ := storetest.NewOrganization(t, db, "Globex")
		createStaff(t, db, "staff@example.com", "staff password 1")
		staff, err := db.Read().UserByEmail(ctx, "staff@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(q *store.Queries) error {
			if err := q.AddMembership(ctx, acme, staff.ID, "editor"); err != nil {
				return err
			}
			return q.AddMembership(ctx, globex, staff.ID, "owner")
		}); err != nil {
			t.Fatal(err)
		}
		c := app.loggedIn("staff@example.com", "staff password 1")
		res := c.get(profilePath)
		leave := fmt.Sprintf(`href="/email-learning/platform/organizations/%d/members/%d/remove"`, acme, staff.ID)
		transfer := fmt.Sprintf(`href="/email-learning/platform/organizations/%d/transfer"`, globex)
		if res.status != 200 || !strings.Contains(res.body, leave) || !strings.Contains(res.body, transfer) ||
			strings.Contains(res.body, fmt.Sprintf("organizations/%d/members/%d/remove", globex, staff.ID)) ||
			!strings.Contains(res.body, "<td>editor</td>") || !strings.Contains(res.body, "<td>owner</td>") {
			t.Fatalf("profile organizations: %d\n%s", res.status, excerpt(res.body, 4000))
		}
		if res := c.get(strings.TrimSuffix(strings.TrimPrefix(leave, `href="`), `"`)); res.status != 200 {
			t.Fatalf("the Leave link: %d", res.status)
		}
		if res := c.post(fmt.Sprintf("%s%d/members/%d/remove", organizationsPath, acme, staff.ID), nil); res.status != 303 {
			t.Fatalf("leave: %d", res.status)
		}
		if res := c.get(profilePath); strings.Contains(res.body, "Acme Academy") || !strings.Contains(res.body, "Globex") {
			t.Errorf("after leaving, the profile still lists it or lost the other:\n%s", excerpt(res.body, 4000))
		}
	})
}

// TestDeleteAccount: a user deletes their own account after typing their
// password; an owner is told what to hand over first, and the only
// platform admin cannot leave the platform without one.
func TestDeleteAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		acme, _ := storetest.NewOrganization(t, db, "Acme Academy")
		globex, _ := storetest.NewOrganization(t, db, "Globex")
		createStaff(t, db, "editor@example.com", "editor password 1")
		createStaff(t, db, "owner@example.com", "owner password 1")
		editor, _ := db.Read().UserByEmail(ctx, "editor@example.com")
		owner, _ := db.Read().UserByEmail(ctx, "owner@example.com")
		if err := db.InTx(ctx, func(q *store.Queries) error {
			return errors.Join(q.AddMembership(ctx, acme, editor.ID, "editor"), q.AddMembership(ctx, acme, owner.ID, "owner"),
				q.AddMembership(ctx, globex, owner.ID, "owner"))
		}); err != nil {
			t.Fatal(err)
		}

		ownerClient := app.loggedIn("owner@example.com", "owner password 1")
		res := ownerClient.get(profilePath + "delete")
		if res.status != 200 || !strings.Contains(res.body, "Transfer the ownership of Globex") || strings.Contains(res.body, `action="/accounts/settings/delete"`) {
			t.Errorf("the delete page of an owner: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		res = ownerClient.post(profilePath+"delete", url.Values{"password": {"owner password 1"}})
		if res.status != http.StatusConflict || !strings.Contains(res.body, "You own Acme Academy, Globex.") {
			t.Errorf("an owner deletes their account: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		admin := app.loggedIn(adminEmail, adminPassword)
		res = admin.post(profilePath+"delete", url.Values{"password": {adminPassword}})
		if res.status != http.StatusConflict || !strings.Contains(res.body, "You are the only platform admin.") {
			t.Errorf("the only platform admin deletes their account: %d\n%s", res.status, excerpt(res.body, 3000))
		}

		c := app.loggedIn("editor@example.com", "editor password 1")
		other := app.loggedIn("editor@example.com", "editor password 1")
		res = c.get(profilePath + "delete")
		if res.status != 200 || !strings.Contains(res.body, "You leave <strong>Acme Academy</strong>") {
			t.Errorf("the delete page: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		res = c.post(profilePath+"delete", url.Values{"password": {"wrong password"}})
		if res.status != http.StatusUnprocessableEntity || strings.Count(res.body, "That is not your password.") != 1 {
			t.Errorf("a wrong password: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		if res := c.post(profilePath+"delete", url.Values{"password": {"editor password 1"}}, "Origin", "http://evil.example"); res.status != http.StatusForbidden {
			t.Errorf("a cross-site post: %d, want 403", res.status)
		}
		for _, who := range []string{"editor@example.com", "owner@example.com", adminEmail} {
			if _, err := db.Read().UserByEmail(ctx, who); err != nil {
				t.Fatalf("a refused deletion removed %s: %v", who, err)
			}
		}

		res = c.post(profilePath+"delete", url.Values{"password": {"editor password 1"}})
		if res.status != 303 || res.header.Get("Location") != "/accounts/login/" {
			t.Fatalf("delete the account: %d %s", res.status, res.header.Get("Location"))
		}
		if res := c.get("/accounts/login/"); !strings.Contains(res.body, "Your account was deleted.") {
			t.Error("the login page does not say the account was deleted")
		}
		if _, err := db.Read().UserByEmail(ctx, "editor@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the user is still there: %v", err)
		}
		if res := other.get(platformHome); res.status != 303 {
			t.Errorf("another session of the deleted account: %d, want a redirect to login", res.status)
		}
		if res := app.client().post("/accounts/login/", url.Values{"email": {"editor@example.com"}, "password": {"editor password 1"}}); res.status == 303 {
			t.Error("the deleted account can log in")
		}
		audit, err := db.Read().AuditLog(ctx, acme, 0, 10)
		if err != nil || len(audit) == 0 || audit[0].Action != string(orgs.AccountDeleted) || audit[0].ActorEmail != "editor@example.com" {
			t.Errorf("the audit log of the organization left: %+v %v", audit, err)
		}
		if res := ownerClient.get(organizationPath(acme)); res.status != 200 || strings.Contains(res.body, "editor@example.com</td>") {
			t.Errorf("the members list after the deletion: %d", res.status)
		}
	})
}

func TestBrowserSummary(t *testing.T) {
	for ua, want := range map[string]string{
		"": "",
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0":                                                        "Firefox on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0": "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":         "Safari on macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148":     "Chrome on iOS",
		"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36":                  "Chrome on Android",
		"curl/8.5.0": "curl",
		"something":  "Unknown browser",
	} {
		if got := browserSummary(ua); got != want {
			t.Errorf("browserSummary(%q) = %q, want %q", ua, got, want)
		}
	}
}
