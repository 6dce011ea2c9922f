package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"log/slog"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/bounces/providers"
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

// dkimKeyFile writes an Ed25519 private key as the DKIM signer reads it.
func dkimKeyFile(t *testing.T) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "dkim.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// tlsFiles writes a self-signed certificate for localhost and its key.
func tlsFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		writeFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestInvalidSettings gives each setting values that must be refused, one
// at a time over otherwise good settings, and checks that the error names
// the setting, repeats the value (unless it may hold a password) and that
// nothing was written to the data directory.
func TestInvalidSettings(t *testing.T) {
	keyFile := dkimKeyFile(t)
	certFile, tlsKeyFile := tlsFiles(t)
	dkim := map[string]string{
		"MAILSCHOOL_DKIM_DOMAIN": "acme.example", "MAILSCHOOL_DKIM_SELECTOR": "s1", "MAILSCHOOL_DKIM_KEY_FILE": keyFile,
	}
	publicKey := writeFile(t, "public.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}))
	notPEM := writeFile(t, "key.txt", []byte("not a key\n"))
	for _, tc := range []struct {
		setting string
		value   string
		also    map[string]string // other settings the bad value needs
		quiet   bool              // the value is not repeated: it may hold a password, or is not at fault
	}{
		{"MAILSCHOOL_DATA_DIR", " ", nil, false},
		{"MAILSCHOOL_BOUNCE_SES_TOPIC_ARN", "ses-bounces", nil, false},
		{"MAILSCHOOL_BOUNCE_SENDGRID_SECRET", "not-a-key-hunter2", nil, true},
		{"MAILSCHOOL_BOUNCE_POSTMARK_SECRET", "hunter2", nil, true},
		{"MAILSCHOOL_METRICS", "yes", nil, false},
		{"MAILSCHOOL_METRICS", "true", nil, false},
		// A token is a secret, never repeated; without metrics on it is
		// refused rather than taken to turn them on.
		{"MAILSCHOOL_METRICS_TOKEN", "a-token-of-32-characters-or-so!!", nil, true},
		{"MAILSCHOOL_METRICS_TOKEN", "a-token-of-32-characters-or-so!!", map[string]string{"MAILSCHOOL_METRICS": "off"}, true},
		{"MAILSCHOOL_METRICS_TOKEN", "short-token", map[string]string{"MAILSCHOOL_METRICS": "on"}, true},
		{"MAILSCHOOL_DATABASE_URL", "mysql://u:p@db/mailschool", nil, true},
		{"MAILSCHOOL_DATABASE_URL", "sqlite:", nil, true},
		{"MAILSCHOOL_DATABASE_URL", "postgres://u:hunter2@db/%zz", nil, true},
		{"MAILSCHOOL_DATABASE_URL", "/var/lib/mailschool.db", nil, true},
		{"MAILSCHOOL_ADDR", "no-port", nil, false},
		{"MAILSCHOOL_ADDR", "8080", nil, false},
		{"MAILSCHOOL_ADDR", "127.0.0.1:http", nil, false},
		{"MAILSCHOOL_ADDR", "127.0.0.1:65536", nil, false},
		{"MAILSCHOOL_ADDR", "127.0.0.1:-1", nil, false},
		{"MAILSCHOOL_ADDR", "bad host:8080", nil, false},
		{"MAILSCHOOL_ADDR", "-host:8080", nil, false},
		{"MAILSCHOOL_BASE_URL", "learn.example.com", nil, false},
		{"MAILSCHOOL_BASE_URL", "ftp://learn.example.com", nil, false},
		{"MAILSCHOOL_BASE_URL", "https://", nil, false},
		{"MAILSCHOOL_BASE_URL", "https://learn.example.com/?lang=en", nil, false},
		{"MAILSCHOOL_BASE_URL", "https://learn.example.com/#top", nil, false},
		{"MAILSCHOOL_BASE_URL", "https://admin@learn.example.com", nil, false},
		{"MAILSCHOOL_SECRET_KEY", "short", nil, true},
		{"MAILSCHOOL_WORKERS", "no", nil, false},
		{"MAILSCHOOL_WORKERS", "FALSE!", nil, false},
		{"MAILSCHOOL_WORKERS", "f", nil, false},
		{"MAILSCHOOL_WORKERS", "off", nil, false},
		{"MAILSCHOOL_WORKERS", "2", nil, false},
		{"MAILSCHOOL_WORKERS", " ", nil, false},
		{"MAILSCHOOL_SEND_RATE", "fast", nil, false},
		{"MAILSCHOOL_SEND_RATE", "-1", nil, false},
		{"MAILSCHOOL_SEND_RATE", "NaN", nil, false},
		{"MAILSCHOOL_SEND_RATE", "Inf", nil, false},
		{"MAILSCHOOL_SEND_RATE", "+Inf", nil, false},
		{"MAILSCHOOL_SEND_RATE", "1e-300", nil, false},
		{"MAILSCHOOL_SEND_RATE", "0.00009", nil, false},
		{"MAILSCHOOL_SEND_RATE", "10001", nil, false},
		{"MAILSCHOOL_SEND_RATE", "1e308", nil, false},
		{"MAILSCHOOL_INVITATION_TTL", "soon", nil, false},
		{"MAILSCHOOL_INVITATION_TTL", "-1d", nil, false},
		{"MAILSCHOOL_INVITATION_TTL", "30s", nil, false},
		{"MAILSCHOOL_INVITATION_TTL", "1.5d", nil, false},
		{"MAILSCHOOL_INVITATION_TTL", "0", nil, false},
		{"MAILSCHOOL_INVITATION_TTL", "91d", nil, false},
		{"MAILSCHOOL_INVITATION_TTL", "2161h", nil, false},
		{"MAILSCHOOL_INVITATION_TTL", "106751d", nil, false},              // just under time.Duration's limit
		{"MAILSCHOOL_INVITATION_TTL", "9223372036854775807d", nil, false}, // would wrap around
		{"MAILSCHOOL_DELIVERY_INTERVAL", "often", nil, false},
		{"MAILSCHOOL_DELIVERY_INTERVAL", "10ms", nil, false},
		{"MAILSCHOOL_DELIVERY_INTERVAL", "-1m", nil, false},
		{"MAILSCHOOL_DELIVERY_INTERVAL", "0", nil, false},
		{"MAILSCHOOL_DELIVERY_INTERVAL", "61m", nil, false},
		{"MAILSCHOOL_DELIVERY_INTERVAL", "100000h", nil, false},
		{"MAILSCHOOL_BOUNCE_DOMAIN", "bounces@acme.example", nil, false},
		{"MAILSCHOOL_BOUNCE_SOFT_LIMIT", "3", nil, false},
		{"MAILSCHOOL_BOUNCE_SOFT_LIMIT", "0/7d", nil, false},
		{"MAILSCHOOL_BOUNCE_SOFT_LIMIT", "3/10s", nil, false},
		{"MAILSCHOOL_BOUNCE_SOFT_LIMIT", "3/91d", nil, false},
		{"MAILSCHOOL_BOUNCE_SOFT_LIMIT", "3/9223372036854775807d", nil, false},
		{"MAILSCHOOL_BOUNCE_BLOCK_PLATFORM", "yes", nil, false},
		{"MAILSCHOOL_LIMIT_API_KEY", "lots", nil, false},
		{"MAILSCHOOL_LIMIT_API_KEY", "0", nil, false},
		{"MAILSCHOOL_LIMIT_API_KEY", "-5", nil, false},
		{"MAILSCHOOL_LIMIT_API_KEY", "1000001", nil, false},
		{"MAILSCHOOL_LIMIT_API_KEY", "60", map[string]string{"MAILSCHOOL_LIMIT_API_PER_KEY": "60/1s"}, true},
		{"MAILSCHOOL_LIMIT_API_PER_KEY", "600", nil, false},
		{"MAILSCHOOL_LIMIT_ENROLL_PER_IP", "30", nil, false},
		{"MAILSCHOOL_LIMIT_ENROLL_PER_IP", "30/3", nil, false},
		{"MAILSCHOOL_LIMIT_ENROLL_PER_IP", "0/3s", nil, false},
		{"MAILSCHOOL_LIMIT_ENROLL_PER_IP", "-1/3s", nil, false},
		{"MAILSCHOOL_LIMIT_ENROLL_PER_IP", "30/-3s", nil, false},
		{"MAILSCHOOL_LIMIT_ENROLL_PER_IP", "30/0s", nil, false},
		{"MAILSCHOOL_LIMIT_ENROLL_PER_IP", "30/25h", nil, false},
		{"MAILSCHOOL_LIMIT_ENROLL_PER_IP", "1000001/1s", nil, false},
		{"MAILSCHOOL_LIMIT_ENROLL_PER_IP", "3s/30", nil, false},
		{"MAILSCHOOL_LIMIT_LOGIN_PER_IP", "30/3s/1", nil, false},
		{"MAILSCHOOL_LIMIT_LOGIN_PER_ACCOUNT", "many", nil, false},
		{"MAILSCHOOL_LIMIT_LOGIN_PER_ACCOUNT_IP", "10", nil, false},
		{"MAILSCHOOL_LIMIT_RESET_PER_IP", " 10/12s", nil, false},
		{"MAILSCHOOL_LIMIT_RESET_PER_ADDRESS", "3/20min", nil, false},
		{"MAILSCHOOL_LIMIT_INVITATION_PER_IP", "20/6 s", nil, false},
		{"MAILSCHOOL_LIMIT_PASSWORD_CHANGE_PER_ACCOUNT", "5/1m0x", nil, false},
		{"MAILSCHOOL_TRUSTED_PROXIES", "10.0.0.0/33", nil, false},
		{"MAILSCHOOL_TRUSTED_PROXIES", "10.0.0.0/8;192.0.2.1", nil, false},
		{"MAILSCHOOL_TRUSTED_PROXIES", "proxy.internal", nil, false},
		{"MAILSCHOOL_TRUSTED_PROXIES", "fe80::1%eth0", nil, false},
		{"MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS", "0.0.0.0/0", nil, false},
		{"MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/7", nil, false},
		{"MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS", "::/0", nil, false},
		{"MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS", "receiver.internal", nil, false},
		{"MAILSCHOOL_TLS_ACME_HOST", "localhost", nil, false},
		{"MAILSCHOOL_TLS_ACME_HOST", "https://learn.acme.example", nil, false},
		{"MAILSCHOOL_TLS_ACME_HOST", "learn.acme.example", map[string]string{"MAILSCHOOL_TLS_CERT": certFile, "MAILSCHOOL_TLS_KEY": tlsKeyFile}, true},
		{"MAILSCHOOL_TLS_CERT", certFile, nil, true}, // one without the other
		{"MAILSCHOOL_TLS_KEY", tlsKeyFile, nil, true},
		{"MAILSCHOOL_TLS_CERT", keyFile, map[string]string{"MAILSCHOOL_TLS_KEY": tlsKeyFile}, false},
		{"MAILSCHOOL_TLS_KEY", certFile, map[string]string{"MAILSCHOOL_TLS_CERT": certFile}, false},
		{"MAILSCHOOL_SHUTDOWN_TIMEOUT", "soon", nil, false},
		{"MAILSCHOOL_SHUTDOWN_TIMEOUT", "10", nil, false},
		{"MAILSCHOOL_SHUTDOWN_TIMEOUT", "-1s", nil, false},
		{"MAILSCHOOL_SHUTDOWN_TIMEOUT", "10m1s", nil, false},
		{"MAILSCHOOL_FROM", "learn", nil, false},
		{"MAILSCHOOL_FROM", "Acme <learn@>", nil, false},
		{"MAILSCHOOL_FROM", "a@acme.example, b@acme.example", nil, false},
		{"MAILSCHOOL_FROM", "Acme <learn@acme.example", nil, false},
		{"MAILSCHOOL_SMTP_URL", "http://mail.example.com", nil, true},
		{"MAILSCHOOL_SMTP_URL", "smtp://user:hunter2@mail.example.com:99999", nil, true},
		{"MAILSCHOOL_SMTP_URL", "smtp://", nil, true},
		{"MAILSCHOOL_SMTP_URL", "smtps://mail.example.com?tls=none", nil, true},
		{"MAILSCHOOL_SMTP_URL", "mail.example.com:587", nil, true},
		{"MAILSCHOOL_BOUNCE_MAILBOX", "https://user:hunter2@mail.example.com", nil, true},
		{"MAILSCHOOL_BOUNCE_MAILBOX", "imaps://user:hunter2@mail.example.com/INBOX?tls=none", nil, true},
		{"MAILSCHOOL_BOUNCE_MAILBOX", "pop3s://user:hunter2@mail.example.com?processed=Done", nil, true},
		{"MAILSCHOOL_BOUNCE_MAILBOX", "imaps://mail.example.com/INBOX", nil, true},
		{"MAILSCHOOL_BOUNCE_MAILBOX", "imaps://user:hunter2@mail.example.com/INBOX", nil, true}, // no MAILSCHOOL_BOUNCE_DOMAIN
		{"MAILSCHOOL_DKIM_DOMAIN", "acme.example", map[string]string{"MAILSCHOOL_DKIM_DOMAIN": "acme.example"}, true},
		{"MAILSCHOOL_DKIM_SELECTOR", "s1", map[string]string{"MAILSCHOOL_DKIM_DOMAIN": "acme.example", "MAILSCHOOL_DKIM_SELECTOR": "s1"}, true},
		{"MAILSCHOOL_DKIM_KEY_FILE", keyFile, map[string]string{"MAILSCHOOL_DKIM_KEY_FILE": keyFile}, true},
		{"MAILSCHOOL_DKIM_DOMAIN", "acme example", dkim, false},
		{"MAILSCHOOL_DKIM_DOMAIN", "acme..example", dkim, false},
		{"MAILSCHOOL_DKIM_DOMAIN", "-acme.example", dkim, false},
		{"MAILSCHOOL_DKIM_DOMAIN", "acme.example.", dkim, false},
		{"MAILSCHOOL_DKIM_DOMAIN", "bücher.example", dkim, false},
		{"MAILSCHOOL_DKIM_DOMAIN", strings.Repeat("a", 64) + ".example", dkim, false},
		{"MAILSCHOOL_DKIM_SELECTOR", "s1._domainkey", dkim, false},
		{"MAILSCHOOL_DKIM_SELECTOR", "s 1", dkim, false},
		{"MAILSCHOOL_DKIM_SELECTOR", "s1;", dkim, false},
		{"MAILSCHOOL_DKIM_KEY_FILE", filepath.Join(t.TempDir(), "missing.pem"), dkim, false},
		{"MAILSCHOOL_DKIM_KEY_FILE", t.TempDir(), dkim, false}, // a directory: cannot be read
		{"MAILSCHOOL_DKIM_KEY_FILE", notPEM, dkim, false},
		{"MAILSCHOOL_DKIM_KEY_FILE", publicKey, dkim, false},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		env := map[string]string{"MAILSCHOOL_DATA_DIR": dir}
		for k, v := range tc.also {
			env[k] = v
		}
		env[tc.setting] = tc.value
		_, err := load(t, env)
		if err == nil {
			t.Errorf("%s=%q accepted", tc.setting, tc.value)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.setting) {
			t.Errorf("%s=%q: error %q does not name the setting", tc.setting, tc.value, msg)
		}
		if !tc.quiet && !strings.Contains(msg, tc.value) {
			t.Errorf("%s=%q: error %q does not repeat the value", tc.setting, tc.value, msg)
		}
		if tc.setting == "MAILSCHOOL_METRICS_TOKEN" && strings.Contains(msg, tc.value) {
			t.Errorf("%s: error %q shows the token", tc.setting, msg)
		}
		if strings.Contains(msg, "hunter2") {
			t.Errorf("%s=%q: error %q shows the password", tc.setting, tc.value, msg)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) && tc.setting != "MAILSCHOOL_DATA_DIR" {
			t.Errorf("%s=%q: the data directory was created for a bad setting", tc.setting, tc.value)
		}
	}
}

// TestInvalidFlags checks that a bad value given on the command line is a
// usage error, before any setting is acted on.
func TestInvalidFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-workers=maybe"}, {"-workers=no"}, {"-workers=t"},
		{"-shutdown-timeout=11m"}, {"-shutdown-timeout=-1s"}, {"-shutdown-timeout", "soon"},
		{"-addr", "no-port"}, {"-data-dir="}, {"-metrics=yes"},
	} {
		var c Config
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		var out strings.Builder
		fs.SetOutput(&out)
		env := func(string) string { return "" }
		c.Register(fs, env)
		c.RegisterServer(fs, env)
		if err := fs.Parse(args); err == nil {
			t.Errorf("%v accepted", args)
		} else if !strings.Contains(err.Error(), strings.TrimLeft(strings.SplitN(args[0], "=", 2)[0], "-")) || !strings.Contains(err.Error(), "must") {
			t.Errorf("%v: error %q does not say which flag and what it takes", args, err)
		}
	}
}

