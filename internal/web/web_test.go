package web

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/mailtest"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery"
)

// testSecretKey signs the test apps' links, so tests can make them too.
const testSecretKey = "test secret key, 32 characters or more"

// testApp is a real server on a loopback port over a fresh database.
type testApp struct {
	t   testing.TB
	db  *store.DB
	srv *httptest.Server
	// engine is the delivery engine the app's workers run, for tests that
	// work a delivery themselves, as if its time had come.
	engine *delivery.Engine
	// apiSeen records the API answers its clients checked against the
	// OpenAPI document.
	apiSeen *apiCoverage
}

func newTestApp(t testing.TB, db *store.DB, customize ...func(*Options)) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	baseURL := "http://" + srv.Listener.Addr().String()
	opts := Options{DB: db, Logger: logger, Version: "test", BaseURL: baseURL, SecretKey: testSecretKey}
	for _, c := range customize {
		c(&opts)
	}
	if opts.Mail == nil {
		opts.Mail = newMailer(t, opts, mail.Outbox{}, "outbox")
	}
	if opts.Learning == nil {
		opts.Learning = learning.NewService(db, learning.Config{Mail: opts.Mail, BaseURL: opts.BaseURL, SecretKey: opts.SecretKey})
	}
	workers := river.NewWorkers()
	opts.Mail.AddWorkers(workers)
	auth.NewAccounts(db, opts.Mail).AddWorkers(workers)
	orgs.NewService(db, orgs.Config{Mail: opts.Mail}).AddWorkers(workers)
	opts.Learning.AddWorkers(workers)
	engine := delivery.New(db, opts.Mail, opts.Learning, delivery.Config{Logger: logger})
	engine.AddWorkers(workers)
	storetest.StartJobs(t, db, workers, mail.Queue, delivery.Queue)
	handler, err := New(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	srv.Config.Handler = handler
	srv.Start()
	t.Cleanup(srv.Close)
	if _, _, err := auth.NewAccounts(db, nil).CreateSuperuser(context.Background(), adminEmail, adminPassword, ""); err != nil {
		t.Fatalf("create admin: %v", err)
	}
	return &testApp{t: t, db: db, srv: srv, engine: engine, apiSeen: &apiCoverage{}}
}

func newMailer(t testing.TB, opts Options, transport mail.Transport, name string) *mail.Service {
	t.Helper()
	mailer, err := mail.NewService(opts.DB, mail.Config{
		From: "mailschool <noreply@localhost>", BaseURL: opts.BaseURL,
		Transport: transport, TransportName: name, Logger: opts.Logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mailer
}

// sendThrough makes the app send its email to an in-process SMTP server
// instead of keeping it in the outbox.
func sendThrough(t testing.TB, sink *smtptest.Server) func(*Options) {
	return func(opts *Options) {
		transport, err := mail.NewSMTP(mail.SMTPConfig{URL: sink.URL(), TLSConfig: sink.ClientTLSConfig()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { transport.Close() })
		opts.Mail = newMailer(t, *opts, transport, "smtp")
	}
}

// mails returns the recorded emails of a kind to an address, newest
// first, taken apart, once the enrollment and password reset requests
// made so far have been worked.
func (a *testApp) mails(to string, kind mail.Kind) []mail.Parsed {
	a.t.Helper()
	a.settle()
	return mailtest.Sent(a.t, a.db, to, kind)
}

// settle waits for the jobs of the public requests (enrollments, password
// resets) to finish: the requests only enqueue them.
func (a *testApp) settle() {
	a.t.Helper()
	for _, kind := range []string{learning.EnrollRequestArgs{}.Kind(), auth.ResetRequestArgs{}.Kind(), orgs.SignupRequestArgs{}.Kind()} {
		storetest.Eventually(a.t, 10*time.Second, "the "+kind+" jobs to finish", func() bool {
			n, err := a.db.UnfinishedJobs(context.Background(), kind)
			return err == nil && n == 0
		})
	}
}

// linkIn returns the first URL in text that starts with the app's address
// followed by prefix, as a path.
func (a *testApp) linkIn(text, prefix string) string {
	a.t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(a.srv.URL+prefix) + `\S*`).FindString(text)
	if m == "" {
		a.t.Fatalf("no link to %s in:\n%s", prefix, text)
	}
	return strings.TrimPrefix(m, a.srv.URL)
}

// client is a browser-like HTTP client with its own cookies that does not
// follow redirects, so tests see them.
type client struct {
	t    testing.TB
	base string
	http *http.Client
	// coverage records the API answers checked against the document.
	coverage *apiCoverage
}

func (a *testApp) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: a.t, base: a.srv.URL, coverage: a.apiSeen, http: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// clientAt is a client whose connections come from another loopback
// address, such as 127.0.0.2, so that the server sees another client IP.
func (a *testApp) clientAt(ip string) *client {
	c := a.client()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c.http.Transport = &http.Transport{DialContext: dialer.DialContext}
	return c
}

// loggedIn returns a client with a session of the given account.
func (a *testApp) loggedIn(email, password string) *client {
	a.t.Helper()
	c := a.client()
	res := c.post("/accounts/login/", url.Values{"email": {email}, "password": {password}})
	if res.status != http.StatusSeeOther {
		a.t.Fatalf("log in as %s: status %d\n%s", email, res.status, res.body)
	}
	return c
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: string(b)}
	c.checkAPIAnswer(req, out)
	return out
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form the way a browser on this site does: with a same-origin
// Origin header. Extra headers replace the defaults.
func (c *client) post(path string, form url.Values, headers ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// scenario is one request and what must come back.
type scenario struct {
	name       string
	method     string // GET or POST
	path       string
	form       url.Values
	headers    []string
	loggedIn   bool // as the platform admin
	wantStatus int
	wantHeader map[string]string
	want       []string // fragments the body contains
	notWant    []string // fragments it must not contain
}

func (sc scenario) run(t *testing.T, app *testApp) {
	t.Helper()
	c := app.client()
	if sc.loggedIn {
		c = app.loggedIn(adminEmail, adminPassword)
	}
	var res response
	if sc.method == http.MethodPost {
		res = c.post(sc.path, sc.form, sc.headers...)
	} else {
		res = c.get(sc.path)
	}
	if res.status != sc.wantStatus {
		t.Errorf("%s %s: status %d, want %d\n%s", sc.method, sc.path, res.status, sc.wantStatus, res.body)
	}
	for k, v := range sc.wantHeader {
		if got := res.header.Get(k); got != v {
			t.Errorf("%s %s: header %s = %q, want %q", sc.method, sc.path, k, got, v)
		}
	}
	for _, w := range sc.want {
		if !strings.Contains(res.body, w) {
			t.Errorf("%s %s: body lacks %q\n%s", sc.method, sc.path, w, res.body)
		}
	}
	for _, w := range sc.notWant {
		if strings.Contains(res.body, w) {
			t.Errorf("%s %s: body contains %q", sc.method, sc.path, w)
		}
	}
}
