package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
)

// Limits are the rate limits set by MAILSCHOOL_LIMIT_<NAME> settings. A
// zero Limit takes the server's default.
type Limits struct {
	LoginPerIP               auth.Limit // every login attempt, per client address
	LoginPerAccount          auth.Limit // failed logins at an account, from every address
	LoginPerAccountIP        auth.Limit // failed logins at an account from one address
	PasswordChangePerAccount auth.Limit // wrong old passwords, per account
	ResetPerIP               auth.Limit // password reset requests, per client address
	ResetPerAddress          auth.Limit // password reset emails, per mailbox
	EnrollPerIP              auth.Limit // public enrollment requests, per client address
	EnrollPerAddress         auth.Limit // enrollment emails, per mailbox
	InvitationPerIP          auth.Limit // invitation pages, per client address
	SignupPerIP              auth.Limit // sign-ups, per client address
	SignupPerAddress         auth.Limit // sign-up emails, per mailbox
	APIPerKey                auth.Limit // API requests, per key
	BounceWebhookPerIP       auth.Limit // refused bounce webhook requests, per client address
}

// limitSettings names the setting of each limit, MAILSCHOOL_LIMIT_ and
// the name.
var limitSettings = []struct {
	name  string
	field func(*Limits) *auth.Limit
}{
	{"LOGIN_PER_IP", func(l *Limits) *auth.Limit { return &l.LoginPerIP }},
	{"LOGIN_PER_ACCOUNT", func(l *Limits) *auth.Limit { return &l.LoginPerAccount }},
	{"LOGIN_PER_ACCOUNT_IP", func(l *Limits) *auth.Limit { return &l.LoginPerAccountIP }},
	{"PASSWORD_CHANGE_PER_ACCOUNT", func(l *Limits) *auth.Limit { return &l.PasswordChangePerAccount }},
	{"RESET_PER_IP", func(l *Limits) *auth.Limit { return &l.ResetPerIP }},
	{"RESET_PER_ADDRESS", func(l *Limits) *auth.Limit { return &l.ResetPerAddress }},
	{"ENROLL_PER_IP", func(l *Limits) *auth.Limit { return &l.EnrollPerIP }},
	{"ENROLL_PER_ADDRESS", func(l *Limits) *auth.Limit { return &l.EnrollPerAddress }},
	{"INVITATION_PER_IP", func(l *Limits) *auth.Limit { return &l.InvitationPerIP }},
	{"SIGNUP_PER_IP", func(l *Limits) *auth.Limit { return &l.SignupPerIP }},
	{"SIGNUP_PER_ADDRESS", func(l *Limits) *auth.Limit { return &l.SignupPerAddress }},
	{"API_PER_KEY", func(l *Limits) *auth.Limit { return &l.APIPerKey }},
	{"BOUNCE_WEBHOOK_PER_IP", func(l *Limits) *auth.Limit { return &l.BounceWebhookPerIP }},
}

// Bounds of a limit: a burst from 1 to MaxLimitBurst, one more every
// MinLimitInterval to MaxLimitInterval.
const (
	MaxLimitBurst    = 1_000_000
	MinLimitInterval = time.Millisecond
	MaxLimitInterval = 24 * time.Hour
)

// registerProduction reads the settings of an install in production:
// limits, trusted proxies and TLS.
func (c *Config) registerProduction(env Env) {
	c.limits = make(map[string]string)
	for _, s := range limitSettings {
		if v := env("MAILSCHOOL_LIMIT_" + s.name); v != "" {
			c.limits[s.name] = v
		}
	}
	c.trustedProxies = env("MAILSCHOOL_TRUSTED_PROXIES")
	c.webhookNets = env("MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS")
}

