// Package web is mailschool's HTTP layer: one routes table, the middleware
// around it, thin handlers that parse input, call the domain packages and
// render HTML or JSON.
package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/providers"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/metrics"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/transfer"
	"github.com/mailschool/mailschool/internal/web/openapi"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// Options configures a Server.
type Options struct {
	DB            *store.DB
	Mail          *mail.Service
	Logger        *slog.Logger
	BaseURL       string // absolute URL of the site
	SecureCookies bool   // send the session cookie over HTTPS only
	SecretKey     string // signs links that must not be forged (unsubscribe)
	Version       string
	// Login attempts allowed per client IP (every attempt counts), per
	// account and client IP (failed attempts count), and per account
	// (failed attempts count; it refuses only the addresses that failed at
	// the account, see auth.LoginLimits). Zero values take the defaults.
	LoginPerIP        auth.Limit
	LoginPerAccountIP auth.Limit
	LoginPerAccount   auth.Limit
	// PasswordChangePerAccount limits the wrong old passwords given to the
	// password change form per account. Zero takes the default.
	PasswordChangePerAccount auth.Limit
	// InvitationTTL is how long invitation links work; zero takes
	// orgs.DefaultInvitationTTL.
	InvitationTTL time.Duration
	// InvitationPerIP limits invitation acceptances per client IP.
	InvitationPerIP auth.Limit
	// Signup says who may sign up for an organization of their own.
	Signup orgs.SignupPolicy
	// Sign-ups allowed per client IP (every request counts) and per
	// address (over it, the answer is the same but nothing is sent). Zero
	// values take the defaults.
	SignupPerIP      auth.Limit
	SignupPerAddress auth.Limit
	// Password reset requests allowed per client IP (every request counts)
	// and per address (over it, the answer is the same but nothing is
	// sent). Zero values take the defaults.
	ResetPerIP      auth.Limit
	ResetPerAddress auth.Limit
	// Enrollment requests allowed per client IP (every request counts)
	// and per address (over it, the answer is the same but nothing is
	// sent). Zero values take the defaults.
	EnrollPerIP      auth.Limit
	EnrollPerAddress auth.Limit
	// Learning is the learning service; nil makes one from DB, Mail,
	// BaseURL and SecretKey. Pass one to register hooks on it (delivery).
	Learning *learning.Service
	// Webhooks is the webhooks service; nil makes one from DB that takes
	// https addresses only. New attaches it to the organizations'
	// service it makes and to Learning: do not attach it elsewhere.
	Webhooks *webhooks.Service
	// UploadTimeout is how long the body of a request carrying a logo may
	// take to arrive; zero takes DefaultUploadTimeout.
	UploadTimeout time.Duration
	// SessionIdleTimeout ends a session left unused that long; zero takes
	// DefaultSessionIdleTimeout.
	SessionIdleTimeout time.Duration
	// APIKeyLimit limits the requests of each API key; zero takes
	// DefaultAPIKeyLimit.
	APIKeyLimit auth.Limit
	// TrustedProxies are the peers whose Forwarded and X-Forwarded-For
	// headers name the client; empty: the peer is the client.
	TrustedProxies []netip.Prefix
	// Metrics, when set, counts every request and is served at /metrics;
	// when MetricsToken is set too, only to requests bearing it.
	Metrics      *metrics.Metrics
	MetricsToken string
	// JobsRunning tells /readyz whether the job queue this node works
	// runs; nil on a node without workers.
	JobsRunning func() bool
	// ImportMaxBytes is the largest organization export an import takes;
	// zero takes transfer.DefaultMaxImportBytes.
	ImportMaxBytes int64
	// Bounces records the bounces and complaints the providers' webhooks
	// report, verified by BounceWebhooks; with either nil, the webhooks
	// answer 404. BounceWebhookPerIP limits the refused webhook requests
	// per client; zero takes DefaultBounceWebhookPerIP.
	Bounces            bounces.Recorder
	BounceWebhooks     *providers.Webhooks
	BounceWebhookPerIP auth.Limit
}

// DefaultUploadTimeout lets a 2 MiB logo arrive at about 300 kbit/s.
const DefaultUploadTimeout = time.Minute

