// Package providers verifies and reads the bounce and complaint webhooks
// of the email providers mailschool can send through: Amazon SES (through
// an SNS topic), SendGrid, Postmark and Mailgun. Each request is checked
// with its provider's own scheme before anything in it is believed; what
// it says becomes bounces.Report values for a bounces.Recorder.
package providers

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
)

// The providers, as named in the webhook URLs and in Report.Source.
const (
	SES      = "ses"
	SendGrid = "sendgrid"
	Postmark = "postmark"
	Mailgun  = "mailgun"
)

// Errors of Reports; the web handler answers each with its own status.
var (
	// ErrNotConfigured: the provider is unknown or has no setting.
	ErrNotConfigured = errors.New("bounce webhook not configured")
	// ErrUnauthenticated: the request is not proven to come from the
	// provider (bad or missing signature or credentials, wrong topic,
	// stale or replayed timestamp).
	ErrUnauthenticated = errors.New("bounce webhook not authenticated")
	// ErrMalformed: the request is authentic, or cannot be checked at all,
	// but is not the JSON the provider sends.
	ErrMalformed = errors.New("bounce webhook malformed")
)

// Settings are the webhooks' secrets, as configured; an empty one turns
// its provider off.
type Settings struct {
	// SESTopicARN is the ARN of the SNS topic SES publishes its bounce
	// and complaint notifications to; only that topic's messages are
	// taken, each verified with the SNS signing certificate.
	SESTopicARN string
	// SendGridPublicKey is the Event Webhook's verification key: an ECDSA
	// P-256 public key, base64 DER, as SendGrid shows it.
	SendGridPublicKey string
	// PostmarkCredentials is the "user:password" put in the webhook URL
	// given to Postmark, which it sends as HTTP basic authentication.
	PostmarkCredentials string
	// MailgunSigningKey is Mailgun's HTTP webhook signing key.
	MailgunSigningKey string
}

// Validate reports a setting that cannot work, naming it.
func (s Settings) Validate() error {
	if s.SESTopicARN != "" {
		if _, err := parseTopicARN(s.SESTopicARN); err != nil {
			return fmt.Errorf("MAILSCHOOL_BOUNCE_SES_TOPIC_ARN %q: %w", s.SESTopicARN, err)
		}
	}
	if s.SendGridPublicKey != "" {
		if _, err := parseSendGridKey(s.SendGridPublicKey); err != nil {
			return fmt.Errorf("MAILSCHOOL_BOUNCE_SENDGRID_SECRET: %w", err)
		}
	}
	if s.PostmarkCredentials != "" && !strings.Contains(s.PostmarkCredentials, ":") {
		return errors.New(`MAILSCHOOL_BOUNCE_POSTMARK_SECRET must be "user:password", the credentials put in the webhook URL`)
	}
	return nil
}

// Enabled reports whether any provider is configured.
func (s Settings) Enabled() bool {
	return s.SESTopicARN != "" || s.SendGridPublicKey != "" || s.PostmarkCredentials != "" || s.MailgunSigningKey != ""
}

// Options are the parts tests replace; the zero value is production's.
type Options struct {
	// FetchCertificate fetches an SNS signing certificate (PEM) or the
	// certificate of its issuer (DER); the URL has been checked first.
	// Nil: an HTTPS GET with a 10 s timeout and a size cap.
	FetchCertificate func(ctx context.Context, url string) ([]byte, error)
	// Roots are the CAs an SNS signing certificate must chain to; nil:
	// the system's.
	Roots *x509.CertPool
	// ConfirmClient confirms SNS subscriptions (a GET of SubscribeURL);
	// nil: a client with a 10 s timeout.
	ConfirmClient *http.Client
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Webhooks verifies and reads the providers' webhook requests.
type Webhooks struct {
	settings Settings
	opts     Options
	topic    topicARN
	sendgrid *ecdsa.PublicKey

	certMu sync.Mutex
	certs  map[string]*x509.Certificate // SNS signing certificates by URL

	replayMu   sync.Mutex
	tokens     map[string]time.Time // Mailgun tokens taken, until when they are kept
	tokenQueue []seenToken          // the same, oldest first
}

// New checks the settings and makes the webhooks.
func New(settings Settings, opts Options) (*Webhooks, error) {
	if err := settings.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FetchCertificate == nil {
		opts.FetchCertificate = fetchCertificate
	}
	if opts.ConfirmClient == nil {
		opts.ConfirmClient = &http.Client{Timeout: fetchTimeout}
	}
	w := &Webhooks{settings: settings, opts: opts, certs: map[string]*x509.Certificate{}, tokens: map[string]time.Time{}}
	if settings.SESTopicARN != "" {
		w.topic, _ = parseTopicARN(settings.SESTopicARN)
	}
	if settings.SendGridPublicKey != "" {
		w.sendgrid, _ = parseSendGridKey(settings.SendGridPublicKey)
	}
	return w, nil
}

// Enabled reports whether provider is known and configured.
func (w *Webhooks) Enabled(provider string) bool {
	switch provider {
	case SES:
		return w.settings.SESTopicARN != ""
	case SendGrid:
		return w.settings.SendGridPublicKey != ""
	case Postmark:
		return w.settings.PostmarkCredentials != ""
	case Mailgun:
		return w.settings.MailgunSigningKey != ""
	}
	return false
}

// Reports verifies one webhook request of provider and returns the bounces
// and complaints it reports; events that are neither are left out. Nothing
// of an unverified request is acted on. For SES, a subscription
// confirmation is confirmed here and reports nothing.
func (w *Webhooks) Reports(ctx context.Context, provider string, header http.Header, body []byte) ([]bounces.Report, error) {
	if !w.Enabled(provider) {
		return nil, ErrNotConfigured
	}
	var reports []bounces.Report
	var err error
	switch provider {
	case SES:
		reports, err = w.ses(ctx, body)
	case SendGrid:
		reports, err = w.sendGridReports(header, body)
	case Postmark:
		reports, err = w.postmarkReports(header, body)
	default:
		reports, err = w.mailgunReports(body)
	}
	if err != nil {
		return nil, fmt.Errorf("%s webhook: %w", provider, err)
	}
	for i := range reports {
		if reports[i].At.IsZero() {
			reports[i].At = w.opts.Now().UTC()
		}
	}
	return reports, nil
}

// unauthenticated wraps why a request was refused.
func unauthenticated(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnauthenticated, fmt.Sprintf(format, args...))
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// messageID is a Message-ID without its angle brackets and spaces.
func messageID(s string) string {
	return strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "<>"))
}

func parseSendGridKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "-----BEGIN PUBLIC KEY-----")
	s = strings.TrimSuffix(s, "-----END PUBLIC KEY-----")
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, errors.New("must be the verification key SendGrid shows, in base64")
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %w", err)
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("must be an ECDSA public key, the verification key SendGrid shows")
	}
	return ec, nil
}
