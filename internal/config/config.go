// Package config reads mailschool's settings from command-line flags and
// MAILSCHOOL_* environment variables. A flag given on the command line wins
// over the environment, which wins over the default.
package config

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/bounces/mailbox"
	"github.com/mailschool/mailschool/internal/bounces/providers"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
)

// Config holds the settings shared by the subcommands.
type Config struct {
	Addr        string // listen address of the HTTP server
	DataDir     string // SQLite database and generated secret key
	DatabaseURL string // empty: SQLite in DataDir; postgres://...: PostgreSQL
	BaseURL     string // absolute URL of the site, used in emails
	SecretKey   string // signs tokens; generated into DataDir when unset

	SMTPURL      string // empty: the built-in outbox
	From         string // From header of every email
	DKIMDomain   string // DKIM signing, all three or none
	DKIMSelector string
	DKIMKeyFile  string
	SendRate     float64 // messages per second per node; 0: no limit
	Workers      bool    // run background jobs in this process
	// BounceMailbox is the IMAP or POP3 mailbox bounces are read from
	// (MAILSCHOOL_BOUNCE_MAILBOX); empty: none.
	BounceMailbox string

	// InvitationTTL is how long invitation links work; zero takes the
	// default (7 days).
	InvitationTTL time.Duration
	// DeliveryInterval is how often the delivery pass runs; zero takes
	// the default (a minute).
	DeliveryInterval time.Duration
	// ShutdownTimeout is how long serve lets running background jobs
	// finish, once told to stop, before it cancels them. Finish sets it,
	// to DefaultShutdownTimeout when it is not configured.
	ShutdownTimeout time.Duration
	// Limits are the rate limits set by configuration (MAILSCHOOL_LIMIT_*);
	// those left zero take the server's defaults.
	Limits Limits
	// TrustedProxies are the peers whose X-Forwarded-For and Forwarded
	// headers name the client (MAILSCHOOL_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// WebhookAllowedNetworks are the private ranges webhooks may be sent
	// to, over plain HTTP too (MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS).
	WebhookAllowedNetworks []netip.Prefix
	// TLSCert and TLSKey are the files of the certificate serve answers
	// TLS with; empty: plain HTTP (behind a TLS proxy).
	TLSCert, TLSKey string
	// Signup says who may sign up for an organization of their own
	// (MAILSCHOOL_SIGNUP).
	Signup orgs.SignupPolicy
	// ACMEHost is the public host name serve gets certificates for from
	// Let's Encrypt (MAILSCHOOL_TLS_ACME_HOST); empty: none.
	ACMEHost string
	// Metrics serves /metrics (MAILSCHOOL_METRICS=on); MetricsToken, when
	// set, is the bearer token a scrape must present.
	Metrics      bool
	MetricsToken string
	// BounceWebhooks turn on the providers' bounce webhooks
	// (MAILSCHOOL_BOUNCE_SES_TOPIC_ARN, MAILSCHOOL_BOUNCE_<PROVIDER>_SECRET).
	BounceWebhooks providers.Settings
	// Bounce rules: the domain of per-message return paths (empty: the
	// From address is the envelope sender), the soft bounces that count
	// as a hard one, and whether a hard bounce blocks for every
	// organization.
	BounceDomain        string
	BounceSoftLimit     int
	BounceSoftWindow    time.Duration
	BounceBlockPlatform bool

	// The settings below are kept as given and parsed by Finish: a flag's
	// default comes from the environment before anything can report an
	// error, so a bad environment value must be reported later.
	envAddr         string // MAILSCHOOL_ADDR, for the base URL of commands without --addr
	workers         string // MAILSCHOOL_WORKERS or --workers
	sendRate        string // MAILSCHOOL_SEND_RATE
	invitationTTL   string // MAILSCHOOL_INVITATION_TTL
	signup          string // MAILSCHOOL_SIGNUP or --signup
	deliveryEvery   string // MAILSCHOOL_DELIVERY_INTERVAL
	shutdownTimeout string // MAILSCHOOL_SHUTDOWN_TIMEOUT or --shutdown-timeout
	apiKeyLimit     string // MAILSCHOOL_LIMIT_API_KEY, the older name of MAILSCHOOL_LIMIT_API_PER_KEY

	limits         map[string]string // MAILSCHOOL_LIMIT_<NAME>, by name
	trustedProxies string            // MAILSCHOOL_TRUSTED_PROXIES
	webhookNets    string            // MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS
	metrics        string            // MAILSCHOOL_METRICS or --metrics
	bounceSoft     string            // MAILSCHOOL_BOUNCE_SOFT_LIMIT
	bouncePlatform string            // MAILSCHOOL_BOUNCE_BLOCK_PLATFORM
}

