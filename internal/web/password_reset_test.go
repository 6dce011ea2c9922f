package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

const (
	resetDone     = "/accounts/password_reset/done/"
	resetSentText = "If an account exists for that address, we sent an email with a link to set a new password. The link works once, for one hour."
	linkInvalid   = "This password reset link is not valid. Request a new one."
	linkExpired   = "This password reset link has expired or was already used. Request a new one."
)

// mailsOfKind returns the recorded emails of a kind, newest first.
func mailsOfKind(t *testing.T, db *store.DB, kind string) []store.MailMessage {
	t.Helper()
	all, err := db.Read().ListMailMessages(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var list []store.MailMessage
	for _, m := range all {
		if m.Kind == kind {
			list = append(list, m)
		}
	}
	return list
}

// waitForResetJobs waits until every password reset request has been
// worked, including those that find no account and leave no trace.
func waitForResetJobs(t *testing.T, db *store.DB) {
	t.Helper()
	storetest.Eventually(t, 10*time.Second, "the password reset jobs to run", func() bool {
		n, err := db.UnfinishedJobs(context.Background(), auth.ResetRequestArgs{}.Kind())
		return err == nil && n == 0
	})
}

// resetLinkPath reads the link out of a password_reset email, as the
// recipient would, and returns its path on the test server.
func (a *testApp) resetLinkPath(t *testing.T, m store.MailMessage) string {
	t.Helper()
	m, err := a.db.Read().MailMessageByID(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mail.Parse(m.Raw)
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(a.srv.URL) + `(/accounts/reset/[A-Za-z0-9_-]{43}/)`).FindStringSubmatch(p.Text)
	if link == nil || !strings.Contains(p.HTML, `href="`+a.srv.URL+link[1]+`"`) {
		t.Fatalf("no absolute reset link in both parts of the email:\n%s\n%s", p.Text, p.HTML)
	}
	return link[1]
}

func TestPasswordResetPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		scenarios := []scenario{
			{name: "login page links to it", method: "GET", path: "/accounts/login/", wantStatus: 200,
				want: []string{`<a href="/accounts/password_reset/">Forgot your password?</a>`}},
			{name: "request form", method: "GET", path: "/accounts/password_reset/", wantStatus: 200,
				want: []string{`<form method="post" action="/accounts/password_reset/">`, `name="email"`}},
			{name: "malformed address", method: "POST", path: "/accounts/password_reset/",
				form:       url.Values{"email": {"not an address"}},
				wantStatus: 422, want: []string{"Enter a valid email address.", `value="not an address"`}},
			{name: "no address", method: "POST", path: "/accounts/password_reset/",
				wantStatus: 422, want: []string{"Enter a valid email address."}},
			{name: "HTML in the address is shown as text", method: "POST", path: "/accounts/password_reset/",
				form:       url.Values{"email": {`"><script>alert(1)</script>`}},
				wantStatus: 422, notWant: []string{"<script>alert(1)"}},
			{name: "request", method: "POST", path: "/accounts/password_reset/",
				form:       url.Values{"email": {adminEmail}},
				wantStatus: 303, wantHeader: map[string]string{"Location": resetDone}},
			{name: "request from another site", method: "POST", path: "/accounts/password_reset/",
				form: url.Values{"email": {adminEmail}}, headers: []string{"Origin", "http://evil.example"},
				wantStatus: 403},
			{name: "done page", method: "GET", path: resetDone, wantStatus: 200, want: []string{resetSentText}},
			{name: "unknown link", method: "GET", path: "/accounts/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
				wantStatus: 404, want: []string{linkInvalid, `href="/accounts/password_reset/"`}, notWant: []string{`name="new_password"`}},
			{name: "unknown link, posted", method: "POST", path: "/accounts/reset/nonsense/",
				form:       url.Values{"new_password": {"a brand new secret"}, "password_confirm": {"a brand new secret"}},
				wantStatus: 404, want: []string{linkInvalid}},
		}
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) { sc.run(t, app) })
		}
	})
}

