package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// result is what one run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func runCommand(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func TestUsage(t *testing.T) {
	if r := runCommand(t, nil, "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "mailschool ") {
		t.Errorf("version: %+v", r)
	}
	if r := runCommand(t, nil, ""); r.code != 2 || !strings.Contains(r.stderr, "createsuperuser") {
		t.Errorf("no command: %+v", r)
	}
	if r := runCommand(t, nil, "", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %+v", r)
	}
	if r := runCommand(t, nil, "", "help"); r.code != 0 || !strings.Contains(r.stdout, "serve") {
		t.Errorf("help: %+v", r)
	}
	for _, cmd := range []string{"serve", "migrate", "createsuperuser", "version"} {
		if r := runCommand(t, nil, "", "help", cmd); r.code != 0 || !strings.Contains(r.stderr, "Usage: mailschool "+cmd) {
			t.Errorf("help %s: %+v", cmd, r)
		}
	}
	if r := runCommand(t, nil, "", "serve", "--no-such-flag"); r.code != 2 {
		t.Errorf("bad flag: %+v", r)
	}
	if r := runCommand(t, nil, "", "createsuperuser"); r.code != 2 || !strings.Contains(r.stderr, "--email is required") {
		t.Errorf("createsuperuser without --email: %+v", r)
	}
}

// TestBadSettings: a setting with a value mailschool cannot use stops the
// command with status 1 and a message naming it, before anything is done.
func TestBadSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"createsuperuser", "--email", "root@example.com"},
		{"sendtest", "--to", "ada@example.com"}, {"deliver", "--once"}, {"version"}} {
		env := map[string]string{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_LOG_LEVEL": "verbose", "MAILSCHOOL_PASSWORD": "correct horse battery"}
		r := runCommand(t, env, "", cmd...)
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `MAILSCHOOL_LOG_LEVEL "verbose" must be debug, info, warn or error`) {
			t.Errorf("%s with a bad log level: %+v", cmd[0], r)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a command with a bad log level made the data directory (%v)", err)
	}

	env := map[string]string{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_WORKERS": "no"}
	r := runCommand(t, env, "", "serve")
	if r.code != 1 || !strings.Contains(r.stderr, `mailschool serve: MAILSCHOOL_WORKERS "no" must be true or false (or 1 or 0)`) {
		t.Errorf("serve with MAILSCHOOL_WORKERS=no: %+v", r)
	}
	r = runCommand(t, map[string]string{"MAILSCHOOL_DATA_DIR": dir}, "", "serve", "--workers=maybe")
	if r.code != 2 || !strings.Contains(r.stderr, `invalid boolean value "maybe" for -workers: must be true or false (or 1 or 0)`) {
		t.Errorf("serve --workers=maybe: %+v", r)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("serve with a bad setting made the data directory (%v)", err)
	}

	// The DKIM key is checked with no SMTP server configured too.
	env = map[string]string{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_DKIM_DOMAIN": "acme.example",
		"MAILSCHOOL_DKIM_SELECTOR": "s1", "MAILSCHOOL_DKIM_KEY_FILE": filepath.Join(dir, "missing.pem")}
	r = runCommand(t, env, "", "sendtest", "--to", "ada@example.com")
	if r.code != 1 || !strings.Contains(r.stderr, "MAILSCHOOL_DKIM_KEY_FILE") || !strings.Contains(r.stderr, "missing.pem") {
		t.Errorf("sendtest with a missing DKIM key: %+v", r)
	}
}

func TestCreateSuperuser(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"MAILSCHOOL_DATA_DIR": dir}

	r := runCommand(t, env, "", "createsuperuser", "--email", "root@example.com")
	if r.code != 1 || !strings.Contains(r.stderr, "no password given") {
		t.Errorf("new account without a password: %+v", r)
	}
	// The first command on a new database applies the migrations: each is
	// logged once, by mailschool, not again by River's migrator.
	if strings.Contains(r.stderr, "rivermigrate") || !strings.Contains(r.stderr, "applied job queue migration") {
		t.Errorf("createsuperuser's log:\n%s", r.stderr)
	}
	r = runCommand(t, env, "password\n", "createsuperuser", "--email", "root@example.com")
	if r.code != 1 || !strings.Contains(r.stderr, "too common") {
		t.Errorf("common password: %+v", r)
	}
	r = runCommand(t, env, "", "createsuperuser", "--email", "not-an-email")
	if r.code != 1 || !strings.Contains(r.stderr, "valid email") {
		t.Errorf("bad email: %+v", r)
	}
	r = runCommand(t, env, "correct horse battery\n", "createsuperuser", "--email", "Root@Example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "Created platform admin root@example.com.") ||
		!strings.Contains(r.stdout, `root@example.com now owns "My Organization".`) {
		t.Fatalf("password from stdin: %+v", r)
	}
	env["MAILSCHOOL_PASSWORD"] = "another good secret"
	r = runCommand(t, env, "", "createsuperuser", "--email", "root@example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "root@example.com is now a platform admin.") || strings.Contains(r.stdout, "now owns") {
		t.Fatalf("promote with MAILSCHOOL_PASSWORD: %+v", r)
	}
	// The default organization has its one owner: a second admin takes none.
	r = runCommand(t, env, "", "createsuperuser", "--email", "second@example.com")
	if r.code != 0 || strings.Contains(r.stdout, "now owns") {
		t.Fatalf("second admin: %+v", r)
	}
	r = runCommand(t, map[string]string{"MAILSCHOOL_DATA_DIR": dir}, "", "migrate")
	if r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Errorf("migrate: %+v", r)
	}
}