// Defaults and bounds of the settings. The bounds catch typing mistakes
// (a unit left out, a stray zero) rather than express policy: every value
// inside them works.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultDataDir         = "./data"
	DefaultShutdownTimeout = 10 * time.Second

	// A positive send rate below MinSendRate (about 8 messages a day)
	// would hold mail for hours; above MaxSendRate it is no limit in
	// practice, which 0 says plainly.
	MinSendRate = 0.0001
	MaxSendRate = 10000

	MinInvitationTTL    = time.Minute
	MaxInvitationTTL    = 90 * 24 * time.Hour
	MinDeliveryInterval = time.Second
	MaxDeliveryInterval = time.Hour
	MaxShutdownTimeout  = 10 * time.Minute

	MaxAPIKeyPerMinute = 1_000_000

	// MinMetricsTokenLength keeps the metrics token out of guessing range.
	MinMetricsTokenLength = 16

	// Soft bounces that count as a hard one: 3 in 7 days by default, at
	// most MaxBounceSoftLimit within MaxBounceSoftWindow.
	DefaultBounceSoftLimit  = 3
	DefaultBounceSoftWindow = 7 * 24 * time.Hour
	MaxBounceSoftLimit      = 100
	MaxBounceSoftWindow     = 90 * 24 * time.Hour
)

// Env reads an environment variable; os.Getenv in production.
type Env func(string) string

// Register adds the flags shared by the subcommands to fs, with defaults
// taken from the environment.
func (c *Config) Register(fs *flag.FlagSet, env Env) {
	c.DataDir = or(env("MAILSCHOOL_DATA_DIR"), DefaultDataDir)
	fs.Var(checkedFlag{&c.DataDir, checkDataDir, false}, "data-dir",
		"`directory` for the SQLite database and the generated secret key (MAILSCHOOL_DATA_DIR)")
	c.envAddr = env("MAILSCHOOL_ADDR")
	c.DatabaseURL = env("MAILSCHOOL_DATABASE_URL")
	c.BaseURL = env("MAILSCHOOL_BASE_URL")
	c.SecretKey = env("MAILSCHOOL_SECRET_KEY")
	c.SMTPURL = env("MAILSCHOOL_SMTP_URL")
	c.From = env("MAILSCHOOL_FROM")
	c.DKIMDomain = env("MAILSCHOOL_DKIM_DOMAIN")
	c.DKIMSelector = env("MAILSCHOOL_DKIM_SELECTOR")
	c.DKIMKeyFile = env("MAILSCHOOL_DKIM_KEY_FILE")
	c.BounceMailbox = env("MAILSCHOOL_BOUNCE_MAILBOX") // read by the poller, see internal/bounces/mailbox
	c.sendRate = env("MAILSCHOOL_SEND_RATE")
	c.invitationTTL = env("MAILSCHOOL_INVITATION_TTL")
	c.signup = or(env("MAILSCHOOL_SIGNUP"), "closed")
	fs.StringVar(&c.signup, "signup", c.signup,
		"who may sign up for an organization of their own: closed, open, or domains:example.edu,... (MAILSCHOOL_SIGNUP)")
	c.deliveryEvery = env("MAILSCHOOL_DELIVERY_INTERVAL")
	c.shutdownTimeout = env("MAILSCHOOL_SHUTDOWN_TIMEOUT")
	c.apiKeyLimit = env("MAILSCHOOL_LIMIT_API_KEY")
	c.BounceDomain = env("MAILSCHOOL_BOUNCE_DOMAIN")           // per-message return paths
	c.bounceSoft = env("MAILSCHOOL_BOUNCE_SOFT_LIMIT")         // N soft bounces in D count as hard
	c.bouncePlatform = env("MAILSCHOOL_BOUNCE_BLOCK_PLATFORM") // hard bounces block for every organization
	c.registerProduction(env)
}

