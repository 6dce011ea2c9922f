package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func signupOpen(policy string) func(*Options) {
	return func(o *Options) {
		p, err := orgs.ParseSignupPolicy(policy)
		if err != nil {
			panic(err)
		}
		o.Signup = p
	}
}

func signupForm(email, org string) url.Values {
	return url.Values{"email": {email}, "name": {"Ada Lovelace"}, "password": {"analytical engine 1843"}, "organization": {org}}
}

// TestSignupClosed: by default nobody signs up, and the pages do not exist.
func TestSignupClosed(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	c := app.client()
	for _, path := range []string{"/accounts/signup/", "/accounts/signup/done/", "/accounts/signup/confirm/some-token/"} {
		if res := c.get(path); res.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.status)
		}
	}
	for _, path := range []string{"/accounts/signup/", "/accounts/signup/confirm/some-token/"} {
		if res := c.post(path, signupForm("ada@example.com", "Analytical")); res.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, res.status)
		}
	}
	if res := c.get("/accounts/login/"); strings.Contains(res.body, "/accounts/signup/") {
		t.Error("the login page offers a closed sign-up")
	}
	if got := app.mails("ada@example.com", mail.KindSignupConfirm); len(got) != 0 {
		t.Errorf("a closed sign-up sent %d emails", len(got))
	}
}

// TestSignup: a visitor signs up; nothing exists until the link is used,
// which creates the account and the organization, owned by them, and logs
// them in. The answer is the same for an address that has an account,
// which gets an email saying so instead.
func TestSignup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db, signupOpen("open"))
		storetest.NewOrganization(t, db, "Acme Academy")
		visitor := app.client()
		if res := visitor.get("/accounts/login/"); !strings.Contains(res.body, `href="/accounts/signup/"`) {
			t.Error("the login page does not offer sign-up")
		}
		if res := visitor.get("/accounts/signup/"); res.status != 200 || !strings.Contains(res.body, `name="website"`) {
			t.Fatalf("the sign-up form: %d", res.status)
		}

		for _, tc := range []struct {
			field, value, want string
		}{
			{"email", "not an address", "Enter a valid email address."},
			{"name", " ", "Enter your name."},
			{"password", "password", "This password is too common"},
			{"organization", "Acme Academy", "exists already"},
			{"organization", "", "Enter a name."},
		} {
			form := signupForm("ada@example.com", "Analytical Engines")
			form.Set(tc.field, tc.value)
			res := visitor.post("/accounts/signup/", form)
			if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, tc.want) || !strings.Contains(res.body, `aria-invalid="true"`) {
				t.Errorf("%s %q: %d, want 422 saying %q\n%s", tc.field, tc.value, res.status, tc.want, excerpt(res.body, 3000))
			}
			if strings.Contains(res.body, "analytical engine 1843") {
				t.Error("the refused form shows the password again")
			}
		}
		bot := signupForm("bot@example.com", "Spam Inc")
		bot.Set("website", "http://spam.example")
		if res := visitor.post("/accounts/signup/", bot); res.status != 303 {
			t.Errorf("a bot's sign-up: %d, want the same answer as anyone's", res.status)
		}

		res := visitor.post("/accounts/signup/", signupForm("Ada@Example.com", "Analytical Engines"))
		if res.status != 303 || res.header.Get("Location") != "/accounts/signup/done/" {
			t.Fatalf("sign up: %d %s\n%s", res.status, res.header.Get("Location"), excerpt(res.body, 3000))
		}
		existing := visitor.post("/accounts/signup/", signupForm(adminEmail, "Admin's Own"))
		if existing.status != res.status || existing.header.Get("Location") != res.header.Get("Location") {
			t.Errorf("a sign-up with an existing account's address answers %d %s, another %d %s",
				existing.status, existing.header.Get("Location"), res.status, res.header.Get("Location"))
		}
		links := app.mails("ada@example.com", mail.KindSignupConfirm)
		if len(links) != 1 || len(app.mails("bot@example.com", mail.KindSignupConfirm)) != 0 {
			t.Fatalf("%d confirmation emails to the visitor (and some to the bot?)", len(links))
		}
		if got := app.mails(adminEmail, mail.KindSignupExisting); len(got) != 1 || !strings.Contains(got[0].Text, "/accounts/password_reset/") {
			t.Errorf("the existing account got %d notices", len(got))
		}
		if got := app.mails(adminEmail, mail.KindSignupConfirm); len(got) != 0 {
			t.Error("the existing account got a sign-up link")
		}
		if _, err := db.Read().UserByEmail(ctx, "ada@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the account exists before the link was used: %v", err)
		}

		link := app.linkIn(links[0].Text, "/accounts/signup/confirm/")
		if res := app.client().get(link); res.status != 200 || !strings.Contains(res.body, "Analytical Engines") {
			t.Fatalf("the link's page: %d", res.status)
		}
		if _, err := db.Read().UserByEmail(ctx, "ada@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("opening the link created the account")
		}
		browser := app.client()
		res = browser.post(link, nil)
		m := regexp.MustCompile(`^` + regexp.QuoteMeta(organizationsPath) + `(\d+)/$`).FindStringSubmatch(res.header.Get("Location"))
		if res.status != 303 || m == nil {
			t.Fatalf("confirm: %d %s\n%s", res.status, res.header.Get("Location"), excerpt(res.body, 3000))
		}
		page := browser.get(res.header.Get("Location"))
		if page.status != 200 || !strings.Contains(page.body, "Welcome to mailschool! Analytical Engines is yours.") || !strings.Contains(page.body, "owner") ||
			!strings.Contains(page.body, "What next") || !strings.Contains(page.body, "Create a course") || !strings.Contains(page.body, "Invite colleagues") {
			t.Errorf("the new organization's page: %d\n%s", page.status, excerpt(page.body, 3000))
		}
		user, err := db.Read().UserByEmail(ctx, "ada@example.com")
		if err != nil || user.Name != "Ada Lovelace" || user.IsPlatformAdmin {
			t.Fatalf("the new user: %+v %v", user, err)
		}
		app.loggedIn("ada@example.com", "analytical engine 1843")
		if res := app.client().post(link, nil); res.status != http.StatusGone {
			t.Errorf("the link a second time: %d, want 410", res.status)
		}
		if res := app.client().get("/accounts/signup/confirm/made-up/"); res.status != http.StatusNotFound {
			t.Errorf("a made-up link: %d, want 404", res.status)
		}

		admin := app.loggedIn(adminEmail, adminPassword)
		if res := admin.get("/email-learning/platform/signups/"); res.status != 200 || !strings.Contains(res.body, "ada@example.com") || !strings.Contains(res.body, "Analytical Engines") {
			t.Errorf("the platform's sign-ups: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		if res := browser.get("/email-learning/platform/signups/"); res.status != http.StatusForbidden {
			t.Errorf("a signed-up user opens the sign-ups: %d, want 403", res.status)
		}

		// Each mailbox gets a few emails; more requests get the same
		// answer and send nothing.
		for i := 0; i < 5; i++ {
			if res := app.clientAt("127.0.1."+string(rune('1'+i))).post("/accounts/signup/", signupForm("grace+"+string(rune('a'+i))+"@example.com", "Compilers "+string(rune('A'+i)))); res.status != 303 {
				t.Fatalf("sign-up %d: %d", i, res.status)
			}
		}
		sent := 0
		for i := 0; i < 5; i++ {
			sent += len(app.mails("grace+"+string(rune('a'+i))+"@example.com", mail.KindSignupConfirm))
		}
		if sent != 3 {
			t.Errorf("5 sign-ups for one mailbox sent %d links, want 3", sent)
		}
	})
}