// finishProduction parses what registerProduction read, and the TLS
// settings of serve.
func (c *Config) finishProduction() error {
	for _, s := range limitSettings {
		v, ok := c.limits[s.name]
		if !ok {
			continue
		}
		l, err := ParseLimit(v)
		if err != nil {
			return settingError("MAILSCHOOL_LIMIT_"+s.name, v, err)
		}
		*s.field(&c.Limits) = l
	}
	if c.apiKeyLimit != "" {
		if _, ok := c.limits["API_PER_KEY"]; ok {
			return errors.New("MAILSCHOOL_LIMIT_API_KEY is the older name of MAILSCHOOL_LIMIT_API_PER_KEY: set only MAILSCHOOL_LIMIT_API_PER_KEY")
		}
		n, err := parseAPIKeyLimit(c.apiKeyLimit)
		if err != nil {
			return settingError("MAILSCHOOL_LIMIT_API_KEY", c.apiKeyLimit, err)
		}
		c.Limits.APIPerKey = auth.Limit{Every: time.Minute / time.Duration(n), Burst: n}
	}
	var err error
	if c.TrustedProxies, err = ParseTrustedProxies(c.trustedProxies); err != nil {
		return settingError("MAILSCHOOL_TRUSTED_PROXIES", c.trustedProxies, err)
	}
	if c.WebhookAllowedNetworks, err = ParseWebhookNetworks(c.webhookNets); err != nil {
		return settingError("MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS", c.webhookNets, err)
	}
	if c.ACMEHost != "" {
		if !isDNSName(c.ACMEHost) || !strings.Contains(c.ACMEHost, ".") {
			return settingError("MAILSCHOOL_TLS_ACME_HOST", c.ACMEHost,
				errors.New("must be the site's public host name, such as learn.acme.example"))
		}
		if c.TLSCert != "" || c.TLSKey != "" {
			return errors.New("MAILSCHOOL_TLS_ACME_HOST gets certificates itself: set it or MAILSCHOOL_TLS_CERT and MAILSCHOOL_TLS_KEY, not both")
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("serving TLS needs both MAILSCHOOL_TLS_CERT and MAILSCHOOL_TLS_KEY (or neither, behind a TLS proxy)")
	}
	if c.TLSCert != "" {
		// Loaded now, so that a wrong file stops serve at once rather
		// than fail every connection.
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			return fmt.Errorf("MAILSCHOOL_TLS_CERT %q and MAILSCHOOL_TLS_KEY %q must be a PEM certificate (chain) and its private key: %w", c.TLSCert, c.TLSKey, err)
		}
	}
	return nil
}

// ParseLimit reads a limit written <burst>/<interval>: up to burst at
// once, then one more every interval, such as 30/3s.
func ParseLimit(s string) (auth.Limit, error) {
	bad := fmt.Errorf("must be <burst>/<interval>: up to burst at once, then one more every interval, such as 30/3s or 5/20m (a burst from 1 to %d, an interval from %v to %v)",
		MaxLimitBurst, MinLimitInterval, MaxLimitInterval)
	burst, interval, ok := strings.Cut(s, "/")
	if !ok {
		return auth.Limit{}, bad
	}
	n, err := strconv.Atoi(burst)
	if err != nil || n < 1 || n > MaxLimitBurst {
		return auth.Limit{}, bad
	}
	every, err := time.ParseDuration(interval)
	if err != nil || every < MinLimitInterval || every > MaxLimitInterval {
		return auth.Limit{}, bad
	}
	return auth.Limit{Every: every, Burst: n}, nil
}

// Widest ranges MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS takes: the private
// ranges are no wider (10.0.0.0/8, fc00::/7), and a wider one would open
// most of the internal address space by a typing mistake.
const (
	MinWebhookNetworkBits4 = 8
	MinWebhookNetworkBits6 = 7
)

// ParseWebhookNetworks reads the ranges webhooks may be sent to despite
// being private: CIDR ranges or addresses, as ParseTrustedProxies reads
// them, none wider than a /8 (IPv4) or /7 (IPv6).
func ParseWebhookNetworks(s string) ([]netip.Prefix, error) {
	ranges, err := ParseTrustedProxies(s)
	if err != nil {
		return nil, err
	}
	for _, p := range ranges {
		minBits := MinWebhookNetworkBits6
		if p.Addr().Is4() {
			minBits = MinWebhookNetworkBits4
		}
		if p.Bits() < minBits {
			return nil, fmt.Errorf("must list private ranges no wider than /%d (IPv4) or /%d (IPv6), such as 10.0.0.0/8 or fd00::/8: %s is wider",
				MinWebhookNetworkBits4, MinWebhookNetworkBits6, p)
		}
	}
	return ranges, nil
}

// ParseTrustedProxies reads a list of addresses and CIDR ranges,
// separated by commas or spaces. An address alone is a range of one.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var ranges []netip.Prefix
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			addr, aerr := netip.ParseAddr(item)
			if aerr != nil || addr.Zone() != "" {
				return nil, fmt.Errorf("must be addresses or CIDR ranges separated by commas, such as 10.0.0.0/8, 192.0.2.7, fd00::/8: %q is neither", item)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		ranges = append(ranges, p.Masked())
	}
	return ranges, nil
}