// Default login limits: generous enough for people who mistype, tight
// enough to make guessing passwords useless.
var (
	DefaultLoginPerIP        = auth.Limit{Every: 3 * time.Second, Burst: 30}
	DefaultLoginPerAccountIP = auth.Limit{Every: time.Minute, Burst: 10}
	DefaultLoginPerAccount   = auth.Limit{Every: time.Minute, Burst: 20}
	DefaultInvitationPerIP   = auth.Limit{Every: 6 * time.Second, Burst: 20}
	// The password change form needs the old password: whoever has a
	// session but not the password gets a few guesses, not thousands.
	DefaultPasswordChangePerAccount = auth.Limit{Every: time.Minute, Burst: 5}
)

// Default password reset limits: room for a few typos from one address,
// and at most three links an hour into one inbox (per node).
var (
	DefaultResetPerIP      = auth.Limit{Every: 12 * time.Second, Burst: 10}
	DefaultResetPerAddress = auth.Limit{Every: 20 * time.Minute, Burst: 3}
	// Sign-ups: as password resets, since each sends an email to an
	// address the visitor chooses.
	DefaultSignupPerIP      = DefaultResetPerIP
	DefaultSignupPerAddress = DefaultResetPerAddress
)

// Default enrollment limits: a class enrolling at once from one school
// network gets through, and an inbox gets at most three requests' worth
// of email an hour from one node (the learning service throttles each
// enrollment's email too).
var (
	DefaultEnrollPerIP      = auth.Limit{Every: 3 * time.Second, Burst: 30}
	DefaultEnrollPerAddress = auth.Limit{Every: 20 * time.Minute, Burst: 3}
)

// DefaultBounceWebhookPerIP lets a client make a few hundred refused
// bounce webhook requests (verified ones do not count) before it waits:
// room for a provider's burst of retries after a wrong setting, none for
// trying signatures.
var DefaultBounceWebhookPerIP = auth.Limit{Every: time.Second, Burst: 300}

// DefaultAPIKeyLimit lets each API key make 600 requests a minute.
var DefaultAPIKeyLimit = auth.Limit{Every: 100 * time.Millisecond, Burst: 600}

// Server serves mailschool over HTTP.
type Server struct {
	db       *store.DB
	logger   *slog.Logger
	accounts *auth.Accounts
	mail     *mail.Service
	orgs     *orgs.Service
	learning *learning.Service
	webhooks *webhooks.Service
	bounces  *bounces.Service // the bounce log

	// publicPages caches the public organization pages for anonymous
	// visitors.
	publicPages *pageCache
	sessions    *scs.SessionManager
	pages       *pages
	baseURL     string

	// exports counts the downloads of whole tables running on this node.
	exports exportSlots

	// proxies are the peers trusted to name the client.
	proxies trustedProxies
	// The API's OpenAPI description and the reference page made from it.
	openapi *openapi.Document
	apiRef  *apiReference

	logins *auth.LoginThrottle
	// Wrong old passwords in the password change form, per user id.
	passwordChangePerAccount auth.RateLimiter
	invitationPerIP          auth.RateLimiter
	resetPerIP               auth.RateLimiter
	resetPerAddress          auth.RateLimiter
	signup                   orgs.SignupPolicy
	signupPerIP              auth.RateLimiter
	signupPerAddress         auth.RateLimiter

	// Enrollment requests, per client IP and per address.
	enrollPerIP      auth.RateLimiter
	enrollPerAddress auth.RateLimiter

	// Requests per API key id.
	apiKeyLimit   auth.Limit
	apiKeyLimiter auth.RateLimiter

	uploadTimeout time.Duration

	metrics      *metrics.Metrics
	metricsToken string
	readiness    *readiness

	// sessionIdleTimeout ends unused sessions; an unchanged session is
	// written again only when its expiry moves by sessionRefresh.
	sessionIdleTimeout time.Duration
	sessionRefresh     time.Duration

	// Organization exports and imports, and the largest import read.
	orgTransfer    *transfer.Service
	importMaxBytes int64

	// The providers' bounce webhooks, and their refused requests per
	// client.
	bounceRecorder     bounces.Recorder
	bounceWebhooks     *providers.Webhooks
	bounceWebhookPerIP auth.RateLimiter

	handler http.Handler
}

