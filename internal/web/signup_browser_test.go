package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserSignup: with sign-up open, a visitor signs up, confirms from
// the email, lands in their new organization as its owner, creates a
// course from the What next card and invites a colleague.
func TestBrowserSignup(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), signupOpen("open"))
	const email = "ada@analytical.example"
	visitor := newBrowserTab(t, app, "signup")

	visitor.follow("open the login page", http.StatusOK, chromedp.Navigate(app.srv.URL+"/accounts/login/"))
	visitor.follow("follow Sign up", http.StatusOK, chromedp.Click(linkBy("Sign up")))
	visitor.do("fill the sign-up form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("name"), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.ID("password"), "analytical engine 1843"),
		chromedp.SendKeys(chromedp.ID("organization"), "Analytical Engines"),
	)
	visitor.screenshot("1-form")
	visitor.follow("sign up", http.StatusOK, visitor.submit())
	if got := visitor.text("main h1"); got != "Check your email" {
		t.Fatalf("after signing up the page says %q", got)
	}
	links := app.mails(email, mail.KindSignupConfirm)
	if len(links) != 1 {
		t.Fatalf("%d confirmation emails", len(links))
	}
	visitor.follow("open the link", http.StatusOK, chromedp.Navigate(app.srv.URL+app.linkIn(links[0].Text, "/accounts/signup/confirm/")))
	visitor.screenshot("2-confirm")
	visitor.follow("confirm", http.StatusOK, visitor.submit())
	visitor.screenshot("3-organization")
	if got := visitor.text("main h1"); got != "Analytical Engines" {
		t.Fatalf("after confirming the page's heading is %q", got)
	}
	if got := visitor.text(".your-role"); got != "owner" {
		t.Errorf("the new user's role is %q, want owner", got)
	}
	if !strings.Contains(visitor.text("#getting-started"), "Invite colleagues") {
		t.Errorf("no What next card:\n%s", visitor.text("main"))
	}

	visitor.follow("follow Create a course", http.StatusOK, chromedp.Click(linkBy("Create a course")))
	visitor.do("fill the course form",
		chromedp.WaitVisible(chromedp.ID("title")),
		chromedp.SendKeys(chromedp.ID("title"), "Difference engines"),
	)
	visitor.follow("add the course", http.StatusOK, visitor.submit())
	if got := visitor.text("main h1"); !strings.Contains(got, "Difference engines") {
		t.Errorf("after adding the course the heading is %q", got)
	}
	visitor.follow("back to the organization", http.StatusOK, chromedp.Click(linkBy("Analytical Engines")))
	if n := visitor.count("#getting-started"); n != 0 {
		t.Error("the What next card stays once a course exists")
	}
	visitor.follow("open the add-member form", http.StatusOK, chromedp.Navigate(app.srv.URL+visitor.location()+"members/new"))
	visitor.do("fill the member form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "charles@analytical.example"),
		chromedp.SetValue(chromedp.ID("role"), "editor"),
	)
	visitor.follow("invite", http.StatusOK, visitor.submit())
	visitor.screenshot("4-invited")
	if got := app.mails("charles@analytical.example", mail.KindInvitation); len(got) != 1 {
		t.Errorf("the colleague got %d invitations", len(got))
	}
}