// TestPasswordResetDoesNotTellWhoHasAnAccount compares the answers for an
// address with an account and one without: everything the requester sees
// is the same, and only the account's owner gets an email.
func TestPasswordResetDoesNotTellWhoHasAnAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		var answers [2]response
		var pages [2]string
		for i, email := range []string{adminEmail, "nobody@example.com"} {
			c := app.client()
			answers[i] = c.post("/accounts/password_reset/", url.Values{"email": {email}})
			pages[i] = c.get(answers[i].header.Get("Location")).body
		}
		known, unknown := answers[0], answers[1]
		if known.status != http.StatusSeeOther || known.header.Get("Location") != resetDone {
			t.Fatalf("known address: %d to %q, want 303 to %s", known.status, known.header.Get("Location"), resetDone)
		}
		if unknown.status != known.status || unknown.header.Get("Location") != known.header.Get("Location") ||
			unknown.body != known.body || unknown.header.Get("Set-Cookie") != known.header.Get("Set-Cookie") {
			t.Errorf("answers differ: known %d %q %q, unknown %d %q %q", known.status, known.header.Get("Location"),
				known.body, unknown.status, unknown.header.Get("Location"), unknown.body)
		}
		if pages[0] != pages[1] || !strings.Contains(pages[0], resetSentText) {
			t.Errorf("the pages after the redirect differ or lack the message:\n%s\n---\n%s", pages[0], pages[1])
		}

		waitForResetJobs(t, db)
		list := mailsOfKind(t, db, "password_reset")
		if len(list) != 1 || list[0].Recipient != adminEmail {
			t.Errorf("password_reset emails = %+v, want exactly one, to %s", list, adminEmail)
		}
	})
}

func TestPasswordResetFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const (
			email       = "staff@example.com"
			oldPassword = "staff password 1"
			newPassword = "a brand new secret"
		)
		app := newTestApp(t, db)
		createStaff(t, db, email, oldPassword)
		laptop := app.loggedIn(email, oldPassword)

		c := app.client()
		if res := c.post("/accounts/password_reset/", url.Values{"email": {" Staff@Example.com"}}); res.status != 303 {
			t.Fatalf("request: %d\n%s", res.status, res.body)
		}
		waitForResetJobs(t, db)
		emails := mailsOfKind(t, db, "password_reset")
		if len(emails) != 1 || emails[0].Recipient != email {
			t.Fatalf("password_reset emails = %+v, want one, to %s", emails, email)
		}
		link := app.resetLinkPath(t, emails[0])

		// Fetching the link, as mail scanners do, does not use it.
		for range 2 {
			res := c.get(link)
			if res.status != 200 || !strings.Contains(res.body, `action="`+link+`"`) ||
				!strings.Contains(res.body, `name="new_password"`) || !strings.Contains(res.body, `name="password_confirm"`) {
				t.Fatalf("GET the link: %d\n%s", res.status, res.body)
			}
		}

		// A refused password leaves the link usable.
		res := c.post(link, url.Values{"new_password": {"password1"}, "password_confirm": {"password1"}})
		if res.status != 422 || !strings.Contains(res.body, "too common") || !strings.Contains(res.body, `name="new_password"`) {
			t.Errorf("common password: %d, want 422 with the form\n%s", res.status, res.body)
		}
		res = c.post(link, url.Values{"new_password": {newPassword}, "password_confirm": {newPassword + "x"}})
		if res.status != 422 || !strings.Contains(res.body, "do not match") {
			t.Errorf("mismatched confirmation: %d, want 422\n%s", res.status, res.body)
		}
		if res := c.get(link); res.status != 200 {
			t.Fatalf("the link after refused passwords: %d, want 200", res.status)
		}
		if len(mailsOfKind(t, db, "password_changed")) != 0 {
			t.Error("a refused password sent a password_changed email")
		}

		res = c.post(link, url.Values{"new_password": {newPassword}, "password_confirm": {newPassword}})
		if res.status != 303 || res.header.Get("Location") != "/accounts/login/" {
			t.Fatalf("reset: %d to %q, want 303 to /accounts/login/\n%s", res.status, res.header.Get("Location"), res.body)
		}
		if res := c.get("/accounts/login/"); res.status != 200 || !strings.Contains(res.body, "Your password was set. Log in with the new password.") {
			t.Errorf("login page after the reset: %d, no message\n%s", res.status, res.body)
		}
		if res := c.get("/email-learning/platform/"); res.status != 303 {
			t.Errorf("the reset logged the browser in: %d", res.status)
		}
		if res := laptop.get("/email-learning/platform/"); res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), "/accounts/login/") {
			t.Errorf("a session from before the reset: %d, want a redirect to login", res.status)
		}
		if res := app.client().post("/accounts/login/", url.Values{"email": {email}, "password": {oldPassword}}); res.status != 401 {
			t.Errorf("login with the old password: %d, want 401", res.status)
		}
		app.loggedIn(email, newPassword)
		if list := mailsOfKind(t, db, "password_changed"); len(list) != 1 || list[0].Recipient != email {
			t.Errorf("password_changed emails = %+v, want one, to %s", list, email)
		}

		// The link is spent.
		for _, res := range []response{
			c.get(link),
			c.post(link, url.Values{"new_password": {"yet another secret"}, "password_confirm": {"yet another secret"}}),
		} {
			if res.status != http.StatusGone || !strings.Contains(res.body, linkExpired) || !strings.Contains(res.body, `href="/accounts/password_reset/"`) {
				t.Errorf("the used link: %d, want 410\n%s", res.status, res.body)
			}
		}
		app.loggedIn(email, newPassword)

		// One character changed makes another link, one never issued.
		tampered := []byte(link)
		tampered[len("/accounts/reset/")] ^= 1
		if res := c.get(string(tampered)); res.status != 404 || !strings.Contains(res.body, linkInvalid) {
			t.Errorf("a tampered link: %d, want 404\n%s", res.status, res.body)
		}
	})
}