// New builds a Server.
func New(opts Options) (*Server, error) {
	if opts.LoginPerIP == (auth.Limit{}) {
		opts.LoginPerIP = DefaultLoginPerIP
	}
	if opts.LoginPerAccountIP == (auth.Limit{}) {
		opts.LoginPerAccountIP = DefaultLoginPerAccountIP
	}
	if opts.LoginPerAccount == (auth.Limit{}) {
		opts.LoginPerAccount = DefaultLoginPerAccount
	}
	if opts.PasswordChangePerAccount == (auth.Limit{}) {
		opts.PasswordChangePerAccount = DefaultPasswordChangePerAccount
	}
	if opts.InvitationPerIP == (auth.Limit{}) {
		opts.InvitationPerIP = DefaultInvitationPerIP
	}
	if opts.ResetPerIP == (auth.Limit{}) {
		opts.ResetPerIP = DefaultResetPerIP
	}
	if opts.ResetPerAddress == (auth.Limit{}) {
		opts.ResetPerAddress = DefaultResetPerAddress
	}
	if opts.SignupPerIP == (auth.Limit{}) {
		opts.SignupPerIP = DefaultSignupPerIP
	}
	if opts.SignupPerAddress == (auth.Limit{}) {
		opts.SignupPerAddress = DefaultSignupPerAddress
	}
	if opts.EnrollPerIP == (auth.Limit{}) {
		opts.EnrollPerIP = DefaultEnrollPerIP
	}
	if opts.EnrollPerAddress == (auth.Limit{}) {
		opts.EnrollPerAddress = DefaultEnrollPerAddress
	}
	if opts.SessionIdleTimeout <= 0 {
		opts.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
	if opts.APIKeyLimit.Every <= 0 || opts.APIKeyLimit.Burst <= 0 {
		opts.APIKeyLimit = DefaultAPIKeyLimit
	}
	if opts.UploadTimeout <= 0 {
		opts.UploadTimeout = DefaultUploadTimeout
	}
	if opts.Learning == nil {
		opts.Learning = learning.NewService(opts.DB, learning.Config{Mail: opts.Mail, BaseURL: opts.BaseURL, SecretKey: opts.SecretKey})
	}
	pages, err := parsePages(opts.Version)
	if err != nil {
		return nil, err
	}
	apiDoc, err := openapi.Load()
	if err != nil {
		return nil, fmt.Errorf("assemble the API description: %w", err)
	}
	apiRef, err := newAPIReference(apiDoc)
	if err != nil {
		return nil, fmt.Errorf("arrange the API reference: %w", err)
	}
	// No IdleTimeout for scs: loadAndSaveSession keeps the idle expiry.
	sessions := scs.New()
	sessions.Store = opts.DB.Sessions()
	sessions.Codec = sessionCodec{}
	sessions.Lifetime = sessionLifetime
	sessions.Cookie.Name = "mailschool_session"
	sessions.Cookie.HttpOnly = true
	sessions.Cookie.SameSite = http.SameSiteLaxMode
	sessions.Cookie.Secure = opts.SecureCookies
	sessions.Cookie.Path = "/"

	// One node of SQLite counts in memory; the nodes sharing a
	// PostgreSQL database count together in it.
	limiters := auth.MemoryLimiters()
	if opts.DB.Dialect() == store.Postgres {
		limiters = auth.SharedLimiters(opts.DB)
	}
	s := &Server{
		db:          opts.DB,
		logger:      opts.Logger,
		accounts:    auth.NewAccounts(opts.DB, opts.Mail),
		mail:        opts.Mail,
		orgs:        orgs.NewService(opts.DB, orgs.Config{Mail: opts.Mail, BaseURL: opts.BaseURL, InvitationTTL: opts.InvitationTTL, Signup: opts.Signup}),
		learning:    opts.Learning,
		bounces:     bounces.NewService(opts.DB, opts.Learning, bounces.Config{Logger: opts.Logger}),
		publicPages: newPageCache(2 * time.Second),
		sessions:    sessions,
		pages:       pages,
		baseURL:     opts.BaseURL,
		proxies:     opts.TrustedProxies,
		openapi:     apiDoc,
		apiRef:      apiRef,
		logins: limiters.LoginThrottle(auth.LoginLimits{
			PerIP: opts.LoginPerIP, PerAccountIP: opts.LoginPerAccountIP, PerAccount: opts.LoginPerAccount}),
		passwordChangePerAccount: limiters.New("password_change_per_account", opts.PasswordChangePerAccount),
		invitationPerIP:          limiters.New("invitation_per_ip", opts.InvitationPerIP),
		resetPerIP:               limiters.New("reset_per_ip", opts.ResetPerIP),
		resetPerAddress:          limiters.New("reset_per_address", opts.ResetPerAddress),
		signup:                   opts.Signup,
		signupPerIP:              limiters.New("signup_per_ip", opts.SignupPerIP),
		signupPerAddress:         limiters.New("signup_per_address", opts.SignupPerAddress),
	}
	s.webhooks = opts.Webhooks
	if s.webhooks == nil {
		s.webhooks = webhooks.NewService(opts.DB, webhooks.Options{Learning: opts.Learning})
	}
	s.webhooks.Attach(s.orgs, opts.Learning)
	s.enrollPerIP, s.enrollPerAddress = limiters.New("enroll_per_ip", opts.EnrollPerIP), limiters.New("enroll_per_address", opts.EnrollPerAddress)
	s.uploadTimeout = opts.UploadTimeout
	s.metrics, s.metricsToken = opts.Metrics, opts.MetricsToken
	s.readiness = &readiness{db: opts.DB, jobsRunning: opts.JobsRunning}
	s.apiKeyLimit, s.apiKeyLimiter = opts.APIKeyLimit, limiters.New("api_per_key", opts.APIKeyLimit)
	s.sessionIdleTimeout, s.sessionRefresh = opts.SessionIdleTimeout, sessionRefresh(opts.SessionIdleTimeout)
	s.orgTransfer, s.importMaxBytes = transfer.NewService(opts.DB, opts.Version, opts.Learning), opts.ImportMaxBytes
	if s.importMaxBytes <= 0 {
		s.importMaxBytes = transfer.DefaultMaxImportBytes
	}
	if opts.BounceWebhookPerIP == (auth.Limit{}) {
		opts.BounceWebhookPerIP = DefaultBounceWebhookPerIP
	}
	s.bounceRecorder, s.bounceWebhooks = opts.Bounces, opts.BounceWebhooks
	s.bounceWebhookPerIP = limiters.New("bounce_webhook_per_ip", opts.BounceWebhookPerIP)

	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.guard(rt))
	}

	csrf := http.NewCrossOriginProtection()
	if u, err := url.Parse(opts.BaseURL); err == nil && u.Host != "" {
		// Behind a proxy the Host header may not be the public name.
		if err := csrf.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, err
		}
	}
	csrf.SetDenyHandler(http.HandlerFunc(s.crossOriginDenied))
	// RFC 8058 one-click unsubscribing: mail providers POST to the link of
	// the List-Unsubscribe header from their own servers, with no Origin
	// or with their own. The handler reads no session and changes nothing
	// but the enrollment that the URL's signature names, so there is no
	// user whose request could be forged: the check would only refuse the
	// providers.
	csrf.AddInsecureBypassPattern(unsubscribePostPattern)
	// The providers' bounce webhooks: posted from their servers, read no
	// session, and take only what the provider's signature proves.
	csrf.AddInsecureBypassPattern(bounceWebhookPattern)

	// A request authenticated by an API key skips the cross-origin check:
	// a browser cannot be made to send the key, so it cannot be forged.
	protected := csrf.Handler(mux)
	checked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := currentUser(r.Context()); u != nil && u.APIKey != nil {
			mux.ServeHTTP(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	})

	// The cross-origin check runs inside the session middleware so that its
	// refusal can be rendered as a normal page.
	s.handler = s.findClient(s.recoverPanics(s.logRequests(securityHeaders(
		s.loadAndSaveSession(s.authenticate(checked))))))
	return s, nil
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}