// TestValidSettings checks that good values, at the edges of what is
// accepted too, are read as they mean.
func TestValidSettings(t *testing.T) {
	keyFile := dkimKeyFile(t)
	certFile, tlsKeyFile := tlsFiles(t)
	key := strings.Repeat("k", 32)
	for _, tc := range []struct {
		env   map[string]string
		args  []string
		check func(Config) bool
	}{
		{nil, nil, func(c Config) bool {
			return c.Workers && c.ShutdownTimeout == 10*time.Second && c.SendRate == 0 && c.InvitationTTL == 0 && c.DeliveryInterval == 0
		}},
		{map[string]string{"MAILSCHOOL_WORKERS": "FALSE"}, nil, func(c Config) bool { return !c.Workers }},
		{map[string]string{"MAILSCHOOL_WORKERS": "0"}, nil, func(c Config) bool { return !c.Workers }},
		{map[string]string{"MAILSCHOOL_WORKERS": "1"}, nil, func(c Config) bool { return c.Workers }},
		{map[string]string{"MAILSCHOOL_WORKERS": "True"}, nil, func(c Config) bool { return c.Workers }},
		{map[string]string{"MAILSCHOOL_WORKERS": "false"}, []string{"-workers"}, func(c Config) bool { return c.Workers }},
		{map[string]string{"MAILSCHOOL_WORKERS": "no"}, []string{"-workers=0"}, func(c Config) bool { return !c.Workers }},
		{nil, nil, func(c Config) bool { return c.Limits == Limits{} && c.TrustedProxies == nil }},
		{map[string]string{"MAILSCHOOL_BOUNCE_SES_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:ses-bounces",
			"MAILSCHOOL_BOUNCE_POSTMARK_SECRET": "postmark:hunter2", "MAILSCHOOL_BOUNCE_MAILGUN_SECRET": "key-123"}, nil, func(c Config) bool {
			return c.BounceWebhooks == providers.Settings{SESTopicARN: "arn:aws:sns:eu-west-1:123456789012:ses-bounces",
				PostmarkCredentials: "postmark:hunter2", MailgunSigningKey: "key-123"}
		}},
		{map[string]string{"MAILSCHOOL_LIMIT_API_KEY": "60"}, nil, func(c Config) bool { return c.Limits.APIPerKey == auth.Limit{Every: time.Second, Burst: 60} }},
		{map[string]string{"MAILSCHOOL_LIMIT_API_KEY": "1200/min"}, nil, func(c Config) bool { return c.Limits.APIPerKey.Burst == 1200 }},
		{map[string]string{"MAILSCHOOL_LIMIT_BOUNCE_WEBHOOK_PER_IP": "60/1m"}, nil, func(c Config) bool {
			return c.Limits.BounceWebhookPerIP == auth.Limit{Every: time.Minute, Burst: 60}
		}},
		{map[string]string{"MAILSCHOOL_LIMIT_API_PER_KEY": "600/100ms"}, nil, func(c Config) bool {
			return c.Limits.APIPerKey == auth.Limit{Every: 100 * time.Millisecond, Burst: 600}
		}},
		{map[string]string{"MAILSCHOOL_LIMIT_ENROLL_PER_IP": "300/1s", "MAILSCHOOL_LIMIT_LOGIN_PER_ACCOUNT": "1/24h"}, nil, func(c Config) bool {
			return c.Limits == Limits{EnrollPerIP: auth.Limit{Every: time.Second, Burst: 300}, LoginPerAccount: auth.Limit{Every: 24 * time.Hour, Burst: 1}}
		}},
		{map[string]string{"MAILSCHOOL_LIMIT_RESET_PER_ADDRESS": "1000000/1ms"}, nil, func(c Config) bool {
			return c.Limits.ResetPerAddress == auth.Limit{Every: time.Millisecond, Burst: 1000000}
		}},
		{map[string]string{"MAILSCHOOL_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7 fd00::1/8,::1"}, nil, func(c Config) bool {
			return slices.Equal(c.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
				netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("::1/128")})
		}},
		{map[string]string{"MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/8, 127.0.0.1 fc00::/7"}, nil, func(c Config) bool {
			return slices.Equal(c.WebhookAllowedNetworks, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"),
				netip.MustParsePrefix("fc00::/7")})
		}},
		{map[string]string{"MAILSCHOOL_TLS_ACME_HOST": "learn.acme.example"}, nil, func(c Config) bool {
			return c.ACMEHost == "learn.acme.example" && c.BaseURL == "https://learn.acme.example"
		}},
		{map[string]string{"MAILSCHOOL_TLS_CERT": certFile, "MAILSCHOOL_TLS_KEY": tlsKeyFile, "MAILSCHOOL_ADDR": ":8443"}, nil, func(c Config) bool {
			return c.TLSCert == certFile && c.BaseURL == "https://localhost:8443" && c.SecureCookies()
		}},
		{nil, nil, func(c Config) bool { return !c.Metrics && c.MetricsToken == "" }},
		{map[string]string{"MAILSCHOOL_METRICS": "ON"}, nil, func(c Config) bool { return c.Metrics }},
		{map[string]string{"MAILSCHOOL_METRICS": "on"}, []string{"-metrics=off"}, func(c Config) bool { return !c.Metrics }},
		{map[string]string{"MAILSCHOOL_METRICS": "on", "MAILSCHOOL_METRICS_TOKEN": "0123456789abcdef"}, nil,
			func(c Config) bool { return c.Metrics && c.MetricsToken == "0123456789abcdef" }},
		{nil, []string{"-metrics=on", "-metrics-token=0123456789abcdef"}, func(c Config) bool { return c.Metrics && c.MetricsToken == "0123456789abcdef" }},
		{map[string]string{"MAILSCHOOL_SHUTDOWN_TIMEOUT": "0"}, nil, func(c Config) bool { return c.ShutdownTimeout == 0 }},
		{map[string]string{"MAILSCHOOL_SHUTDOWN_TIMEOUT": "10m"}, nil, func(c Config) bool { return c.ShutdownTimeout == 10*time.Minute }},
		{map[string]string{"MAILSCHOOL_SHUTDOWN_TIMEOUT": "2m"}, []string{"-shutdown-timeout=30s"}, func(c Config) bool { return c.ShutdownTimeout == 30*time.Second }},
		{map[string]string{"MAILSCHOOL_SEND_RATE": "0"}, nil, func(c Config) bool { return c.SendRate == 0 }},
		{map[string]string{"MAILSCHOOL_SEND_RATE": "0.0001"}, nil, func(c Config) bool { return c.SendRate == 0.0001 }},
		{map[string]string{"MAILSCHOOL_SEND_RATE": "1e4"}, nil, func(c Config) bool { return c.SendRate == 10000 }},
		{map[string]string{"MAILSCHOOL_INVITATION_TTL": "1m"}, nil, func(c Config) bool { return c.InvitationTTL == time.Minute }},
		{map[string]string{"MAILSCHOOL_INVITATION_TTL": "90d"}, nil, func(c Config) bool { return c.InvitationTTL == 90*24*time.Hour }},
		{map[string]string{}, nil, func(c Config) bool {
			return c.BounceDomain == "" && c.BounceSoftLimit == 3 && c.BounceSoftWindow == 7*24*time.Hour && c.BounceBlockPlatform
		}},
		{map[string]string{"MAILSCHOOL_BOUNCE_DOMAIN": "Bounces.Acme.example", "MAILSCHOOL_BOUNCE_SOFT_LIMIT": "5/72h", "MAILSCHOOL_BOUNCE_BLOCK_PLATFORM": "false"}, nil,
			func(c Config) bool {
				return c.BounceDomain == "bounces.acme.example" && c.BounceSoftLimit == 5 && c.BounceSoftWindow == 72*time.Hour && !c.BounceBlockPlatform
			}},
		{map[string]string{"MAILSCHOOL_BOUNCE_SOFT_LIMIT": "2/30d"}, nil, func(c Config) bool { return c.BounceSoftLimit == 2 && c.BounceSoftWindow == 30*24*time.Hour }},
		{map[string]string{"MAILSCHOOL_DELIVERY_INTERVAL": "1s"}, nil, func(c Config) bool { return c.DeliveryInterval == time.Second }},
		{map[string]string{"MAILSCHOOL_DELIVERY_INTERVAL": "1h"}, nil, func(c Config) bool { return c.DeliveryInterval == time.Hour }},
		{map[string]string{"MAILSCHOOL_ADDR": ":9000"}, nil, func(c Config) bool { return c.BaseURL == "http://localhost:9000" }},
		{map[string]string{"MAILSCHOOL_ADDR": "[::1]:0"}, nil, func(c Config) bool { return c.BaseURL == "http://[::1]:0" }},
		{map[string]string{"MAILSCHOOL_ADDR": "learn-1.internal:8080"}, nil, func(c Config) bool { return c.Addr == "learn-1.internal:8080" }},
		{map[string]string{"MAILSCHOOL_BASE_URL": "https://acme.example/learn/"}, nil, func(c Config) bool { return c.BaseURL == "https://acme.example/learn" }},
		{map[string]string{"MAILSCHOOL_DATABASE_URL": "postgres://u:p@db:5432/mailschool?sslmode=disable", "MAILSCHOOL_SECRET_KEY": key}, nil,
			func(c Config) bool { return c.DatabaseURL != "" }},
		{map[string]string{"MAILSCHOOL_DATABASE_URL": "sqlite:/var/lib/mailschool.db"}, nil, func(c Config) bool { return c.DatabaseURL != "" }},
		{map[string]string{"MAILSCHOOL_FROM": "learn@acme.example"}, nil, func(c Config) bool { return c.From == "learn@acme.example" }},
		{map[string]string{"MAILSCHOOL_FROM": `"Acme, Inc." <learn@acme.example>`}, nil, func(c Config) bool { return c.From != "" }},
		{map[string]string{"MAILSCHOOL_SMTP_URL": "smtp://user:p%40ss@mail.example.com:587"}, nil, func(c Config) bool { return c.SMTPURL != "" }},
		{map[string]string{"MAILSCHOOL_SMTP_URL": "smtp://localhost:25?tls=none"}, nil, func(c Config) bool { return c.SMTPURL != "" }},
		{map[string]string{"MAILSCHOOL_BOUNCE_MAILBOX": "imaps://bounces%40acme.example:p@mail.acme.example/INBOX?processed=Done",
			"MAILSCHOOL_BOUNCE_DOMAIN": "bounce.acme.example"}, nil, func(c Config) bool { return c.BounceMailbox != "" }},
		{map[string]string{"MAILSCHOOL_BOUNCE_MAILBOX": "pop3://bounces:p@localhost:1110?tls=none", "MAILSCHOOL_BOUNCE_DOMAIN": "bounce.acme.example"}, nil,
			func(c Config) bool { return c.BounceMailbox != "" }},
		// DKIM is checked whatever the transport, the outbox included.
		{map[string]string{"MAILSCHOOL_DKIM_DOMAIN": "mail.acme.example", "MAILSCHOOL_DKIM_SELECTOR": "s2024-01.eu", "MAILSCHOOL_DKIM_KEY_FILE": keyFile}, nil,
			func(c Config) bool { return c.DKIMSelector == "s2024-01.eu" }},
	} {
		env := map[string]string{"MAILSCHOOL_DATA_DIR": t.TempDir()}
		for k, v := range tc.env {
			env[k] = v
		}
		c, err := load(t, env, tc.args...)
		if err != nil {
			t.Errorf("%v %v: %v", tc.env, tc.args, err)
		} else if !tc.check(c) {
			t.Errorf("%v %v: config = %+v", tc.env, tc.args, c)
		}
	}
}