// TestSignupDomains: with domains:, only addresses at those domains sign up.
func TestSignupDomains(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), signupOpen("domains:uni.example.edu"))
	c := app.client()
	if res := c.post("/accounts/signup/", signupForm("ada@example.com", "Analytical")); res.status != 422 ||
		!strings.Contains(res.body, "Sign-up is open to addresses at uni.example.edu only.") {
		t.Errorf("an address elsewhere: %d\n%s", res.status, excerpt(res.body, 3000))
	}
	if res := c.post("/accounts/signup/", signupForm("ada@uni.example.edu", "Analytical")); res.status != 303 {
		t.Errorf("an address at the domain: %d", res.status)
	}
	if got := app.mails("ada@uni.example.edu", mail.KindSignupConfirm); len(got) != 1 {
		t.Errorf("%d links to the address at the domain", len(got))
	}
}

// TestCreateOwnOrganization: while sign-up is open, any user may create an
// organization of their own (not for someone else); while it is closed,
// or for an address outside its domains, only platform admins may.
func TestCreateOwnOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db, signupOpen("domains:example.com"))
		createStaff(t, db, "ada@example.com", "ada password 1")
		createStaff(t, db, "grace@elsewhere.example", "grace password 1")
		ada := app.loggedIn("ada@example.com", "ada password 1")
		grace := app.loggedIn("grace@elsewhere.example", "grace password 1")

		if res := ada.get(organizationsPath); !strings.Contains(res.body, `href="`+organizationsPath+`new"`) {
			t.Error("the organization list offers no Add to a user sign-up admits")
		}
		res := ada.get(organizationsPath + "new")
		if res.status != 200 || strings.Contains(res.body, `name="owner_email"`) {
			t.Fatalf("the form for a user: %d, owner field shown: %v", res.status, strings.Contains(res.body, `name="owner_email"`))
		}
		res = ada.post(organizationsPath, url.Values{"name": {"Ada's Academy"}, "owner_email": {"grace@elsewhere.example"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Only platform admins create organizations for someone else") {
			t.Errorf("a user names another owner: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		res = ada.post(organizationsPath, url.Values{"name": {"Ada's Academy"}})
		if res.status != 303 {
			t.Fatalf("a user creates an organization: %d\n%s", res.status, excerpt(res.body, 3000))
		}
		if page := ada.get(res.header.Get("Location")); !strings.Contains(page.body, `<span class="your-role">owner</span>`) {
			t.Errorf("the creator does not own it:\n%s", excerpt(page.body, 3000))
		}
		apiRes, created := ada.api(http.MethodPost, "/api/v1/organizations", map[string]any{"name": "Ada's Second"})
		if apiRes.status != http.StatusCreated || idOf(created) == 0 {
			t.Errorf("a user creates an organization through the API: %d %s", apiRes.status, apiRes.body)
		}

		for _, path := range []string{organizationsPath + "new"} {
			if res := grace.get(path); res.status != http.StatusForbidden {
				t.Errorf("a user outside the domains opens %s: %d", path, res.status)
			}
		}
		if res := grace.post(organizationsPath, url.Values{"name": {"Grace's"}}); res.status != http.StatusForbidden {
			t.Errorf("a user outside the domains creates one: %d", res.status)
		}
		if res, _ := grace.api(http.MethodPost, "/api/v1/organizations", map[string]any{"name": "Grace's"}); res.status != http.StatusForbidden {
			t.Errorf("a user outside the domains creates one through the API: %d", res.status)
		}
		if _, err := db.Read().OrganizationBySlug(ctx, "grace-s"); err == nil {
			t.Error("a refused creation created an organization")
		}
	})
}

// TestSignupTimingSameForExistingAccounts: the form takes as long for an
// address that has an account as for one that has none (both hash the
// password; the account is looked up later, in a job), so its timing does
// not tell who has an account either.
func TestSignupTimingSameForExistingAccounts(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), signupOpen("open"))
	for i := range 5 {
		createStaff(t, app.db, fmt.Sprintf("staff%d@example.com", i), "staff password 1")
	}
	// Each sign-up comes from an address of its own, away from the limit.
	median := func(who string, emails func(int) string) time.Duration {
		var took []time.Duration
		for i := range 5 {
			c := app.clientAt(fmt.Sprintf("127.0.2.%d", len(who)*10+i))
			start := time.Now()
			if res := c.post("/accounts/signup/", signupForm(emails(i), fmt.Sprintf("Organization of %s %d", who, i))); res.status != 303 {
				t.Fatalf("sign up %s: %d", emails(i), res.status)
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		return took[len(took)/2]
	}
	existing := median("staff", func(i int) string { return fmt.Sprintf("staff%d@example.com", i) })
	unknown := median("nobody", func(i int) string { return fmt.Sprintf("nobody%d@example.com", i) })
	slow, fast := max(existing, unknown), min(existing, unknown)
	if slow > 3*fast+20*time.Millisecond {
		t.Errorf("median answer: %v for existing accounts, %v for unknown addresses", existing, unknown)
	}
	t.Logf("median answer: %v for existing accounts, %v for unknown addresses", existing, unknown)
}

// TestSignupLimitPerClient: one client gets a burst of sign-ups, then 429
// with Retry-After, and the refused one records nothing.
func TestSignupLimitPerClient(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), signupOpen("open"))
	c := app.clientAt("127.0.3.1")
	for i := range DefaultSignupPerIP.Burst {
		if res := c.post("/accounts/signup/", signupForm(fmt.Sprintf("person%d@example.com", i), fmt.Sprintf("Organization %d", i))); res.status != 303 {
			t.Fatalf("sign-up %d: %d", i, res.status)
		}
	}
	res := c.post("/accounts/signup/", signupForm("one.more@example.com", "One More"))
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" || !strings.Contains(res.body, "Too many sign-ups") {
		t.Fatalf("a sign-up over the limit: %d %q", res.status, res.header.Get("Retry-After"))
	}
	if got := app.mails("one.more@example.com", mail.KindSignupConfirm); len(got) != 0 {
		t.Error("the refused sign-up sent a link")
	}
	if res := app.clientAt("127.0.3.2").post("/accounts/signup/", signupForm("other.client@example.com", "Other Client")); res.status != 303 {
		t.Errorf("another client after the first was limited: %d", res.status)
	}
}