// RegisterServer adds the flags of the HTTP server.
func (c *Config) RegisterServer(fs *flag.FlagSet, env Env) {
	c.Addr = or(env("MAILSCHOOL_ADDR"), DefaultAddr)
	fs.Var(checkedFlag{&c.Addr, checkAddr, false}, "addr",
		"`host:port` to listen on; port 0 picks a free one (MAILSCHOOL_ADDR)")
	c.workers = or(env("MAILSCHOOL_WORKERS"), "true")
	fs.Var(checkedFlag{&c.workers, checkBool, true}, "workers",
		"run background jobs (sending email) in this process; false for web-only nodes (MAILSCHOOL_WORKERS)")
	c.shutdownTimeout = or(env("MAILSCHOOL_SHUTDOWN_TIMEOUT"), DefaultShutdownTimeout.String())
	fs.Var(checkedFlag{&c.shutdownTimeout, checkShutdownTimeout, false}, "shutdown-timeout",
		"how long running background jobs may finish after a stop signal before they are cancelled, a `duration` from 0s to 10m (MAILSCHOOL_SHUTDOWN_TIMEOUT)")
	c.TLSCert = env("MAILSCHOOL_TLS_CERT")
	c.TLSKey = env("MAILSCHOOL_TLS_KEY")
	c.ACMEHost = env("MAILSCHOOL_TLS_ACME_HOST")
	c.metrics = or(env("MAILSCHOOL_METRICS"), "off")
	fs.Var(checkedFlag{&c.metrics, checkMetrics, false}, "metrics",
		"`on` to serve Prometheus metrics at /metrics, off to not (MAILSCHOOL_METRICS)")
	c.MetricsToken = env("MAILSCHOOL_METRICS_TOKEN")
	fs.StringVar(&c.MetricsToken, "metrics-token", c.MetricsToken,
		"bearer `token` that /metrics requires, at least 16 characters; needs --metrics=on (MAILSCHOOL_METRICS_TOKEN)")
	// The providers' bounce webhooks: secrets, so environment only.
	c.BounceWebhooks = providers.Settings{SESTopicARN: env("MAILSCHOOL_BOUNCE_SES_TOPIC_ARN"),
		SendGridPublicKey: env("MAILSCHOOL_BOUNCE_SENDGRID_SECRET"), PostmarkCredentials: env("MAILSCHOOL_BOUNCE_POSTMARK_SECRET"),
		MailgunSigningKey: env("MAILSCHOOL_BOUNCE_MAILGUN_SECRET")}
}

