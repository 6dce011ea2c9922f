// Package config reads mailschool's settings from command-line flags and
// MAILSCHOOL_* environment variables. A flag given on the command line wins
// over the environment, which wins over the default.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
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

	// InvitationTTL is how long invitation links work; zero takes the
	// default (7 days).
	InvitationTTL time.Duration
	// DeliveryInterval is how often the delivery pass runs; zero takes
	// the default (a minute).
	DeliveryInterval time.Duration

	sendRate      string // MAILSCHOOL_SEND_RATE before parsing
	invitationTTL string // MAILSCHOOL_INVITATION_TTL before parsing
	deliveryEvery string // MAILSCHOOL_DELIVERY_INTERVAL before parsing
}

// Defaults of the settings.
const (
	DefaultAddr    = "127.0.0.1:8080"
	DefaultDataDir = "./data"
)

// Env reads an environment variable; os.Getenv in production.
type Env func(string) string

// Register adds the flags shared by the subcommands to fs, with defaults
// taken from the environment.
func (c *Config) Register(fs *flag.FlagSet, env Env) {
	fs.StringVar(&c.DataDir, "data-dir", or(env("MAILSCHOOL_DATA_DIR"), DefaultDataDir),
		"directory for the SQLite database and the generated secret key (MAILSCHOOL_DATA_DIR)")
	c.DatabaseURL = env("MAILSCHOOL_DATABASE_URL")
	c.BaseURL = env("MAILSCHOOL_BASE_URL")
	c.SecretKey = env("MAILSCHOOL_SECRET_KEY")
	c.SMTPURL = env("MAILSCHOOL_SMTP_URL")
	c.From = env("MAILSCHOOL_FROM")
	c.DKIMDomain = env("MAILSCHOOL_DKIM_DOMAIN")
	c.DKIMSelector = env("MAILSCHOOL_DKIM_SELECTOR")
	c.DKIMKeyFile = env("MAILSCHOOL_DKIM_KEY_FILE")
	c.sendRate = env("MAILSCHOOL_SEND_RATE")
	c.invitationTTL = env("MAILSCHOOL_INVITATION_TTL")
	c.deliveryEvery = env("MAILSCHOOL_DELIVERY_INTERVAL")
}

// RegisterServer adds the flags of the HTTP server.
func (c *Config) RegisterServer(fs *flag.FlagSet, env Env) {
	fs.StringVar(&c.Addr, "addr", or(env("MAILSCHOOL_ADDR"), DefaultAddr),
		"address to listen on (MAILSCHOOL_ADDR)")
	fs.BoolVar(&c.Workers, "workers", env("MAILSCHOOL_WORKERS") != "false",
		"run background jobs (sending email) in this process; false for web-only nodes (MAILSCHOOL_WORKERS)")
}

// Finish checks the settings and fills in the derived ones: the base URL
// from the listen address, and the secret key from the data directory.
func (c *Config) Finish() error {
	if c.BaseURL == "" {
		addr := c.Addr
		if addr == "" {
			addr = DefaultAddr
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("MAILSCHOOL_ADDR %q: %w", addr, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.BaseURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("MAILSCHOOL_BASE_URL %q must be an absolute http:// or https:// URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.SecretKey == "" {
		key, err := loadOrCreateSecret(c.DataDir)
		if err != nil {
			return err
		}
		c.SecretKey = key
	}
	if len(c.SecretKey) < 32 {
		return errors.New("MAILSCHOOL_SECRET_KEY must be at least 32 characters")
	}
	if c.From == "" {
		c.From = "mailschool <noreply@" + mailDomain(u.Hostname()) + ">"
	}
	if c.sendRate != "" {
		rate, err := strconv.ParseFloat(c.sendRate, 64)
		if err != nil || rate < 0 {
			return fmt.Errorf("MAILSCHOOL_SEND_RATE %q must be a number of messages per second (0: no limit)", c.sendRate)
		}
		c.SendRate = rate
	}
	if c.invitationTTL != "" {
		ttl, err := parseDays(c.invitationTTL)
		if err != nil || ttl < time.Minute {
			return fmt.Errorf("MAILSCHOOL_INVITATION_TTL %q must be a duration of at least a minute, such as 7d, 48h or 90m", c.invitationTTL)
		}
		c.InvitationTTL = ttl
	}
	if c.deliveryEvery != "" {
		every, err := time.ParseDuration(c.deliveryEvery)
		if err != nil || every < time.Second {
			return fmt.Errorf("MAILSCHOOL_DELIVERY_INTERVAL %q must be a duration of at least a second, such as 1m or 30s", c.deliveryEvery)
		}
		c.DeliveryInterval = every
	}
	dkim := []string{c.DKIMDomain, c.DKIMSelector, c.DKIMKeyFile}
	if slices.Contains(dkim, "") && slices.ContainsFunc(dkim, func(s string) bool { return s != "" }) {
		return errors.New("DKIM signing needs all of MAILSCHOOL_DKIM_DOMAIN, MAILSCHOOL_DKIM_SELECTOR and MAILSCHOOL_DKIM_KEY_FILE")
	}
	return nil
}

// parseDays reads a duration as time.ParseDuration does, and also a whole
// number of days, such as "7d".
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
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
