package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/browsertest"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserOrganizations drives a real Chromium through the
// Organizations section as a platform admin: add an organization with a
// logo, edit it, see it on its public page, delete it. Each page is saved
// as a screenshot.
func TestBrowserOrganizations(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	ctx := browsertest.New(t)
	logoFile := filepath.Join(t.TempDir(), "acme-logo.png")
	if err := os.WriteFile(logoFile, testPNG(240, 120), 0o644); err != nil {
		t.Fatal(err)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	// logoShown reports whether the first image matching sel has loaded.
	logoShown := func(sel string) bool {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = document.querySelector(`+"`"+sel+"`"+`); return !!i && i.complete && i.naturalWidth > 0 })()`))
		if err != nil {
			t.Fatalf("check image %s: %v", sel, err)
		}
		return ok
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	do("log in",
		chromedp.Navigate(app.srv.URL+"/email-learning/platform/organizations/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.organizations`)),
	)
	browsertest.Screenshot(t, ctx, "1-list")
	if !strings.Contains(text("table.organizations"), "My Organization") {
		t.Error("the list does not show the default organization")
	}

	do("add an organization",
		chromedp.Click(chromedp.CSS(`a.button[href$="/organizations/new"]`)),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Acme Academy"),
		chromedp.SendKeys(chromedp.ID("description"), "Short courses by email.\nOne lesson a day."),
		chromedp.SetUploadFiles(chromedp.ID("logo"), []string{logoFile}),
	)
	browsertest.Screenshot(t, ctx, "2-add-form")
	do("save it",
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	browsertest.Screenshot(t, ctx, "3-detail")
	if got := text("p.flash"); got != `Organization "Acme Academy" was added.` {
		t.Errorf("flash after adding = %q", got)
	}
	if !logoShown(`main h1 img`) {
		t.Error("the logo does not show on the organization page")
	}

	do("edit it",
		chromedp.Click(chromedp.CSS(`a.button[href$="/edit"]`)),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.Clear(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Acme University"),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	browsertest.Screenshot(t, ctx, "4-edited")
	if !strings.Contains(text("main h1"), "Acme University") || !logoShown(`main h1 img`) {
		t.Error("after editing the name, the new name or the kept logo is missing")
	}

	do("open the public page from the list",
		chromedp.Navigate(app.srv.URL+"/email-learning/platform/organizations/"),
		chromedp.WaitVisible(chromedp.CSS(`table.organizations`)),
		chromedp.Click(chromedp.Search(`//a[span[text()="Public page of Acme University"]]`)),
		chromedp.WaitVisible(chromedp.CSS(`.public-header h1`)),
	)
	browsertest.Screenshot(t, ctx, "5-public")
	if got := text(".public-header h1"); got != "Acme University" {
		t.Errorf("public page heading = %q", got)
	}
	if got := text(".public-header .description"); got != "Short courses by email.\nOne lesson a day." {
		t.Errorf("public description = %q, want its line break kept", got)
	}
	if !logoShown(`.public-header img`) || !strings.Contains(text("main"), "no courses open for enrollment") {
		t.Error("the public page lacks the logo or the empty state")
	}
	do("open it by its slug",
		chromedp.Navigate(app.srv.URL+"/email-learning/public/@acme-academy/"),
		chromedp.WaitVisible(chromedp.CSS(`.public-header h1`)),
	)
	if got := text(".public-header h1"); got != "Acme University" {
		t.Errorf("page by slug = %q", got)
	}
	publicURL, _ := chromedp.Run(ctx, chromedp.Location())

	do("open the delete page",
		chromedp.Navigate(app.srv.URL+"/email-learning/platform/organizations/"),
		chromedp.WaitVisible(chromedp.CSS(`table.organizations`)),
		chromedp.Click(chromedp.Search(`//a[span[text()="Delete Acme University"]]`)),
		chromedp.WaitVisible(chromedp.ID("confirm_name")),
	)
	browsertest.Screenshot(t, ctx, "6-delete-confirm")
	do("confirm with a wrong name",
		chromedp.SendKeys(chromedp.ID("confirm_name"), "Acme"),
		chromedp.Click(chromedp.CSS(`main form button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)),
	)
	if !strings.Contains(text("p.error"), "to confirm the deletion") {
		t.Error("no message for a wrong confirmation")
	}
	do("confirm with the name",
		chromedp.SendKeys(chromedp.ID("confirm_name"), "Acme University"),
		chromedp.Click(chromedp.CSS(`main form button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	browsertest.Screenshot(t, ctx, "7-deleted")
	if strings.Contains(text("table.organizations"), "Acme University") {
		t.Error("the deleted organization is still listed")
	}
	do("open the old public page",
		chromedp.Navigate(publicURL),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)),
	)
	if got := text("main h1"); got != "Page not found" {
		t.Errorf("the deleted organization's public page says %q", got)
	}
}