// Finish checks the settings and fills in the derived ones: the base URL
// from the listen address, and the secret key from the data directory.
// Each error names the setting at fault. Settings are checked before
// anything is written, so a mistake leaves no file behind.
func (c *Config) Finish() error {
	if err := checkDataDir(c.DataDir); err != nil {
		return settingError("MAILSCHOOL_DATA_DIR", c.DataDir, err)
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		// The URL may hold a password: it is not repeated.
		return fmt.Errorf("MAILSCHOOL_DATABASE_URL %w", err)
	}
	// Commands without --addr still derive the base URL from the address
	// serve listens on, so that the links they send are the same.
	addr := cmp.Or(c.Addr, c.envAddr, DefaultAddr)
	if err := checkAddr(addr); err != nil {
		return settingError("MAILSCHOOL_ADDR", addr, err)
	}
	if c.BaseURL == "" {
		host, port, _ := net.SplitHostPort(addr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		scheme := "http://"
		if c.TLSCert != "" {
			scheme = "https://"
		}
		c.BaseURL = scheme + net.JoinHostPort(host, port)
		if c.ACMEHost != "" {
			c.BaseURL = "https://" + c.ACMEHost
		}
	}
	base, err := parseBaseURL(c.BaseURL)
	if err != nil {
		return settingError("MAILSCHOOL_BASE_URL", c.BaseURL, err)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.workers != "" {
		if c.Workers, err = parseBool(c.workers); err != nil {
			return settingError("MAILSCHOOL_WORKERS", c.workers, err)
		}
	}
	if c.sendRate != "" {
		if c.SendRate, err = parseSendRate(c.sendRate); err != nil {
			return settingError("MAILSCHOOL_SEND_RATE", c.sendRate, err)
		}
	}
	if c.Signup, err = orgs.ParseSignupPolicy(c.signup); err != nil {
		return settingError("MAILSCHOOL_SIGNUP", c.signup, err)
	}
	if c.invitationTTL != "" {
		if c.InvitationTTL, err = parseInvitationTTL(c.invitationTTL); err != nil {
			return settingError("MAILSCHOOL_INVITATION_TTL", c.invitationTTL, err)
		}
	}
	if c.deliveryEvery != "" {
		if c.DeliveryInterval, err = parseDeliveryInterval(c.deliveryEvery); err != nil {
			return settingError("MAILSCHOOL_DELIVERY_INTERVAL", c.deliveryEvery, err)
		}
	}
	if err := c.finishProduction(); err != nil {
		return err
	}
	c.ShutdownTimeout = DefaultShutdownTimeout
	if c.shutdownTimeout != "" {
		if c.ShutdownTimeout, err = parseShutdownTimeout(c.shutdownTimeout); err != nil {
			return settingError("MAILSCHOOL_SHUTDOWN_TIMEOUT", c.shutdownTimeout, err)
		}
	}
	if c.metrics != "" {
		if c.Metrics, err = parseMetrics(c.metrics); err != nil {
			return settingError("MAILSCHOOL_METRICS", c.metrics, err)
		}
	}
	if c.MetricsToken != "" {
		// A token alone is refused rather than taken to mean on: whoever
		// set it meant metrics to be protected, and may have left them off
		// on purpose. The token itself is never repeated.
		if !c.Metrics {
			return errors.New("MAILSCHOOL_METRICS_TOKEN is set but MAILSCHOOL_METRICS is not on: set MAILSCHOOL_METRICS=on to serve /metrics, or unset the token")
		}
		if len(c.MetricsToken) < MinMetricsTokenLength {
			return fmt.Errorf("MAILSCHOOL_METRICS_TOKEN must be at least %d characters", MinMetricsTokenLength)
		}
	}
	// The errors name the setting, never the secret.
	if err := c.BounceWebhooks.Validate(); err != nil {
		return err
	}
	if c.From == "" {
		c.From = "mailschool <noreply@" + mailDomain(base.Hostname()) + ">"
	}
	if _, err := netmail.ParseAddress(c.From); err != nil {
		return settingError("MAILSCHOOL_FROM", c.From, errors.New(`must be an email address, such as "Acme Academy <learn@acme.example>" or learn@acme.example`))
	}
	if c.SMTPURL != "" {
		// The error names the setting and, the URL holding a password,
		// not the value.
		if err := mail.ParseSMTPURL(c.SMTPURL); err != nil {
			return err
		}
	}
	if c.BounceMailbox != "" {
		// The URL holds a password: the error does not repeat it.
		if _, err := mailbox.ParseURL(c.BounceMailbox); err != nil {
			return fmt.Errorf("MAILSCHOOL_BOUNCE_MAILBOX: %w", err)
		}
		// A bounce read from the mailbox counts only when its return path
		// names the email: without them, every one would be ignored.
		if strings.TrimSpace(c.BounceDomain) == "" {
			return errors.New("MAILSCHOOL_BOUNCE_MAILBOX needs MAILSCHOOL_BOUNCE_DOMAIN: bounces are matched to the emails they are about by their return path")
		}
	}
	dkim := []string{c.DKIMDomain, c.DKIMSelector, c.DKIMKeyFile}
	if slices.Contains(dkim, "") && slices.ContainsFunc(dkim, func(s string) bool { return s != "" }) {
		return errors.New("DKIM signing needs all of MAILSCHOOL_DKIM_DOMAIN, MAILSCHOOL_DKIM_SELECTOR and MAILSCHOOL_DKIM_KEY_FILE")
	}
	if c.DKIMDomain != "" && !isDNSName(c.DKIMDomain) {
		return settingError("MAILSCHOOL_DKIM_DOMAIN", c.DKIMDomain,
			errors.New("must be a domain name, such as acme.example (an internationalized one in its xn-- form)"))
	}
	if c.DKIMSelector != "" && !isDNSName(c.DKIMSelector) {
		return settingError("MAILSCHOOL_DKIM_SELECTOR", c.DKIMSelector,
			errors.New("must be letters, digits and hyphens, in dot-separated parts, such as s1 or mail-2024"))
	}
	if err := c.finishBounces(); err != nil {
		return err
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		return errors.New("MAILSCHOOL_SECRET_KEY must be at least 32 characters")
	}
	if c.DKIMKeyFile != "" {
		// Loaded as the SMTP transport loads it, whatever the transport:
		// a key that cannot be read would otherwise show only once SMTP is
		// turned on.
		if _, err := mail.LoadDKIMKey(c.DKIMKeyFile); err != nil {
			return fmt.Errorf("MAILSCHOOL_DKIM_KEY_FILE: %w", err)
		}
	}
	if c.SecretKey == "" {
		key, err := loadOrCreateSecret(c.DataDir)
		if err != nil {
			return fmt.Errorf("MAILSCHOOL_DATA_DIR %q: %w", c.DataDir, err)
		}
		if len(key) < 32 {
			return fmt.Errorf("the secret key in %s is shorter than 32 characters: delete the file to have a new one generated, or set MAILSCHOOL_SECRET_KEY",
				filepath.Join(c.DataDir, "secret_key"))
		}
		c.SecretKey = key
	}
	return nil
}

// settingError reports a bad value: `MAILSCHOOL_X "value" must be ...`.
func settingError(name, value string, err error) error {
	return fmt.Errorf("%s %q %w", name, value, err)
}

// LogLevel parses MAILSCHOOL_LOG_LEVEL: debug, info, warn or error, in
// any case; empty is info.
func LogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, settingError("MAILSCHOOL_LOG_LEVEL", s, errors.New("must be debug, info, warn or error"))
}

// checkedFlag is a flag whose value is checked as it is set, so that a bad
// one on the command line is a usage error; the default, taken from the
// environment, is checked by Finish. The value is kept as given.
type checkedFlag struct {
	value  *string
	check  func(string) error
	isBool bool // given alone, --flag means --flag=true
}

func (f checkedFlag) String() string {
	if f.value == nil {
		return ""
	}
	return *f.value
}

func (f checkedFlag) Set(s string) error {
	if err := f.check(s); err != nil {
		return err
	}
	*f.value = s
	return nil
}

func (f checkedFlag) IsBoolFlag() bool { return f.isBool }

// parseBool reads true or false, in any case, or 1 or 0. strconv.ParseBool
// also takes t, F and the like, which look too much like typing mistakes
// for a setting that turns off sending email.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errors.New("must be true or false (or 1 or 0)")
}

