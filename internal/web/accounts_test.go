package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestAccountPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		badLogin := "Please enter a correct email and password."
		scenarios := []scenario{
			{name: "login page", method: "GET", path: "/accounts/login/", wantStatus: 200,
				want: []string{`<form method="post" action="/accounts/login/">`, `name="email"`, `name="password"`}},
			{name: "login", method: "POST", path: "/accounts/login/",
				form:       url.Values{"email": {"ADMIN@example.com "}, "password": {adminPassword}, "next": {"/email-learning/platform/?x=1"}},
				wantStatus: 303, wantHeader: map[string]string{"Location": "/email-learning/platform/?x=1"}},
			{name: "login refuses a redirect to another site", method: "POST", path: "/accounts/login/",
				form:       url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {"//evil.example/"}},
				wantStatus: 303, wantHeader: map[string]string{"Location": "/email-learning/platform/"}},
			{name: "wrong password", method: "POST", path: "/accounts/login/",
				form:       url.Values{"email": {adminEmail}, "password": {"wrong password"}},
				wantStatus: 401, want: []string{badLogin, `value="admin@example.com"`}, notWant: []string{"wrong password"}},
			{name: "unknown email", method: "POST", path: "/accounts/login/",
				form:       url.Values{"email": {"nobody@example.com"}, "password": {adminPassword}},
				wantStatus: 401, want: []string{badLogin}},
			{name: "HTML in the email is shown as text", method: "POST", path: "/accounts/login/",
				form:       url.Values{"email": {`"><script>alert(1)</script>`}, "password": {"x"}},
				wantStatus: 401, notWant: []string{"<script>alert(1)"}},
			{name: "platform needs a login", method: "GET", path: "/email-learning/platform/",
				wantStatus: 303, wantHeader: map[string]string{"Location": "/accounts/login/?next=%2Femail-learning%2Fplatform%2F"}},
			{name: "platform shell", method: "GET", path: "/email-learning/platform/", loggedIn: true,
				wantStatus: 200, want: []string{adminEmail, `href="/email-learning/platform/organizations/"`, `action="/accounts/logout/"`}},
			{name: "login page when logged in goes on", method: "GET", path: "/accounts/login/?next=/email-learning/platform/", loggedIn: true,
				wantStatus: 303, wantHeader: map[string]string{"Location": "/email-learning/platform/"}},
			{name: "password change needs a login", method: "GET", path: "/accounts/password_change/",
				wantStatus: 303},
			{name: "the password form moved to the profile page", method: "GET", path: "/accounts/password_change/", loggedIn: true,
				wantStatus: 301, wantHeader: map[string]string{"Location": "/accounts/settings/#password"}},
			{name: "password change form", method: "GET", path: "/accounts/settings/", loggedIn: true,
				wantStatus: 200, want: []string{`action="/accounts/settings/password"`, `name="old_password"`, `name="new_password"`, `name="password_confirm"`}},
			{name: "password change refuses a common password", method: "POST", path: "/accounts/password_change/", loggedIn: true,
				form:       url.Values{"old_password": {adminPassword}, "new_password": {"password1"}, "password_confirm": {"password1"}},
				wantStatus: 422, want: []string{"too common"}},
			{name: "password change refuses a wrong old password", method: "POST", path: "/accounts/password_change/", loggedIn: true,
				form:       url.Values{"old_password": {"nope"}, "new_password": {"brand new secret"}, "password_confirm": {"brand new secret"}},
				wantStatus: 422, want: []string{"old password was entered incorrectly"}},
			{name: "logout", method: "POST", path: "/accounts/logout/", loggedIn: true,
				wantStatus: 303, wantHeader: map[string]string{"Location": "/accounts/login/"}},
			{name: "root", method: "GET", path: "/", wantStatus: 303,
				wantHeader: map[string]string{"Location": "/email-learning/platform/"}},
			{name: "unknown page", method: "GET", path: "/no/such/page", wantStatus: 404, want: []string{"Page not found"}},
			{name: "health", method: "GET", path: "/healthz", wantStatus: 200,
				want: []string{`"status":"ok"`}},
			{name: "security headers", method: "GET", path: "/accounts/login/", wantStatus: 200,
				wantHeader: map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}},
		}
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) { sc.run(t, app) })
		}
	})
}

func TestLoginSessionLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		// The session id before login must not survive it (session fixation).
		// Logging out leaves an anonymous session with a flash message.
		c := app.loggedIn(adminEmail, adminPassword)
		c.post("/accounts/logout/", nil)
		before := sessionCookie(c)
		res := c.post("/accounts/login/", url.Values{"email": {adminEmail}, "password": {adminPassword}})
		after := sessionCookie(c)
		if before == nil || after == nil || before.Value == after.Value {
			t.Fatalf("session cookie not renewed at login: before %v, after %v", before, after)
		}
		set := setCookie(res, "mailschool_session")
		if set == nil || !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Secure {
			t.Errorf("session cookie flags: %+v", set)
		}
		if res := c.get("/email-learning/platform/"); res.status != 200 {
			t.Fatalf("platform after login: %d", res.status)
		}
		res = c.post("/accounts/logout/", nil)
		if res.status != 303 {
			t.Fatalf("logout: %d", res.status)
		}
		if res := c.get("/accounts/login/"); !strings.Contains(res.body, "You have been logged out.") {
			t.Error("no logout message")
		}
		if res := c.get("/email-learning/platform/"); res.status != 303 {
			t.Errorf("platform after logout: %d, want a redirect to login", res.status)
		}
		// An old session cookie replayed after logout is dead.
		replay := app.client()
		u, _ := url.Parse(app.srv.URL)
		replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: after.Name, Value: after.Value, Path: "/"}})
		if res := replay.get("/email-learning/platform/"); res.status != 303 {
			t.Errorf("replayed session after logout: %d, want a redirect to login", res.status)
		}
	})
}

func sessionCookie(c *client) *http.Cookie {
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "mailschool_session" {
			return ck
		}
	}
	return nil
}

func setCookie(res response, name string) *http.Cookie {
	for _, ck := range (&http.Response{Header: res.header}).Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func TestSecureCookieOnHTTPS(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), func(o *Options) { o.SecureCookies = true })
	res := app.client().post("/accounts/login/", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	if ck := setCookie(res, "mailschool_session"); ck == nil || !ck.Secure {
		t.Errorf("session cookie %+v lacks Secure although the site is served over https", ck)
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		laptop := app.loggedIn(adminEmail, adminPassword)
		phone := app.loggedIn(adminEmail, adminPassword)
		res := laptop.post("/accounts/password_change/", url.Values{
			"old_password": {adminPassword}, "new_password": {"brand new secret"}, "password_confirm": {"brand new secret"}})
		if res.status != 303 {
			t.Fatalf("password change: %d\n%s", res.status, res.body)
		}
		if res := laptop.get("/email-learning/platform/"); res.status != 200 || !strings.Contains(res.body, "Your password was changed.") {
			t.Errorf("the session that changed the password: %d", res.status)
		}
		if res := phone.get("/email-learning/platform/"); res.status != 303 {
			t.Errorf("another session after the change: %d, want a redirect to login", res.status)
		}
		if res := app.client().post("/accounts/login/", url.Values{"email": {adminEmail}, "password": {adminPassword}}); res.status != 401 {
			t.Errorf("login with the old password: %d, want 401", res.status)
		}
		app.loggedIn(adminEmail, "brand new secret")
	})
}

func TestLoginRateLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db, func(o *Options) {
			o.LoginPerIP = auth.Limit{Every: time.Hour, Burst: 10}
			o.LoginPerAccountIP = auth.Limit{Every: time.Hour, Burst: 3}
			o.LoginPerAccount = auth.Limit{Every: time.Hour, Burst: 5}
		})
		right := url.Values{"email": {adminEmail}, "password": {adminPassword}}
		wrong := url.Values{"email": {adminEmail}, "password": {"wrong password"}}
		attacker, owner := app.clientAt("127.0.0.1"), app.clientAt("127.0.0.2")
		for i := range 3 {
			if res := attacker.post("/accounts/login/", wrong); res.status != 401 {
				t.Fatalf("failure %d: status %d, want 401", i+1, res.status)
			}
		}
		// The address that failed is throttled at the account, even with
		// the right password.
		res := attacker.post("/accounts/login/", right)
		if res.status != http.StatusTooManyRequests || !strings.Contains(res.body, "Too many login attempts") {
			t.Fatalf("login after 3 failures from the same address: %d, want 429\n%s", res.status, res.body)
		}
		if res.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		// The owner, at an address that has not failed, logs in.
		if res := owner.post("/accounts/login/", right); res.status != http.StatusSeeOther {
			t.Fatalf("the owner after another address's failures: %d, want 303\n%s", res.status, res.body)
		}

		// Failures from many addresses: the account's 5 run out, and then
		// every address that failed at it is refused, even one with
		// failures of its own left; the owner still logs in.
		second := app.clientAt("127.0.0.3")
		for i := range 2 {
			if res := second.post("/accounts/login/", wrong); res.status != 401 {
				t.Fatalf("second address, failure %d: %d, want 401", i+1, res.status)
			}
		}
		if res := second.post("/accounts/login/", wrong); res.status != http.StatusTooManyRequests {
			t.Errorf("an address that failed at an account out of failures: %d, want 429", res.status)
		}
		third := app.clientAt("127.0.0.4")
		if res := third.post("/accounts/login/", wrong); res.status != 401 {
			t.Errorf("a new address: %d, want 401", res.status)
		}
		if res := third.post("/accounts/login/", wrong); res.status != http.StatusTooManyRequests {
			t.Errorf("a new address after failing at an account out of failures: %d, want 429", res.status)
		}
		if res := app.clientAt("127.0.0.2").post("/accounts/login/", right); res.status != http.StatusSeeOther {
			t.Errorf("the owner while the account is out of failures: %d, want 303", res.status)
		}

		// A burst of parallel guesses gets no more than the address's 3:
		// each attempt takes its token before the password is checked.
		burst := app.clientAt("127.0.0.5")
		guess := url.Values{"email": {"staff@example.com"}, "password": {"wrong password"}}
		statuses := make(chan int, 8)
		var wg sync.WaitGroup
		for range cap(statuses) {
			wg.Go(func() { statuses <- burst.post("/accounts/login/", guess).status })
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for status := range statuses {
			counts[status]++
		}
		if counts[401] != 3 || counts[429] != 5 {
			t.Errorf("8 parallel guesses from one address: %v, want 3 answered 401 and 5 refused", counts)
		}

		// Every attempt counts against the address, whatever the account.
		spray := app.clientAt("127.0.0.6")
		for i := range 10 {
			res := spray.post("/accounts/login/", url.Values{"email": {fmt.Sprintf("other%d@example.com", i)}, "password": {"x"}})
			if res.status != 401 {
				t.Fatalf("other account, attempt %d: %d, want 401", i+1, res.status)
			}
		}
		if res := spray.post("/accounts/login/", url.Values{"email": {"fresh@example.com"}, "password": {"x"}}); res.status != 429 {
			t.Errorf("attempt over the per-IP budget: %d, want 429", res.status)
		}
	})
}

