package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
)

func TestSendTest(t *testing.T) {
	env := map[string]string{"MAILSCHOOL_DATA_DIR": t.TempDir()}
	r := runCommand(t, env, "", "sendtest", "--to", "Ada@Example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "the test email to ada@example.com is in the outbox") ||
		!strings.Contains(r.stdout, "/email-learning/platform/outbox/1/") {
		t.Errorf("sendtest without SMTP: %+v", r)
	}

	sink := smtptest.Start(t, smtptest.Options{})
	env["MAILSCHOOL_SMTP_URL"] = sink.URL()
	r = runCommand(t, env, "", "sendtest", "--to", "ada@example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "Sent the test email to ada@example.com through SMTP") {
		t.Fatalf("sendtest with SMTP: %+v", r)
	}
	if msgs := sink.Messages(); len(msgs) != 1 || msgs[0].To[0] != "ada@example.com" {
		t.Errorf("sink got %+v", msgs)
	}

	if r := runCommand(t, env, "", "sendtest"); r.code != 2 || !strings.Contains(r.stderr, "--to is required") {
		t.Errorf("sendtest without --to: %+v", r)
	}
	if r := runCommand(t, env, "", "sendtest", "--to", "nobody"); r.code != 1 || !strings.Contains(r.stderr, "valid email") {
		t.Errorf("sendtest to a bad address: %+v", r)
	}
	env["MAILSCHOOL_SMTP_URL"] = "http://example.com"
	if r := runCommand(t, env, "", "sendtest", "--to", "ada@example.com"); r.code != 1 || !strings.Contains(r.stderr, "MAILSCHOOL_SMTP_URL") {
		t.Errorf("sendtest with a bad SMTP URL: %+v", r)
	}
}

// TestServeSendsThroughSMTP runs the server with an SMTP relay and checks
// that an email caused in the app (the password-changed notice) arrives
// there with both parts and the right headers.
func TestServeSendsThroughSMTP(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	dir := t.TempDir()
	env := map[string]string{
		"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_SMTP_URL": sink.URL(),
		"MAILSCHOOL_FROM": "Acme Academy <learn@acme.example>", "MAILSCHOOL_PASSWORD": "correct horse battery",
	}
	if r := runCommand(t, env, "", "createsuperuser", "--email", "admin@example.com"); r.code != 0 {
		t.Fatalf("createsuperuser: %+v", r)
	}
	base, stop := startServer(t, env)
	defer stop()

	changePassword(t, base, "admin@example.com", "correct horse battery", "a brand new secret")

	got := sink.Wait(t, 1, 15*time.Second)[0]
	if got.From != "learn@acme.example" || got.To[0] != "admin@example.com" {
		t.Errorf("envelope %s -> %v", got.From, got.To)
	}
	parsed, err := mail.Parse(got.Data)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header.Get("From") != `"Acme Academy" <learn@acme.example>` || parsed.Header.Get("Subject") != "Your mailschool password was changed" ||
		parsed.Header.Get("Message-Id") == "" || parsed.Header.Get("Date") == "" {
		t.Errorf("headers: %v", parsed.Header)
	}
	if !strings.Contains(parsed.Text, "was changed on") || !strings.Contains(parsed.HTML, "<h1") {
		t.Errorf("parts: text %q, html %q", parsed.Text, parsed.HTML)
	}
}

// startServer runs serve with env and returns its URL and a function that
// stops it as SIGTERM does and returns what it printed.
func startServer(t *testing.T, env map[string]string) (string, func() string) {
	t.Helper()
	addr := freeAddr(t)
	env["MAILSCHOOL_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr syncBuffer
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), &stderr, &stderr)
	}()
	base, client := "http://"+addr, http.DefaultClient
	if env["MAILSCHOOL_TLS_CERT"] != "" {
		base, client = "https://"+addr, tlsClient(t, env["MAILSCHOOL_TLS_CERT"])
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := client.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server never answered: %v\n%s", err, stderr.String())
		}
	}
	var once sync.Once
	return base, func() string {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("serve exited with %d\n%s", code, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Error("serve did not stop")
			}
		})
		return stderr.String()
	}
}

// TestWebOnlyNodeLeavesJobsQueued runs serve with workers off: an email
// caused in the app is recorded and queued but not sent, until a node with
// workers starts on the same database.
func TestWebOnlyNodeLeavesJobsQueued(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	env := map[string]string{
		"MAILSCHOOL_DATA_DIR": t.TempDir(), "MAILSCHOOL_SMTP_URL": sink.URL(),
		"MAILSCHOOL_PASSWORD": "correct horse battery", "MAILSCHOOL_WORKERS": "false",
	}
	if r := runCommand(t, env, "", "createsuperuser", "--email", "admin@example.com"); r.code != 0 {
		t.Fatalf("createsuperuser: %+v", r)
	}
	base, stop := startServer(t, env)
	changePassword(t, base, "admin@example.com", "correct horse battery", "a brand new secret")
	time.Sleep(500 * time.Millisecond)
	if output := stop(); !strings.Contains(output, "workers=false") {
		t.Errorf("serve did not report workers off:\n%s", output)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("a web-only node sent %d emails", n)
	}

	env["MAILSCHOOL_WORKERS"] = "true"
	_, stop = startServer(t, env)
	defer stop()
	sink.Wait(t, 1, 15*time.Second)
}

// changePassword logs in to the server at base and changes the password,
// which sends the password-changed email.
func changePassword(t *testing.T, base, email, old, new string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	post := func(path string, form url.Values) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	post("/accounts/login/", url.Values{"email": {email}, "password": {old}})
	res := post("/accounts/password_change/", url.Values{"old_password": {old}, "new_password": {new}, "password_confirm": {new}})
	if res.Request.URL.Path != "/email-learning/platform/" {
		t.Fatalf("password change ended at %s", res.Request.URL)
	}
}