// parseMetrics reads on or off, in any case.
func parseMetrics(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, errors.New("must be on or off")
}

func checkMetrics(s string) error {
	_, err := parseMetrics(s)
	return err
}

func checkBool(s string) error {
	_, err := parseBool(s)
	return err
}

func checkDataDir(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must name a directory")
	}
	return nil
}

// checkAddr accepts host:port, where host is empty (every interface), an
// IP address or a host name, and port a number (0: any free port).
func checkAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("must be host:port, such as 127.0.0.1:8080 or :8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("must end in a port number from 0 to 65535")
	}
	if _, err := netip.ParseAddr(host); host != "" && err != nil && !isDNSName(host) {
		return errors.New("must start with an IP address or a host name (or nothing, for every interface)")
	}
	return nil
}

// checkDatabaseURL accepts what store.Open does. Its errors follow the
// setting's name and do not repeat the URL, which may hold a password.
func checkDatabaseURL(s string) error {
	switch {
	case s == "":
		return nil
	case strings.HasPrefix(s, "sqlite:"):
		if strings.TrimPrefix(s, "sqlite:") == "" {
			return errors.New("must name the database file after sqlite:")
		}
		return nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			if uerr, ok := errors.AsType[*url.Error](err); ok {
				err = uerr.Err
			}
			return fmt.Errorf("is not a valid URL: %v", err)
		}
		return nil
	}
	return errors.New("must be postgres://user:password@host/database, sqlite:PATH, or empty for SQLite in the data directory")
}

// parseBaseURL accepts an absolute http:// or https:// URL to which paths
// can be appended: no query, fragment or user name.
func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("must be an absolute http:// or https:// URL")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, errors.New("must have no user name, query (?) or fragment (#): links are made by adding paths to it")
	}
	return u, nil
}

func parseSendRate(s string) (float64, error) {
	rate, err := strconv.ParseFloat(s, 64)
	// NaN fails every comparison, so the range is checked as the positive
	// case.
	if err != nil || !(rate == 0 || rate >= MinSendRate && rate <= MaxSendRate) {
		return 0, fmt.Errorf("must be 0 (no limit) or a number of messages per second from %g to %g", MinSendRate, float64(MaxSendRate))
	}
	return rate, nil
}

func parseInvitationTTL(s string) (time.Duration, error) {
	ttl, err := parseDays(s)
	if err != nil || ttl < MinInvitationTTL || ttl > MaxInvitationTTL {
		return 0, errors.New("must be a duration from 1 minute to 90 days, such as 7d, 48h or 90m")
	}
	return ttl, nil
}

func parseDeliveryInterval(s string) (time.Duration, error) {
	every, err := time.ParseDuration(s)
	if err != nil || every < MinDeliveryInterval || every > MaxDeliveryInterval {
		return 0, errors.New("must be a duration from 1s to 1h, such as 1m or 30s")
	}
	return every, nil
}

