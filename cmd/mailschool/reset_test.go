package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
)

// TestServeSendsPasswordResetLinks checks that serve works the password
// reset jobs: a request on the web ends as an email at the relay whose link
// opens the form on this server.
func TestServeSendsPasswordResetLinks(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	env := map[string]string{
		"MAILSCHOOL_DATA_DIR": t.TempDir(), "MAILSCHOOL_SMTP_URL": sink.URL(),
		"MAILSCHOOL_PASSWORD": "correct horse battery",
	}
	if r := runCommand(t, env, "", "createsuperuser", "--email", "admin@example.com"); r.code != 0 {
		t.Fatalf("createsuperuser: %+v", r)
	}
	base, stop := startServer(t, env)
	defer stop()

	res, err := http.PostForm(base+"/accounts/password_reset/", url.Values{"email": {"admin@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/accounts/password_reset/done/" {
		t.Fatalf("reset request ended at %s", res.Request.URL)
	}

	got := sink.Wait(t, 1, 15*time.Second)[0]
	parsed, err := mail.Parse(got.Data)
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/accounts/reset/[A-Za-z0-9_-]+/`).FindString(parsed.Text)
	if got.To[0] != "admin@example.com" || parsed.Header.Get("Subject") != "Set a new mailschool password" || link == "" {
		t.Fatalf("email to %v, subject %q, no link to %s in:\n%s", got.To, parsed.Header.Get("Subject"), base, parsed.Text)
	}
	res, err = http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET the emailed link: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
