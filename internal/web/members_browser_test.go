package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/browsertest"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserInviteAcceptRoles drives two real Chromiums, each with its own
// profile, through the life of an invited member: the platform admin adds
// an unknown address as editor, the invitation goes out over SMTP, the
// invited person opens its link in the other browser, creates an account
// and sees the organization as an editor may; the admin then makes them a
// viewer and removes them, after which their browser no longer reaches the
// organization. Each page is saved as a screenshot.
func TestBrowserInviteAcceptRoles(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	app := newTestApp(t, storetest.NewSQLite(t), sendThrough(t, sink))
	ctx := context.Background()
	const (
		orgName  = "Acme Academy"
		invitee  = "new.editor@example.com"
		name     = "Ada Lovelace"
		password = "analytical engine 1843"
	)
	admin := newBrowserTab(t, app, "admin")

	// 1. The admin logs in, adds an organization and invites an editor.
	admin.follow("open the organizations", http.StatusOK, chromedp.Navigate(app.srv.URL+organizationsPath))
	admin.do("fill the login form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
	)
	admin.follow("log in", http.StatusOK, admin.submit())
	admin.follow("open the add form", http.StatusOK, chromedp.Click(linkBy("Add Organization")))
	admin.do("fill the add form",
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), orgName),
	)
	admin.follow("add the organization", http.StatusOK, admin.submit())
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(organizationsPath) + `(\d+)/$`).FindStringSubmatch(admin.location())
	if m == nil {
		t.Fatalf("after adding, the admin is at %q, want the organization's page", admin.location())
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	orgPath := organizationPath(id)
	adminUser, err := app.db.Read().UserByEmail(ctx, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	adminRow := fmt.Sprintf(`tr[data-user-id="%d"]`, adminUser.ID)
	admin.screenshot("1-organization")
	if got := admin.text("main h1"); got != orgName {
		t.Errorf("organization heading = %q", got)
	}
	// The admin who added it owns it, and nobody changes their own role:
	// no role selector or Leave link in their row, and the rule holds
	// when the browser posts the change anyway.
	if got := admin.text(adminRow + " td.role"); got != "owner" {
		t.Errorf("the admin's own row shows the role %q, want owner as plain text", got)
	}
	if n := admin.count(adminRow + " select, " + adminRow + " form, " + adminRow + " td.actions a"); n != 0 {
		t.Errorf("the admin's own row offers %d controls, want none:\n%s", n, admin.html(adminRow))
	}
	if got := admin.post(orgPath+fmt.Sprintf("members/%d/role", adminUser.ID), "role=viewer"); got != http.StatusForbidden {
		t.Errorf("posting a change of their own role answers %d, want 403", got)
	}
	if mem, err := app.db.Read().OrganizationMember(ctx, id, adminUser.ID); err != nil || mem.Role != "owner" {
		t.Errorf("after trying to change their own role the admin is %+v, %v; want still the owner", mem, err)
	}

	admin.follow("open the Add User form", http.StatusOK, chromedp.Click(linkBy("Add User")))
	admin.do("fill the Add User form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), invitee),
		chromedp.SetValue(chromedp.ID("role"), "editor"),
	)
	admin.screenshot("2-add-user")
	admin.follow("add the user", http.StatusOK, admin.submit())
	admin.screenshot("3-invited")
	if got := admin.location(); got != orgPath {
		t.Errorf("after adding the user, the admin is at %q, want %q", got, orgPath)
	}
	if got, want := admin.text("p.flash"), "An invitation was sent to "+invitee+"."; got != want {
		t.Errorf("flash after inviting = %q, want %q", got, want)
	}
	if got := admin.text("#invitations h2"); got != "Pending invitations" {
		t.Errorf("invitations heading = %q", got)
	}
	if got := admin.text("table.invitations tbody"); !strings.Contains(got, invitee) || !strings.Contains(got, "editor") || !strings.Contains(got, adminEmail) {
		t.Errorf("the pending invitations do not list %s as editor, invited by %s:\n%s", invitee, adminEmail, got)
	}
	open, err := app.db.Read().OpenInvitations(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].Email != invitee || open[0].Role != "editor" {
		t.Fatalf("open invitations = %+v, want one for %s as editor", open, invitee)
	}
	invitationID := open[0].ID
	if _, err := app.db.Read().UserByEmail(ctx, invitee); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("before accepting, looking %s up gives %v, want ErrNotFound", invitee, err)
	}

	// 2. The invitation arrives over SMTP with a link.
	msgs := sink.Wait(t, 1, 15*time.Second)
	if len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{invitee}) {
		t.Fatalf("the SMTP server received %d messages, the first to %v; want one to %s", len(msgs), msgs[0].To, invitee)
	}
	email, err := mail.Parse(msgs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if subject := mail.DecodeSubject(email.Header.Get("Subject")); !strings.Contains(subject, orgName) {
		t.Errorf("the invitation's subject %q does not name %s", subject, orgName)
	}
	if !strings.Contains(email.Text, "as editor") {
		t.Errorf("the invitation does not tell the role:\n%s", email.Text)
	}
	link := app.linkIn(email.Text, "/invitations/")
	if !regexp.MustCompile(`^/invitations/[^/\s]+/$`).MatchString(link) {
		t.Errorf("invitation link = %q, want /invitations/<token>/", link)
	}
	if !strings.Contains(email.HTML, `href="`+app.srv.URL+link+`"`) {
		t.Errorf("the HTML part does not link to %s:\n%s", link, email.HTML)
	}

	// 3. In a browser of their own, the invited person opens the link and
	// creates their account.
	editor := newBrowserTab(t, app, "editor")
	editor.follow("open the invitation", http.StatusOK, chromedp.Navigate(app.srv.URL+link))
	editor.do("wait for the invitation form", chromedp.WaitVisible(chromedp.ID("password_confirm")))
	editor.screenshot("4-invitation")
	if got, want := editor.text("main h1"), "Join "+orgName; got != want {
		t.Errorf("invitation heading = %q, want %q", got, want)
	}
	if got, want := editor.text("main h1 + p"), fmt.Sprintf("%s invited %s to join %s as editor.", adminEmail, invitee, orgName); got != want {
		t.Errorf("the invitation says %q, want %q", got, want)
	}
	if got := editor.eval(`document.getElementById("email").value`); got != invitee {
		t.Errorf("the invitation form shows the address %q, want %q", got, invitee)
	}

	// A mistyped confirmation first: the form says so and keeps the name.
	editor.do("fill the form with a mistyped confirmation",
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("password_confirm"), password+"!"),
	)
	editor.follow("submit a mistyped confirmation", http.StatusUnprocessableEntity, editor.submit())
	editor.do("wait for the form again", chromedp.WaitVisible(chromedp.ID("password_confirm")))
	editor.screenshot("5-invitation-mismatch")
	// Every message is beside its field: nothing repeats them at the top.
	if got := editor.text("main p.error"); got != "" {
		t.Errorf("after a mistyped confirmation the top of the form says %q", got)
	}
	if got := editor.text("#password_confirm + p.field-error"); got != "The two passwords do not match." {
		t.Errorf("the confirmation field is marked %q:\n%s", got, editor.text("main"))
	}
	if got := editor.eval(`document.getElementById("password_confirm").getAttribute("aria-invalid") ?? ""`); got != "true" {
		t.Errorf("the confirmation field's aria-invalid = %q, want true", got)
	}
	if got := editor.eval(`document.getElementById("name").value`); got != name {
		t.Errorf("after the error the name field holds %q, want %q", got, name)
	}
	if _, err := app.db.Read().UserByEmail(ctx, invitee); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a mistyped confirmation, looking %s up gives %v, want ErrNotFound", invitee, err)
	}

	editor.do("type the password twice",
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("password_confirm"), password),
	)
	editor.follow("create the account", http.StatusOK, editor.submit())
	editor.do("wait for the organization", chromedp.WaitVisible(chromedp.CSS(".your-role")))
	editor.screenshot("6-editor-organization")
	if got := editor.location(); got != orgPath {
		t.Errorf("after accepting, the new member is at %q, want %q", got, orgPath)
	}
	if got, want := editor.text("p.flash"), "Welcome! Your account is ready and you are a member of the organization."; got != want {
		t.Errorf("flash after accepting = %q, want %q", got, want)
	}
	if got := editor.text("header .who"); got != invitee {
		t.Errorf("the header shows %q logged in, want %q", got, invitee)
	}
	if got := editor.text("main h1"); got != orgName {
		t.Errorf("organization heading for the editor = %q", got)
	}
	if got := editor.text("main .title-row + p.muted"); got != "Your role: editor" {
		t.Errorf("the editor's page says %q, want Your role: editor", got)
	}
	user, err := app.db.Read().UserByEmail(ctx, invitee)
	if err != nil {
		t.Fatalf("after accepting, looking %s up: %v", invitee, err)
	}
	if user.Name != name || user.IsPlatformAdmin {
		t.Errorf("the new account is %+v, want %q and no platform admin", user, name)
	}
	editorRow := fmt.Sprintf(`tr[data-user-id="%d"]`, user.ID)
	// An editor sees the organization and its members, and nothing that
	// manages it.
	labels := editor.labels("main a, main button")
	for _, forbidden := range []string{"Add User", "Edit", "Delete", "Audit log", "Transfer ownership", "Remove", "Change", "Resend", "Revoke"} {
		if slices.Contains(labels, forbidden) {
			t.Errorf("the editor is offered %q; the page's links and buttons: %q", forbidden, labels)
		}
	}
	if !slices.Contains(labels, "Leave") {
		t.Errorf("the editor is not offered to leave; the page's links and buttons: %q", labels)
	}
	if n := editor.count("main select"); n != 0 {
		t.Errorf("the editor's page has %d role selectors, want none", n)
	}
	if n := editor.count("#invitations"); n != 0 || strings.Contains(editor.text("main"), "Pending invitations") {
		t.Errorf("the editor sees the pending invitations:\n%s", editor.text("main"))
	}
	if got := editor.text(editorRow + " td.role"); got != "editor" {
		t.Errorf("the editor's row shows the role %q", got)
	}
	if got := editor.text(editorRow + " td"); got != invitee+" (you)" {
		t.Errorf("the editor's row starts with %q, want %q", got, invitee+" (you)")
	}
	if got := editor.text(adminRow + " td.role"); got != "owner" {
		t.Errorf("the editor sees the admin's role as %q, want owner", got)
	}
	for _, path := range []string{orgPath + "edit", orgPath + "members/new", orgPath + "audit/", orgPath + "delete"} {
		editor.follow("open "+path, http.StatusForbidden, chromedp.Navigate(app.srv.URL+path))
		if got := editor.text("main h1"); got != "Not allowed" {
			t.Errorf("%s as an editor says %q, want Not allowed", path, got)
		}
	}
	editor.screenshot("7-editor-forbidden")
	// Posting the Add User form anyway changes nothing.
	if got := editor.post(orgPath+"members/", "email=someone%40example.com&role=admin"); got != http.StatusForbidden {
		t.Errorf("an editor posting the Add User form gets %d, want 403", got)
	}
	mem, err := app.db.Read().OrganizationMember(ctx, id, user.ID)
	if err != nil || mem.Role != "editor" {
		t.Errorf("after accepting, the membership is %+v, %v; want an editor", mem, err)
	}
	if open, err := app.db.Read().OpenInvitations(ctx, id); err != nil || len(open) != 0 {
		t.Errorf("after accepting, the open invitations are %+v, %v; want none", open, err)
	}
	inv, err := app.db.Read().Invitation(ctx, id, invitationID)
	if err != nil || inv.AcceptedAt == nil || inv.AcceptedBy == nil || *inv.AcceptedBy != user.ID {
		t.Errorf("after accepting, the invitation is %+v, %v; want accepted by user %d", inv, err, user.ID)
	}

	// The link works once.
	editor.follow("open the invitation again", http.StatusGone, chromedp.Navigate(app.srv.URL+link))
	editor.screenshot("8-invitation-used")
	if got := editor.text("main h1"); got != "Link no longer valid" {
		t.Errorf("the used link's heading = %q", got)
	}
	if got, want := editor.text("main h1 + p"), "This invitation was already accepted: whoever accepted it reaches the organization from their list of organizations, after logging in."; got != want {
		t.Errorf("the used link says %q, want %q", got, want)
	}
	editor.follow("go back to the organization", http.StatusOK, chromedp.Navigate(app.srv.URL+orgPath))

	// The owner offers the organization to the new member, who sees the
	// offer on its page and declines it: nothing changes hands without
	// their consent.
	admin.follow("open the transfer form", http.StatusOK, chromedp.Navigate(app.srv.URL+orgPath+"transfer"))
	admin.do("choose the new member", chromedp.SetValue(chromedp.ID("user_id"), strconv.FormatInt(user.ID, 10)))
	admin.follow("offer the ownership", http.StatusOK, admin.submit())
	if got := admin.text("#ownership-offer p"); !strings.Contains(got, invitee+" was offered the ownership") {
		t.Errorf("the owner's page says %q about the offer", got)
	}
	if mem, err := app.db.Read().OrganizationMember(ctx, id, user.ID); err != nil || mem.Role != "editor" {
		t.Errorf("the offer alone changed the membership: %+v, %v", mem, err)
	}
	editor.follow("see the offer", http.StatusOK, chromedp.Reload())
	editor.do("wait for the offer", chromedp.WaitVisible(chromedp.CSS("#ownership-offer")))
	editor.screenshot("9-ownership-offered")
	editor.do("narrow the window to a phone's", chromedp.EmulateViewport(390, 844))
	editor.screenshot("9-ownership-offered-phone")
	editor.do("widen the window again", chromedp.EmulateViewport(1280, 900))
	if got := editor.text("#ownership-offer h2"); got != "Ownership offered to you" {
		t.Errorf("the offer's heading for its member = %q", got)
	}
	editor.follow("decline", http.StatusOK, chromedp.Click(chromedp.CSS(`#ownership-offer form:nth-of-type(2) button`)))
	if n := editor.count("#ownership-offer"); n != 0 {
		t.Errorf("the declined offer is still shown")
	}
	if owner, err := app.db.Read().OrganizationOwner(ctx, id); err != nil || owner.Email != adminEmail {
		t.Errorf("after declining, the owner is %+v, %v", owner, err)
	}

	// 4. The admin makes the new member a viewer, then removes them.
	admin.follow("reload the organization", http.StatusOK, chromedp.Reload())
	admin.do("wait for the new member's row", chromedp.WaitVisible(chromedp.CSS(editorRow+" select")))
	if got := admin.eval(fmt.Sprintf(`document.querySelector(%q).value`, editorRow+" select")); got != "editor" {
		t.Errorf("the new member's role selector shows %q, want editor", got)
	}
	if got := admin.text("#invitations"); !strings.Contains(got, "No pending invitations.") {
		t.Errorf("after the acceptance the invitations section shows:\n%s", got)
	}
	if n := admin.count(adminRow + " select"); n != 0 {
		t.Errorf("the admin's own row has %d role selectors, want none", n)
	}
	admin.do("choose viewer", chromedp.SetValue(chromedp.CSS(editorRow+" select"), "viewer"))
	admin.follow("change the role", http.StatusOK, chromedp.Click(chromedp.CSS(editorRow+" button")))
	admin.do("wait for the changed row", chromedp.WaitVisible(chromedp.CSS(editorRow+" select")))
	admin.screenshot("10-role-changed")
	if got, want := admin.text("p.flash"), invitee+" is now viewer."; got != want {
		t.Errorf("flash after changing the role = %q, want %q", got, want)
	}
	if got := admin.eval(fmt.Sprintf(`document.querySelector(%q).value`, editorRow+" select")); got != "viewer" {
		t.Errorf("after the change the role selector shows %q, want viewer", got)
	}
	if mem, err := app.db.Read().OrganizationMember(ctx, id, user.ID); err != nil || mem.Role != "viewer" {
		t.Errorf("after the change the membership is %+v, %v; want a viewer", mem, err)
	}

	admin.follow("follow the Remove link", http.StatusOK, chromedp.Click(chromedp.CSS(editorRow+" td.actions a")))
	admin.do("wait for the confirmation", chromedp.WaitVisible(chromedp.CSS(`main form button.danger`)))
	admin.screenshot("11-remove-confirm")
	if got, want := admin.text("main h1"), "Remove "+invitee+"?"; got != want {
		t.Errorf("confirmation heading = %q, want %q", got, want)
	}
	if got := admin.text("main h1 + p"); !strings.Contains(got, invitee+" (viewer)") || !strings.Contains(got, orgName) {
		t.Errorf("the confirmation says %q", got)
	}
	if mem, err := app.db.Read().OrganizationMember(ctx, id, user.ID); err != nil || mem.Role != "viewer" {
		t.Errorf("opening the confirmation changed the membership: %+v, %v", mem, err)
	}
	admin.follow("remove", http.StatusOK, chromedp.Click(chromedp.CSS(`main form button.danger`)))
	admin.screenshot("12-removed")
	if got := admin.location(); got != orgPath {
		t.Errorf("after removing, the admin is at %q, want %q", got, orgPath)
	}
	if got, want := admin.text("p.flash"), invitee+" was removed from the organization."; got != want {
		t.Errorf("flash after removing = %q, want %q", got, want)
	}
	if n := admin.count(editorRow); n != 0 {
		t.Errorf("the removed member still has a row")
	}
	if got := admin.text("table.members tbody"); strings.Contains(got, invitee) || !strings.Contains(got, adminEmail) {
		t.Errorf("after removing, the members are:\n%s", got)
	}
	if _, err := app.db.Read().OrganizationMember(ctx, id, user.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after removing, looking the membership up gives %v, want ErrNotFound", err)
	}
	if _, err := app.db.Read().UserByEmail(ctx, invitee); err != nil {
		t.Errorf("removing the member removed the account: %v", err)
	}

	// The removed member's browser no longer reaches the organization.
	editor.follow("reload the organization", http.StatusNotFound, chromedp.Reload())
	editor.screenshot("13-editor-removed")
	if got := editor.text("main h1"); got != "Page not found" {
		t.Errorf("the removed member's reload says %q, want Page not found", got)
	}
	editor.follow("open the organizations", http.StatusOK, chromedp.Navigate(app.srv.URL+organizationsPath))
	if got := editor.text("main"); strings.Contains(got, orgName) {
		t.Errorf("the removed member's list still shows %s:\n%s", orgName, got)
	}
}

