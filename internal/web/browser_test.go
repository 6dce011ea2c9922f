package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/browsertest"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserLoginLogout drives a real Chromium: a platform admin logs in,
// sees the platform shell, and logs out.
func TestBrowserLoginLogout(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	ctx := browsertest.New(t)

	err := chromedp.Do(ctx,
		chromedp.Navigate(app.srv.URL+"/email-learning/platform/"),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	if err != nil {
		t.Fatalf("open the platform: %v", err)
	}
	browsertest.Screenshot(t, ctx, "1-login")

	// A wrong password first: the form says so and keeps the address.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), "not my password"),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)),
	)
	if err != nil {
		t.Fatalf("wrong password: %v", err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`p.error`)))
	if err != nil || msg != "Please enter a correct email and password." {
		t.Errorf("error after a wrong password = %q, %v", msg, err)
	}

	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header .who`)),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	browsertest.Screenshot(t, ctx, "2-platform")
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(location, "/email-learning/platform/") {
		t.Errorf("after login the browser is at %q, want the page it asked for", location)
	}
	heading, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main h1`)))
	who, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`header .who`)))
	if heading != "Welcome" || who != adminEmail {
		t.Errorf("platform shell shows heading %q and user %q", heading, who)
	}

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/accounts/logout/"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	if err != nil {
		t.Fatalf("log out: %v", err)
	}
	browsertest.Screenshot(t, ctx, "3-logged-out")
	flash, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`p.flash`)))
	if flash != "You have been logged out." {
		t.Errorf("after logout the page says %q", flash)
	}

	// The platform is closed again.
	err = chromedp.Do(ctx,
		chromedp.Navigate(app.srv.URL+"/email-learning/platform/"),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	if err != nil {
		t.Errorf("the platform after logout did not ask for a login: %v", err)
	}
}