func TestPasswordResetLimitPerAddressIsSilent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db, func(o *Options) {
			o.ResetPerAddress = auth.Limit{Every: time.Hour, Burst: 1}
		})
		createStaff(t, db, "admin+staff@example.com", "staff password 1")
		c := app.client()
		// The second request for the mailbox, however spelled, +tags
		// included, is over its limit: answered like the first, but
		// nothing is sent.
		for _, email := range []string{adminEmail, " ADMIN@example.com", "admin+staff@example.com", "Admin+Staff@example.com", "staff@example.com"} {
			res := c.post("/accounts/password_reset/", url.Values{"email": {email}})
			if res.status != 303 || res.header.Get("Location") != resetDone {
				t.Errorf("request for %q: %d to %q, want 303 to %s", email, res.status, res.header.Get("Location"), resetDone)
			}
		}
		waitForResetJobs(t, db)
		if list := mailsOfKind(t, db, "password_reset"); len(list) != 1 || list[0].Recipient != adminEmail {
			t.Errorf("password_reset emails = %+v, want one, to %s", list, adminEmail)
		}
	})
}

func TestPasswordResetLimitPerIP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db, func(o *Options) {
			o.ResetPerIP = auth.Limit{Every: time.Hour, Burst: 3}
		})
		c := app.client()
		// Every request counts, malformed ones too.
		if res := c.post("/accounts/password_reset/", url.Values{"email": {"not an address"}}); res.status != 422 {
			t.Fatalf("malformed address: %d, want 422", res.status)
		}
		for _, email := range []string{"one@example.com", "two@example.com"} {
			if res := c.post("/accounts/password_reset/", url.Values{"email": {email}}); res.status != 303 {
				t.Fatalf("request for %s: %d, want 303", email, res.status)
			}
		}
		res := c.post("/accounts/password_reset/", url.Values{"email": {adminEmail}})
		if res.status != http.StatusTooManyRequests || !strings.Contains(res.body, "Too many requests") ||
			!strings.Contains(res.body, `name="email"`) || res.header.Get("Retry-After") == "" {
			t.Fatalf("request over the per-IP limit: %d, Retry-After %q, want 429 with the form\n%s",
				res.status, res.header.Get("Retry-After"), res.body)
		}
		waitForResetJobs(t, db)
		if list := mailsOfKind(t, db, "password_reset"); len(list) != 0 {
			t.Errorf("a throttled request sent %d emails", len(list))
		}
	})
}

// lockedBuffer is a log destination that the server's goroutines write to
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSecretLinksAreNotLogged checks that the tokens of password reset,
// invitation, enrollment confirmation and unsubscribe links stay out of
// the request log.
func TestSecretLinksAreNotLogged(t *testing.T) {
	var logs lockedBuffer
	app := newTestApp(t, storetest.NewSQLite(t), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	const secret = "s3cretTokenValue_s3cretTokenValue_s3cretTok"
	for _, prefix := range []string{"/accounts/reset/", "/invitations/",
		"/email-learning/public/enrollments/confirm/", "/email-learning/public/unsubscribe/"} {
		app.client().get(prefix + secret + "/")
		app.client().post(prefix+secret+"/", url.Values{"new_password": {"x"}}, "Origin", "http://evil.example")
		storetest.Eventually(t, 5*time.Second, "both requests to be logged", func() bool {
			return strings.Count(logs.String(), prefix+"…/") >= 3
		})
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log holds a link's token:\n%s", logs.String())
	}
}
