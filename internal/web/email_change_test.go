package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestEmailChange: a user changes their address from the profile. Nothing
// changes until the link sent to the new address is used; the old address
// hears of it; the confirming browser stays logged in and every other
// session ends; a link works once, and an address that another account
// took meanwhile is refused.
func TestEmailChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		const (
			old      = "ada@example.com"
			password = "ada password 1"
			newAddr  = "ada.lovelace@example.com"
		)
		createStaff(t, db, old, password)
		createStaff(t, db, "grace@example.com", "grace password 1")
		laptop := app.loggedIn(old, password)
		phone := app.loggedIn(old, password)

		for _, tc := range []struct {
			email, password, want string
			status                int
		}{
			{newAddr, "wrong password", "That is not your password.", 422},
			{old, password, "That is already your address.", 422},
			{"not an address", password, "Enter a valid email address.", 422},
		} {
			res := laptop.post(profilePath+"email", url.Values{"email": {tc.email}, "email_password": {tc.password}})
			if res.status != tc.status || strings.Count(res.body, tc.want) != 1 {
				t.Errorf("change to %q: %d, want %d saying %q once\n%s", tc.email, res.status, tc.status, tc.want, excerpt(res.body, 3000))
			}
		}
		if res := laptop.post(profilePath+"email", url.Values{"email": {newAddr}, "email_password": {password}}, "Origin", "http://evil.example"); res.status != http.StatusForbidden {
			t.Errorf("a cross-site change: %d, want 403", res.status)
		}
		if got := app.mails(newAddr, mail.KindEmailChangeConfirm); len(got) != 0 {
			t.Fatalf("refused changes sent %d links", len(got))
		}

		res := laptop.post(profilePath+"email", url.Values{"email": {" Ada.Lovelace@Example.com "}, "email_password": {password}})
		if res.status != 303 {
			t.Fatalf("ask for the change: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		if res := laptop.get(profilePath); !strings.Contains(res.body, "We sent a link to "+newAddr+".") {
			t.Error("the profile does not say where the link went")
		}
		links := app.mails(newAddr, mail.KindEmailChangeConfirm)
		notices := app.mails(old, mail.KindEmailChangeRequested)
		if len(links) != 1 || len(notices) != 1 || !strings.Contains(notices[0].Text, newAddr) {
			t.Fatalf("%d links to the new address, %d notices to the old one", len(links), len(notices))
		}
		link := app.linkIn(links[0].Text, "/accounts/settings/email/")
		if u, err := db.Read().UserByEmail(ctx, old); err != nil || u.Email != old {
			t.Fatalf("the address changed before the link was used: %v", err)
		}

		// Opening the link, as a mail scanner does, changes nothing.
		stranger := app.client()
		if res := stranger.get(link); res.status != 200 || !strings.Contains(res.body, newAddr) || !strings.Contains(res.body, old) {
			t.Fatalf("the link's page: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		if res := phone.get(platformHome); res.status != 200 {
			t.Fatalf("opening the link ended a session: %d", res.status)
		}

		res = laptop.post(link, nil)
		if res.status != 303 || res.header.Get("Location") != profilePath {
			t.Fatalf("confirm from the logged-in laptop: %d %s", res.status, res.header.Get("Location"))
		}
		if res := laptop.get(profilePath); res.status != 200 || !strings.Contains(res.body, "Your address is now "+newAddr+".") {
			t.Errorf("the laptop after the change: %d", res.status)
		}
		if res := phone.get(platformHome); res.status != 303 {
			t.Errorf("the phone after the change: %d, want a redirect to login", res.status)
		}
		app.loggedIn(newAddr, password)
		if res := app.client().post("/accounts/login/", url.Values{"email": {old}, "password": {password}}); res.status == 303 {
			t.Error("the old address still logs in")
		}
		if res := stranger.post(link, nil); res.status != http.StatusGone || !strings.Contains(res.body, "already used") {
			t.Errorf("the link a second time: %d", res.status)
		}
		if res := stranger.get("/accounts/settings/email/not-a-token/"); res.status != http.StatusNotFound {
			t.Errorf("a made-up link: %d", res.status)
		}

		// An address another account has: asked for like any other, refused
		// when confirmed.
		c := app.loggedIn(newAddr, password)
		if res := c.post(profilePath+"email", url.Values{"email": {"grace@example.com"}, "email_password": {password}}); res.status != 303 {
			t.Fatalf("ask for another account's address: %d", res.status)
		}
		taken := app.linkIn(app.mails("grace@example.com", mail.KindEmailChangeConfirm)[0].Text, "/accounts/settings/email/")
		if res := app.client().post(taken, nil); res.status != http.StatusConflict || !strings.Contains(res.body, "Another account has this address") {
			t.Errorf("confirm another account's address: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		if u, err := db.Read().UserByEmail(ctx, newAddr); err != nil || u.Email != newAddr {
			t.Errorf("a refused change changed the address: %v", err)
		}

		// An attacker who knows the password asks for their own address;
		// the owner, told by the notice, changes the password: the waiting
		// change ends, and its link with it.
		if res := c.post(profilePath+"email", url.Values{"email": {"attacker@evil.example"}, "email_password": {password}}); res.status != 303 {
			t.Fatalf("ask for the attacker's address: %d", res.status)
		}
		stolen := app.linkIn(app.mails("attacker@evil.example", mail.KindEmailChangeConfirm)[0].Text, "/accounts/settings/email/")
		if res := c.post(profilePath+"password", url.Values{"old_password": {password}, "new_password": {"a new secret 42"}, "password_confirm": {"a new secret 42"}}); res.status != 303 {
			t.Fatalf("change the password: %d", res.status)
		}
		if res := app.client().post(stolen, nil); res.status != http.StatusGone {
			t.Errorf("the link of a change asked for before a password change: %d, want 410", res.status)
		}
		if u, err := db.Read().UserByEmail(ctx, newAddr); err != nil || u.Email != newAddr {
			t.Fatalf("the address changed after the password change: %v", err)
		}
		c = app.loggedIn(newAddr, "a new secret 42")
		const password2 = "a new secret 42"

		// Each request sends two emails, one to an address of the user's
		// choosing: a few an hour.
		for i := 0; ; i++ {
			res := c.post(profilePath+"email", url.Values{"email": {"flood@example.com"}, "email_password": {password2}})
			if res.status == http.StatusTooManyRequests {
				if i != 0 {
					t.Errorf("refused after %d more requests in the hour, want 0 (3 in all)", i)
				}
				break
			}
			if res.status != 303 || i > 5 {
				t.Fatalf("request %d: %d", i, res.status)
			}
		}
	})
}

// TestEmailChangeLinksPerAddress: however many accounts ask for one
// address, its mailbox gets a few links a day; the others are answered the
// same and send nothing there.
func TestEmailChangeLinksPerAddress(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	for i := range 5 {
		email := "user" + strconv.Itoa(i) + "@example.com"
		createStaff(t, app.db, email, "user password 1")
		c := app.loggedIn(email, "user password 1")
		if res := c.post(profilePath+"email", url.Values{"email": {"target@example.com"}, "email_password": {"user password 1"}}); res.status != 303 {
			t.Fatalf("request %d: %d", i, res.status)
		}
		if got := app.mails(email, mail.KindEmailChangeRequested); len(got) != 1 {
			t.Errorf("user %d got %d notices, want 1", i, len(got))
		}
	}
	if got := app.mails("target@example.com", mail.KindEmailChangeConfirm); len(got) != 3 {
		t.Errorf("the target mailbox got %d links, want 3", len(got))
	}
}
