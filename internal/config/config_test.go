package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	getenv := func(k string) string { return env[k] }
	c.Register(fs, getenv)
	c.RegisterServer(fs, getenv)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return c, c.Finish()
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	c, err := load(t, map[string]string{"MAILSCHOOL_DATA_DIR": dir})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != DefaultAddr || c.BaseURL != "http://127.0.0.1:8080" || c.DatabaseURL != "" || c.SecureCookies() {
		t.Errorf("defaults = %+v", c)
	}
	b, err := os.ReadFile(filepath.Join(dir, "secret_key"))
	if err != nil || strings.TrimSpace(string(b)) != c.SecretKey || len(c.SecretKey) != 64 {
		t.Fatalf("secret key %q not stored in the data dir (%q, %v)", c.SecretKey, b, err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "secret_key")); info.Mode().Perm() != 0o600 {
		t.Errorf("secret key file mode = %v, want 0600", info.Mode().Perm())
	}
	again, err := load(t, map[string]string{"MAILSCHOOL_DATA_DIR": dir})
	if err != nil || again.SecretKey != c.SecretKey {
		t.Errorf("second start got a different secret key: %q vs %q (%v)", again.SecretKey, c.SecretKey, err)
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	env := map[string]string{
		"MAILSCHOOL_ADDR":       "0.0.0.0:9000",
		"MAILSCHOOL_DATA_DIR":   t.TempDir(),
		"MAILSCHOOL_SECRET_KEY": strings.Repeat("k", 40),
		"MAILSCHOOL_BASE_URL":   "https://learn.example.com/",
	}
	c, err := load(t, env, "--addr", "127.0.0.1:9001")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9001" || c.BaseURL != "https://learn.example.com" || !c.SecureCookies() || c.SecretKey != env["MAILSCHOOL_SECRET_KEY"] {
		t.Errorf("config = %+v", c)
	}
	if _, err := os.Stat(filepath.Join(env["MAILSCHOOL_DATA_DIR"], "secret_key")); !os.IsNotExist(err) {
		t.Error("a secret key was generated although one was given")
	}

	delete(env, "MAILSCHOOL_BASE_URL")
	c, _ = load(t, env)
	if c.BaseURL != "http://localhost:9000" {
		t.Errorf("base URL from a wildcard address = %q", c.BaseURL)
	}
}

func TestInvalidSettings(t *testing.T) {
	dir := t.TempDir()
	for _, env := range []map[string]string{
		{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_BASE_URL": "learn.example.com"},
		{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_BASE_URL": "ftp://learn.example.com"},
		{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_ADDR": "no-port"},
		{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_SECRET_KEY": "short"},
	} {
		if _, err := load(t, env); err == nil {
			t.Errorf("settings %v accepted", env)
		}
	}
}

func TestMailSettings(t *testing.T) {
	env := map[string]string{"MAILSCHOOL_DATA_DIR": t.TempDir(), "MAILSCHOOL_BASE_URL": "https://learn.acme.example"}
	c, err := load(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.From != "mailschool <noreply@learn.acme.example>" || c.SMTPURL != "" || c.SendRate != 0 || !c.Workers {
		t.Errorf("mail defaults = %+v", c)
	}
	env["MAILSCHOOL_SEND_RATE"] = "12.5"
	env["MAILSCHOOL_WORKERS"] = "false"
	env["MAILSCHOOL_FROM"] = "Acme <learn@acme.example>"
	if c, err = load(t, env); err != nil || c.SendRate != 12.5 || c.Workers || c.From != "Acme <learn@acme.example>" {
		t.Errorf("mail settings = %+v, %v", c, err)
	}
	for _, bad := range []map[string]string{
		{"MAILSCHOOL_SEND_RATE": "fast"},
		{"MAILSCHOOL_SEND_RATE": "-1"},
		{"MAILSCHOOL_DKIM_DOMAIN": "acme.example"},
		{"MAILSCHOOL_DKIM_DOMAIN": "acme.example", "MAILSCHOOL_DKIM_SELECTOR": "s1"},
	} {
		bad["MAILSCHOOL_DATA_DIR"] = env["MAILSCHOOL_DATA_DIR"]
		if _, err := load(t, bad); err == nil {
			t.Errorf("settings %v accepted", bad)
		}
	}
	c, _ = load(t, map[string]string{"MAILSCHOOL_DATA_DIR": env["MAILSCHOOL_DATA_DIR"]})
	if c.From != "mailschool <noreply@localhost>" {
		t.Errorf("default From for a local address = %q", c.From)
	}
}

func TestInvitationTTL(t *testing.T) {
	for value, want := range map[string]time.Duration{"": 0, "7d": 7 * 24 * time.Hour, "48h": 48 * time.Hour, "90m": 90 * time.Minute} {
		c := Config{DataDir: t.TempDir(), invitationTTL: value}
		if err := c.Finish(); err != nil {
			t.Errorf("%q: %v", value, err)
		} else if c.InvitationTTL != want {
			t.Errorf("%q: InvitationTTL = %v, want %v", value, c.InvitationTTL, want)
		}
	}
	for _, bad := range []string{"soon", "-1d", "30s", "1.5d"} {
		c := Config{DataDir: t.TempDir(), invitationTTL: bad}
		if err := c.Finish(); err == nil || !strings.Contains(err.Error(), "MAILSCHOOL_INVITATION_TTL") {
			t.Errorf("%q: error %v, want one naming MAILSCHOOL_INVITATION_TTL", bad, err)
		}
	}
}

func TestDeliveryInterval(t *testing.T) {
	c := Config{DataDir: t.TempDir(), deliveryEvery: "30s"}
	if err := c.Finish(); err != nil || c.DeliveryInterval != 30*time.Second {
		t.Errorf("30s: %v, %v", c.DeliveryInterval, err)
	}
	for _, bad := range []string{"often", "10ms", "-1m"} {
		c := Config{DataDir: t.TempDir(), deliveryEvery: bad}
		if err := c.Finish(); err == nil || !strings.Contains(err.Error(), "MAILSCHOOL_DELIVERY_INTERVAL") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