func parseAPIKeyLimit(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "/min"))
	if err != nil || n < 1 || n > MaxAPIKeyPerMinute {
		return 0, errors.New("must be a number of requests a minute from 1 to 1000000, such as 600 or 600/min")
	}
	return n, nil
}

func parseShutdownTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxShutdownTimeout {
		return 0, errors.New("must be a duration from 0s to 10m, such as 10s or 2m")
	}
	return d, nil
}

func checkShutdownTimeout(s string) error {
	_, err := parseShutdownTimeout(s)
	return err
}

// parseDays reads a duration as time.ParseDuration does, and also a whole
// number of days, such as "7d".
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		const day = 24 * time.Hour
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > int(math.MaxInt64/day) {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		return time.Duration(n) * day, nil
	}
	return time.ParseDuration(s)
}

// isDNSName reports whether s is a host or domain name in ASCII: labels of
// letters, digits and hyphens (not first or last), 1 to 63 characters,
// separated by dots, 253 characters in all.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// mailDomain is the domain of the default sender address: the site's host
// name, or localhost when that is an IP address or a single label.
func mailDomain(host string) string {
	if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return "localhost"
	}
	return host
}

// SecureCookies reports whether cookies must be sent over HTTPS only.
func (c *Config) SecureCookies() bool {
	return strings.HasPrefix(c.BaseURL, "https://")
}

// loadOrCreateSecret reads the key stored in dataDir, creating it with 256
// random bits on first start.
func loadOrCreateSecret(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "secret_key")
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read secret key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data directory: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate secret key: %w", err)
	}
	key := hex.EncodeToString(raw)
	// Written aside and linked into place, so a process starting at the
	// same moment never reads a half-written key: one key wins, both use it.
	tmp, err := os.CreateTemp(dataDir, ".secret_key-*")
	if err != nil {
		return "", fmt.Errorf("store secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(key + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("store secret key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("store secret key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return loadOrCreateSecret(dataDir)
	} else if err != nil {
		return "", fmt.Errorf("store secret key: %w", err)
	}
	return key, nil
}

func or(value, fallback string) string {
	if value != "" {
		return value
	}
	return fallback
}

// finishBounces checks the bounce settings and fills in their defaults.
func (c *Config) finishBounces() error {
	c.BounceDomain = strings.ToLower(strings.TrimSpace(c.BounceDomain))
	if c.BounceDomain != "" && !isDNSName(c.BounceDomain) {
		return settingError("MAILSCHOOL_BOUNCE_DOMAIN", c.BounceDomain,
			errors.New("must be a domain name, such as bounces.acme.example (an internationalized one in its xn-- form)"))
	}
	c.BounceSoftLimit, c.BounceSoftWindow = DefaultBounceSoftLimit, DefaultBounceSoftWindow
	if c.bounceSoft != "" {
		n, window, err := parseSoftLimit(c.bounceSoft)
		if err != nil {
			return settingError("MAILSCHOOL_BOUNCE_SOFT_LIMIT", c.bounceSoft, err)
		}
		c.BounceSoftLimit, c.BounceSoftWindow = n, window
	}
	c.BounceBlockPlatform = true
	if c.bouncePlatform != "" {
		var err error
		if c.BounceBlockPlatform, err = parseBool(c.bouncePlatform); err != nil {
			return settingError("MAILSCHOOL_BOUNCE_BLOCK_PLATFORM", c.bouncePlatform, err)
		}
	}
	return nil
}

// parseSoftLimit reads "<count>/<window>", such as 3/168h or 3/7d.
func parseSoftLimit(s string) (int, time.Duration, error) {
	bad := fmt.Errorf("must be <count>/<window>, such as 3/7d or 5/72h: a count from 1 to %d and a window from a minute to 90 days", MaxBounceSoftLimit)
	countText, windowText, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(countText))
	if err != nil || n < 1 || n > MaxBounceSoftLimit {
		return 0, 0, bad
	}
	windowText = strings.TrimSpace(windowText)
	var window time.Duration
	if days, found := strings.CutSuffix(windowText, "d"); found {
		d, err := strconv.Atoi(days)
		if err != nil || d < 0 || d > 90 {
			return 0, 0, bad
		}
		window = time.Duration(d) * 24 * time.Hour
	} else if window, err = time.ParseDuration(windowText); err != nil {
		return 0, 0, bad
	}
	if window < time.Minute || window > MaxBounceSoftWindow {
		return 0, 0, bad
	}
	return n, window, nil
}