// TestPasswordChangeLimit: wrong old passwords count per account, a burst
// of parallel guesses included; other mistakes and other accounts do not.
func TestPasswordChangeLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db, func(o *Options) {
			o.PasswordChangePerAccount = auth.Limit{Every: time.Hour, Burst: 3}
		})
		createStaff(t, db, "staff@example.com", "staff password 1")
		admin, staff := app.loggedIn(adminEmail, adminPassword), app.loggedIn("staff@example.com", "staff password 1")
		change := func(c *client, old, new, confirm string) response {
			return c.post("/accounts/password_change/", url.Values{"old_password": {old}, "new_password": {new}, "password_confirm": {confirm}})
		}
		// A mistake in the new password, with the right old one, does not
		// count.
		for range 4 {
			if res := change(admin, adminPassword, "brand new secret", "brand new secret?"); res.status != 422 {
				t.Fatalf("mismatched confirmation: %d, want 422", res.status)
			}
		}
		// 12 wrong old passwords at once: 3 are checked, 9 refused.
		statuses := make(chan int, 12)
		var wg sync.WaitGroup
		for i := range cap(statuses) {
			wg.Go(func() {
				statuses <- change(admin, fmt.Sprintf("guess %d", i), "brand new secret", "brand new secret").status
			})
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for status := range statuses {
			counts[status]++
		}
		if counts[422] != 3 || counts[http.StatusTooManyRequests] != 9 {
			t.Errorf("12 parallel wrong old passwords: %v, want 3 answered 422 and 9 refused", counts)
		}
		res := change(admin, adminPassword, "brand new secret", "brand new secret")
		if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" || !strings.Contains(res.body, "Too many attempts") {
			t.Errorf("the right old password after 3 wrong ones: %d, want 429 with Retry-After\n%s", res.status, res.body)
		}
		// Another account is not concerned.
		if res := change(staff, "staff password 1", "brand new secret", "brand new secret"); res.status != http.StatusSeeOther {
			t.Errorf("another account's password change: %d, want 303", res.status)
		}
		app.loggedIn(adminEmail, adminPassword) // the refused change changed nothing
	})
}

// TestClientNetwork: the limits count an IPv6 client by its /64, which one
// subscriber commonly holds whole, and an IPv4 one by its address.
func TestClientNetwork(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.7:4242":                 "192.0.2.7",
		"[::ffff:192.0.2.7]:4242":        "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:4242":    "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff::]:443": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":              "fe80::/64",
		"not an address":                 "not an address",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		if got := clientNetwork(r); got != want {
			t.Errorf("clientNetwork(%s) = %q, want %q", remote, got, want)
		}
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)
		for _, headers := range [][]string{
			{"Origin", "http://evil.example"},
			{"Origin", "null"},
			{"Origin", "", "Sec-Fetch-Site", "cross-site"},
		} {
			res := c.post("/accounts/password_change/", url.Values{
				"old_password": {adminPassword}, "new_password": {"stolen password 1"}, "password_confirm": {"stolen password 1"}}, headers...)
			if res.status != http.StatusForbidden || !strings.Contains(res.body, "from another site") {
				t.Errorf("password change with %v: %d, want 403\n%s", headers, res.status, res.body)
			}
			if res := c.post("/accounts/logout/", nil, headers...); res.status != http.StatusForbidden {
				t.Errorf("logout with %v: %d, want 403", headers, res.status)
			}
		}
		// Nothing changed: the session lives and the old password works.
		if res := c.get("/email-learning/platform/"); res.status != 200 {
			t.Errorf("session after refused requests: %d", res.status)
		}
		app.loggedIn(adminEmail, adminPassword)
	})
}