// browserTab is one browser of a test with several, with the helpers of
// TestBrowserOrganizationLifecycle; its name starts its messages and
// screenshots.
type browserTab struct {
	t    *testing.T
	ctx  context.Context
	base string
	name string
}

func newBrowserTab(t *testing.T, app *testApp, name string) *browserTab {
	t.Helper()
	return &browserTab{t: t, ctx: browsertest.New(t), base: app.srv.URL, name: name}
}

// do runs actions that must succeed.
func (b *browserTab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, what, err)
	}
}

// follow runs actions that load a page (a click on a link or a submit
// button, a navigation), waits until the page has loaded, and checks its
// status.
func (b *browserTab) follow(what string, wantStatus int, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, what, err)
	}
	if res.Status != int64(wantStatus) {
		b.t.Errorf("%s: %s: status %d, want %d (at %s)\n%s", b.name, what, res.Status, wantStatus, res.URL, b.text("main"))
	}
}

// eval evaluates a JavaScript expression that must not fail.
func (b *browserTab) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

// text is the visible text (innerText) of the first element matching a
// CSS selector, or "" when there is none.
func (b *browserTab) text(sel string) string {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ""`, sel))
}

// html is the markup of the first element matching a CSS selector, for
// messages.
func (b *browserTab) html(sel string) string {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`document.querySelector(%q)?.outerHTML ?? ""`, sel))
}

// count is the number of elements matching a CSS selector.
func (b *browserTab) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		b.t.Fatalf("%s: count %s: %v", b.name, sel, err)
	}
	return n
}

// labels are the texts of the elements matching a CSS selector, trimmed,
// visually hidden ones included.
func (b *browserTab) labels(sel string) []string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](
		fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.textContent.trim())`, sel)))
	if err != nil {
		b.t.Fatalf("%s: labels of %s: %v", b.name, sel, err)
	}
	return v
}

func (b *browserTab) location() string {
	b.t.Helper()
	return b.eval(`document.location.pathname`)
}

// post sends a form body from the page, as a script on the site could,
// and returns the status of the answer without following a redirect.
func (b *browserTab) post(path, body string) int {
	b.t.Helper()
	status, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(
		`fetch(%q, {method: "POST", body: new URLSearchParams(%q), redirect: "manual"}).then(r => r.type === "opaqueredirect" ? 303 : r.status)`,
		path, body), chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: post %s: %v", b.name, path, err)
	}
	return status
}

func (b *browserTab) screenshot(name string) {
	b.t.Helper()
	browsertest.Screenshot(b.t, b.ctx, b.name+"-"+name)
}

// submit clicks the submit button of the form in the page's main part.
func (b *browserTab) submit() chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(`main form button[type=submit]`))
}

// linkBy finds a link by its text, visible or visually hidden.
func linkBy(label string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//a[normalize-space(.)=%q]`, label))
}
