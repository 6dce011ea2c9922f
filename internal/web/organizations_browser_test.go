package web

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/browsertest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserOrganizationLifecycle drives a real Chromium through the whole
// Organizations section as a platform admin: the list, adding an
// organization with a logo, editing it, its public page (by id and by
// slug), deleting it, and the public page gone. Each page is saved as a
// screenshot.
func TestBrowserOrganizationLifecycle(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	ctx := browsertest.New(t)
	logoFile := writeLifecycleLogo(t)
	const description = "Short courses, one email a day.\nNo app, no password, just your inbox."

	// do runs actions that must succeed.
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// follow runs actions that load a page (a click on a link or a submit
	// button), waits until the page has loaded, and checks its status.
	follow := func(what string, wantStatus int, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		res, err := chromedp.RunResponse(ctx, actions...)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res.Status != int64(wantStatus) {
			t.Errorf("%s: status %d, want %d", what, res.Status, wantStatus)
		}
	}
	// eval evaluates a JavaScript expression that must not fail.
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	// text is the visible text (innerText) of the first element matching
	// a CSS selector, or "" when there is none.
	text := func(sel string) string {
		t.Helper()
		return eval(fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ""`, sel))
	}
	location := func() string {
		t.Helper()
		return eval(`document.location.pathname`)
	}
	// checkImage checks that the first element matching sel is an image
	// whose source contains wantSrc and that the browser could load it.
	checkImage := func(what, sel, wantSrc string) (src string) {
		t.Helper()
		src = eval(fmt.Sprintf(`document.querySelector(%q)?.getAttribute("src") ?? ""`, sel))
		if !strings.Contains(src, wantSrc) {
			t.Errorf("%s: image %s has src %q, want it to contain %q", what, sel, src, wantSrc)
			return src
		}
		// The load event waits for images, so this normally holds at once;
		// the poll only guards against a slow decode.
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](
			fmt.Sprintf(`(i => !!i && i.complete && i.naturalWidth > 0)(document.querySelector(%q))`, sel),
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			t.Errorf("%s: image %s (%s) did not load: %v", what, sel, src, err)
		}
		return src
	}
	// linkBy finds a link by its text, visible or visually hidden.
	linkBy := func(label string) chromedp.Search {
		return chromedp.Search(fmt.Sprintf(`//a[normalize-space(.)=%q]`, label))
	}
	submit := chromedp.Click(chromedp.CSS(`main form button[type=submit]`))

	// 1. Log in; the platform brings the admin back to the list.
	do("open the organizations",
		chromedp.Navigate(app.srv.URL+organizationsPath),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
	)
	follow("log in", http.StatusOK, submit)
	browsertest.Screenshot(t, ctx, "1-list")
	if got := location(); got != organizationsPath {
		t.Fatalf("after login the browser is at %q, want %q", got, organizationsPath)
	}
	if got := text("main h1"); got != "Organizations" {
		t.Errorf("list heading = %q", got)
	}
	if got := text("table.organizations tbody"); !strings.Contains(got, "My Organization") {
		t.Errorf("the list does not show My Organization:\n%s", got)
	}

	// 2. Add an organization with a description and a logo.
	follow("open the add form", http.StatusOK, chromedp.Click(linkBy("Add Organization")))
	do("fill the add form",
		chromedp.WaitVisible(chromedp.ID("logo")),
		chromedp.SendKeys(chromedp.ID("name"), "Acme Academy"),
		chromedp.SendKeys(chromedp.ID("description"), description),
		chromedp.SetUploadFiles(chromedp.ID("logo"), []string{logoFile}),
	)
	if got := eval(`document.getElementById("logo").files[0]?.name ?? ""`); got != filepath.Base(logoFile) {
		t.Errorf("the file input holds %q, want %q", got, filepath.Base(logoFile))
	}
	browsertest.Screenshot(t, ctx, "2-add-form")
	follow("add the organization", http.StatusOK, submit)
	browsertest.Screenshot(t, ctx, "3-detail")
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(organizationsPath) + `(\d+)/$`).FindStringSubmatch(location())
	if m == nil {
		t.Fatalf("after adding, the browser is at %q, want the organization's page", location())
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	if got := text("p.flash"); got != `Organization "Acme Academy" was added.` {
		t.Errorf("flash after adding = %q", got)
	}
	if got := text("main h1"); got != "Acme Academy" {
		t.Errorf("organization heading = %q", got)
	}
	if got := text("main .description"); got != description {
		t.Errorf("organization description = %q, want %q", got, description)
	}
	logoSrc := fmt.Sprintf("/email-learning/public/organization/%d/logo?v=", id)
	addedLogo := checkImage("organization page", "main h1 img", logoSrc)

	// 3. Rename it and leave the logo alone.
	follow("open the edit form", http.StatusOK, chromedp.Click(linkBy("Edit")))
	do("wait for the edit form", chromedp.WaitVisible(chromedp.ID("slug")))
	checkImage("edit form", "main img.logo-preview", logoSrc)
	if got := eval(`document.getElementById("slug").value`); got != "acme-academy" {
		t.Errorf("slug = %q, want acme-academy", got)
	}
	do("rename",
		chromedp.Clear(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Acme University"),
	)
	follow("save the new name", http.StatusOK, submit)
	browsertest.Screenshot(t, ctx, "4-edited")
	if got, want := location(), organizationPath(id); got != want {
		t.Errorf("after saving, the browser is at %q, want %q", got, want)
	}
	if got := text("p.flash"); got != "Your changes were saved." {
		t.Errorf("flash after saving = %q", got)
	}
	if got := text("main h1"); got != "Acme University" {
		t.Errorf("heading after renaming = %q", got)
	}
	if got := checkImage("organization page after renaming", "main h1 img", logoSrc); got != addedLogo {
		t.Errorf("the logo changed with the name: %q, was %q", got, addedLogo)
	}

	// 4. The globe link of its row opens the public page.
	publicPath := fmt.Sprintf("/email-learning/public/organization/%d/", id)
	follow("open the list", http.StatusOK, chromedp.Navigate(app.srv.URL+organizationsPath))
	follow("follow the public page link", http.StatusOK, chromedp.Click(linkBy("Public page of Acme University")))
	browsertest.Screenshot(t, ctx, "5-public")
	if got := location(); got != publicPath {
		t.Errorf("the globe link led to %q, want %q", got, publicPath)
	}
	checkPublicPage := func(what string) {
		t.Helper()
		if got := text(".public-header h1"); got != "Acme University" {
			t.Errorf("%s: heading = %q", what, got)
		}
		if got := text(".public-header .description"); got != description {
			t.Errorf("%s: description = %q, want %q with its line break", what, got, description)
		}
		checkImage(what, ".public-header img", logoSrc)
		if got := text("main"); !strings.Contains(got, "There are no courses open for enrollment yet.") {
			t.Errorf("%s: no empty state for the courses:\n%s", what, got)
		}
	}
	checkPublicPage("public page")
	publicText := text("main")

	// 5. The slug made at creation still leads there after the rename.
	follow("open the page by its slug", http.StatusOK, chromedp.Navigate(app.srv.URL+"/email-learning/public/@acme-academy/"))
	if got := location(); got != publicPath {
		t.Errorf("the slug led to %q, want %q", got, publicPath)
	}
	checkPublicPage("page by slug")
	if got := text("main"); got != publicText {
		t.Errorf("the page by slug differs from the public page:\n%s\n---\n%s", got, publicText)
	}

	// 6. The bin link of its row asks for the name before deleting.
	follow("open the list", http.StatusOK, chromedp.Navigate(app.srv.URL+organizationsPath))
	follow("follow the delete link", http.StatusOK, chromedp.Click(linkBy("Delete Acme University")))
	browsertest.Screenshot(t, ctx, "6-delete-confirm")
	if got := text("main h1"); got != "Delete Acme University?" {
		t.Errorf("delete page heading = %q", got)
	}
	// The admin who added it became its owner: one membership.
	removed := text("main ul")
	for _, want := range []string{"0 courses with their content", "1 membership (the user accounts stay)", "0 recorded emails", "its logo"} {
		if !strings.Contains(removed, want) {
			t.Errorf("the delete page does not list %q:\n%s", want, removed)
		}
	}
	do("type a wrong name", chromedp.SendKeys(chromedp.ID("confirm_name"), "Acme"))
	follow("delete with a wrong name", http.StatusUnprocessableEntity, chromedp.Click(chromedp.CSS(`main form button.danger`)))
	if got, want := text("#confirm_name-error"), `Type the organization's name, "Acme University", to confirm the deletion.`; got != want {
		t.Errorf("error after a wrong name = %q, want %q", got, want)
	}
	if org, err := app.db.Read().OrganizationByID(context.Background(), id); err != nil || org.Name != "Acme University" || org.LogoETag == "" {
		t.Errorf("after a wrong name the organization is %+v, %v; want it kept with its logo", org, err)
	}
	do("type the name",
		chromedp.Clear(chromedp.ID("confirm_name")),
		chromedp.SendKeys(chromedp.ID("confirm_name"), "Acme University"),
	)
	follow("delete", http.StatusOK, chromedp.Click(chromedp.CSS(`main form button.danger`)))
	browsertest.Screenshot(t, ctx, "7-deleted")
	if got := location(); got != organizationsPath {
		t.Errorf("after deleting, the browser is at %q, want the list", got)
	}
	if got, want := text("p.flash"), `Organization "Acme University" and everything it owned were deleted.`; got != want {
		t.Errorf("flash after deleting = %q, want %q", got, want)
	}
	if got := text("table.organizations tbody"); strings.Contains(got, "Acme") || !strings.Contains(got, "My Organization") {
		t.Errorf("the list after deleting shows:\n%s", got)
	}
	if _, err := app.db.Read().OrganizationByID(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after deleting, looking the organization up gives %v, want ErrNotFound", err)
	}

	// 7. Its public page is gone.
	follow("open the old public page", http.StatusNotFound, chromedp.Navigate(app.srv.URL+publicPath))
	if got := text("main h1"); got != "Page not found" {
		t.Errorf("the old public page says %q, want Page not found", got)
	}
}

// writeLifecycleLogo draws a 240x120 PNG logo with a few coloured shapes
// into a temporary directory and returns its path.
func writeLifecycleLogo(t *testing.T) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 240, 120))
	navy := color.NRGBA{0x1f, 0x3a, 0x68, 0xff}
	orange := color.NRGBA{0xf2, 0x8c, 0x28, 0xff}
	teal := color.NRGBA{0x2a, 0xa1, 0x98, 0xff}
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	for y := range 120 {
		for x := range 240 {
			c := white
			switch dx, dy := x-60, y-60; {
			case dx*dx+dy*dy <= 40*40: // a disc
				c = orange
			case x >= 120 && x < 220 && y >= 25 && y < 55: // a bar
				c = navy
			case y >= 65 && y < 95 && x >= 120 && x-120 <= 2*(y-65)+40: // a wedge
				c = teal
			}
			img.SetNRGBA(x, y, c)
		}
	}
	path := filepath.Join(t.TempDir(), "acme-logo.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