func TestServe(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testServe(t, map[string]string{"MAILSCHOOL_DATA_DIR": t.TempDir()})
	})
	t.Run("postgres", func(t *testing.T) {
		testServe(t, map[string]string{
			"MAILSCHOOL_DATA_DIR":     t.TempDir(),
			"MAILSCHOOL_DATABASE_URL": storetest.NewPostgresURL(t),
		})
	})
}

// testServe starts the server as the command line does, checks that it
// answers, and stops it the way SIGTERM does.
func testServe(t *testing.T, env map[string]string) {
	base, stop := startServer(t, env)
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Errorf("healthz: %d %s", res.StatusCode, body)
	}
	// Ready: the database answers, migrated, and the job queue works.
	res, err = http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"jobs":"ok"`) {
		t.Errorf("readyz: %d %s", res.StatusCode, body)
	}
	res, err = http.Get(base + "/accounts/login/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "Log in") {
		t.Errorf("login page: %d", res.StatusCode)
	}
	output := stop()
	for _, want := range []string{"No platform admin exists yet", "createsuperuser", "mailschool is listening", "stopped"} {
		if !strings.Contains(output, want) {
			t.Errorf("serve output lacks %q\n%s", want, output)
		}
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer that the server goroutine and the test may
// use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCreateSuperuserName: --name is stored as the admin's name, checked
// like every name before the password is asked for, and replaced only
// when given.
func TestCreateSuperuserName(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_PASSWORD": "correct horse battery"}
	nameOf := func(email string) string {
		t.Helper()
		db, err := store.Open(context.Background(), "", dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		u, err := db.Read().UserByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		return u.Name
	}
	r := runCommand(t, map[string]string{"MAILSCHOOL_DATA_DIR": dir}, "", "createsuperuser", "--email", "root@example.com", "--name", "Ada\u202eLovelace")
	if r.code != 1 || !strings.Contains(r.stderr, "--name") || !strings.Contains(r.stderr, "invisible or text-direction") || strings.Contains(r.stderr, "password") {
		t.Errorf("a name with a text-direction character: %+v", r)
	}
	r = runCommand(t, env, "", "createsuperuser", "--email", "root@example.com", "--name", strings.Repeat("a", auth.MaxNameRunes+1))
	if r.code != 1 || !strings.Contains(r.stderr, "too long") {
		t.Errorf("a name too long: %+v", r)
	}
	r = runCommand(t, env, "", "createsuperuser", "--email", "root@example.com", "--name", "  Ada   Lovelace ")
	if r.code != 0 {
		t.Fatalf("createsuperuser --name: %+v", r)
	}
	if got := nameOf("root@example.com"); got != "Ada Lovelace" {
		t.Errorf("name = %q, want %q", got, "Ada Lovelace")
	}
	// Promoted again without --name: the name stays; with one, it changes.
	if r := runCommand(t, env, "", "createsuperuser", "--email", "root@example.com"); r.code != 0 {
		t.Fatalf("createsuperuser again: %+v", r)
	}
	if got := nameOf("root@example.com"); got != "Ada Lovelace" {
		t.Errorf("name after promoting without --name = %q, want it kept", got)
	}
	if r := runCommand(t, env, "", "createsuperuser", "--email", "root@example.com", "--name", "Ada King"); r.code != 0 {
		t.Fatalf("createsuperuser with a new name: %+v", r)
	}
	if got := nameOf("root@example.com"); got != "Ada King" {
		t.Errorf("name after a new --name = %q, want %q", got, "Ada King")
	}
}

// TestServeSetsTheCollectorsTarget: serve lets the heap grow to five times
// what is live before collecting, unless GOGC says otherwise.
func TestServeSetsTheCollectorsTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, c := range []struct {
		gogc string
		want int
	}{{"", serverGCPercent}, {"150", 100}} {
		debug.SetGCPercent(100)
		env := map[string]string{"MAILSCHOOL_DATA_DIR": t.TempDir(), "MAILSCHOOL_WORKERS": "false", "GOGC": c.gogc}
		_, stop := startServer(t, env)
		stop()
		// GOGC itself is read by the runtime at start, so only whether
		// serve changed the target is seen here.
		if got := debug.SetGCPercent(100); got != c.want {
			t.Errorf("GOGC=%q: the collector's target is %d, want %d", c.gogc, got, c.want)
		}
	}
}