// TestCommandsWithoutAddrFlag: deliver and sendtest have no --addr, yet
// derive the links they send from the address serve listens on.
func TestCommandsWithoutAddrFlag(t *testing.T) {
	var c Config
	env := map[string]string{"MAILSCHOOL_DATA_DIR": t.TempDir(), "MAILSCHOOL_ADDR": "0.0.0.0:9000"}
	c.Register(flag.NewFlagSet("deliver", flag.ContinueOnError), func(k string) string { return env[k] })
	if err := c.Finish(); err != nil || c.BaseURL != "http://localhost:9000" {
		t.Errorf("base URL = %q, %v; want the one serve uses", c.BaseURL, err)
	}
	if c.ShutdownTimeout != DefaultShutdownTimeout {
		t.Errorf("ShutdownTimeout = %v, want the default", c.ShutdownTimeout)
	}
}

func TestLogLevel(t *testing.T) {
	for s, want := range map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "INFO": slog.LevelInfo, "Warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := LogLevel(s); err != nil || got != want {
			t.Errorf("LogLevel(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, bad := range []string{"verbose", "warning", "info+1", "DEBUG-4", "3", " info"} {
		if _, err := LogLevel(bad); err == nil || !strings.Contains(err.Error(), "MAILSCHOOL_LOG_LEVEL") || !strings.Contains(err.Error(), "debug, info, warn or error") {
			t.Errorf("LogLevel(%q): %v", bad, err)
		}
	}
}

// TestStoredSecretKeyTooShort: a damaged key file is reported as such,
// not as a bad MAILSCHOOL_SECRET_KEY.
func TestStoredSecretKeyTooShort(t *testing.T) {
	dir := t.TempDir()
	writeKey := filepath.Join(dir, "secret_key")
	if err := os.WriteFile(writeKey, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, map[string]string{"MAILSCHOOL_DATA_DIR": dir}); err == nil || !strings.Contains(err.Error(), writeKey) {
		t.Errorf("short stored key: %v", err)
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
}

func TestDeliveryInterval(t *testing.T) {
	c := Config{DataDir: t.TempDir(), deliveryEvery: "30s"}
	if err := c.Finish(); err != nil || c.DeliveryInterval != 30*time.Second {
		t.Errorf("30s: %v, %v", c.DeliveryInterval, err)
	}
}
