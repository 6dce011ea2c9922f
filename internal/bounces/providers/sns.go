package providers

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
)

// fetchTimeout bounds each fetch of a certificate and each subscription
// confirmation.
const fetchTimeout = 10 * time.Second

// maxCertificateBytes caps a fetched certificate: real ones are about 2 KiB.
const maxCertificateBytes = 64 << 10

// snsCertificateName is the name SNS signing certificates are issued to.
const snsCertificateName = "sns.amazonaws.com"

// snsHost matches the regional SNS endpoints of AWS's commercial
// partition, which serve the signing certificates and the subscription
// confirmations.
var snsHost = regexp.MustCompile(`^sns\.([a-z0-9-]+)\.amazonaws\.com$`)

// topicARN is an SNS topic's ARN, arn:aws:sns:<region>:<account>:<name>.
type topicARN struct {
	arn    string
	region string
}

func parseTopicARN(s string) (topicARN, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "sns" || parts[3] == "" || parts[4] == "" || parts[5] == "" {
		return topicARN{}, errors.New("must be an SNS topic ARN, such as arn:aws:sns:eu-west-1:123456789012:ses-bounces")
	}
	return topicARN{arn: s, region: parts[3]}, nil
}

// snsMessage is the JSON body SNS posts to an HTTPS subscription.
type snsMessage struct {
	Type             string
	MessageID        string `json:"MessageId"`
	Token            string
	TopicArn         string
	Subject          *string // signed only when present
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
	SubscribeURL     string
}

// stringToSign is the canonical text SNS signs: the message type's fields
// in byte order of their names, each as "name\nvalue\n".
func (m snsMessage) stringToSign() (string, error) {
	var fields [][2]string
	switch m.Type {
	case "Notification":
		fields = append(fields, [2]string{"Message", m.Message}, [2]string{"MessageId", m.MessageID})
		if m.Subject != nil {
			fields = append(fields, [2]string{"Subject", *m.Subject})
		}
		fields = append(fields, [2]string{"Timestamp", m.Timestamp}, [2]string{"TopicArn", m.TopicArn}, [2]string{"Type", m.Type})
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		fields = [][2]string{{"Message", m.Message}, {"MessageId", m.MessageID}, {"SubscribeURL", m.SubscribeURL},
			{"Timestamp", m.Timestamp}, {"Token", m.Token}, {"TopicArn", m.TopicArn}, {"Type", m.Type}}
	default:
		return "", malformed("unknown SNS message type %q", m.Type)
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f[0] + "\n" + f[1] + "\n")
	}
	return b.String(), nil
}

// ses verifies an SNS message of the configured topic and reads the SES
// notification it carries.
func (w *Webhooks) ses(ctx context.Context, body []byte) ([]bounces.Report, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil || m.Type == "" {
		return nil, malformed("not an SNS message")
	}
	// Everything that needs no fetch is checked first, so that a forged
	// message costs no request to anyone.
	if m.TopicArn != w.topic.arn {
		return nil, unauthenticated("SNS message of topic %q, not the configured one", m.TopicArn)
	}
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return nil, unauthenticated("SNS signature version %q", m.SignatureVersion)
	}
	signed, err := m.stringToSign()
	if err != nil {
		return nil, err
	}
	signature, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(signature) == 0 {
		return nil, unauthenticated("SNS signature missing or not base64")
	}
	if err := w.checkSNSURL(m.SigningCertURL, true); err != nil {
		return nil, unauthenticated("signing certificate URL: %v", err)
	}
	cert, err := w.snsCertificate(ctx, m.SigningCertURL)
	if err != nil {
		return nil, unauthenticated("signing certificate: %v", err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, unauthenticated("signing certificate has no RSA key")
	}
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum([]byte(signed))
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(signed))
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(key, hash, digest, signature); err != nil {
		return nil, unauthenticated("SNS signature does not match")
	}

	switch m.Type {
	case "SubscriptionConfirmation":
		return nil, w.confirmSubscription(ctx, m.SubscribeURL)
	case "UnsubscribeConfirmation":
		return nil, nil
	}
	return sesReports(m)
}

// checkSNSURL accepts only https URLs of the topic's regional SNS
// endpoint; a certificate's path ends in .pem.
func (w *Webhooks) checkSNSURL(raw string, certificate bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	host := snsHost.FindStringSubmatch(u.Host) // a port would not match
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("%q is not https", raw)
	case u.User != nil || host == nil:
		return fmt.Errorf("%q is not on an SNS host", raw)
	case host[1] != w.topic.region:
		return fmt.Errorf("%q is not in the topic's region %s", raw, w.topic.region)
	case certificate && (!strings.HasSuffix(u.Path, ".pem") || u.RawQuery != ""):
		return fmt.Errorf("%q is not a certificate", raw)
	}
	return nil
}

// snsCertificate returns the verified certificate at url, fetched once
// and kept while it is valid.
func (w *Webhooks) snsCertificate(ctx context.Context, certURL string) (*x509.Certificate, error) {
	now := w.opts.Now()
	w.certMu.Lock()
	cert := w.certs[certURL]
	w.certMu.Unlock()
	if cert != nil && now.Before(cert.NotAfter) {
		return cert, nil
	}
	data, err := w.opts.FetchCertificate(ctx, certURL)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", certURL, err)
	}
	var chain []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", certURL, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%s holds no certificate", certURL)
	}
	cert = chain[0]
	if err := w.verifySNSCertificate(ctx, cert, chain[1:], now); err != nil {
		return nil, err
	}
	w.certMu.Lock()
	if len(w.certs) > 100 { // a handful of regions and key rotations
		clear(w.certs)
	}
	w.certs[certURL] = cert
	w.certMu.Unlock()
	return cert, nil
}

// verifySNSCertificate checks that cert is valid now, is issued to SNS
// and chains to a trusted root. SNS serves the signing certificate alone:
// its issuer is fetched from the address the certificate names (AIA),
// from Amazon's CA repository only.
func (w *Webhooks) verifySNSCertificate(ctx context.Context, cert *x509.Certificate, extra []*x509.Certificate, now time.Time) error {
	if cert.VerifyHostname(snsCertificateName) != nil && cert.Subject.CommonName != snsCertificateName {
		return fmt.Errorf("certificate is issued to %q, not %s", cert.Subject.CommonName, snsCertificateName)
	}
	intermediates := x509.NewCertPool()
	for _, c := range extra {
		intermediates.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: w.opts.Roots, Intermediates: intermediates, CurrentTime: now}
	_, err := cert.Verify(opts)
	if errors.As(err, new(x509.UnknownAuthorityError)) && len(extra) == 0 {
		for _, issuerURL := range cert.IssuingCertificateURL {
			u, perr := url.Parse(issuerURL)
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.HasSuffix(u.Hostname(), ".amazontrust.com") {
				continue
			}
			der, ferr := w.opts.FetchCertificate(ctx, issuerURL)
			if ferr != nil {
				return fmt.Errorf("fetch issuer %s: %w", issuerURL, ferr)
			}
			issuer, perr2 := x509.ParseCertificate(der)
			if perr2 != nil {
				return fmt.Errorf("parse issuer %s: %w", issuerURL, perr2)
			}
			intermediates.AddCert(issuer)
			_, err = cert.Verify(opts)
			break
		}
	}
	if err != nil {
		return fmt.Errorf("verify certificate: %w", err)
	}
	return nil
}

// fetchCertificate GETs a certificate over the network.
func fetchCertificate(ctx context.Context, certURL string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, certURL, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", res.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxCertificateBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCertificateBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxCertificateBytes)
	}
	return data, nil
}

// confirmSubscription visits a verified subscription confirmation's
// SubscribeURL, which starts the notifications.
func (w *Webhooks) confirmSubscription(ctx context.Context, subscribeURL string) error {
	if err := w.checkSNSURL(subscribeURL, false); err != nil {
		return unauthenticated("subscribe URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, subscribeURL, nil)
	if err != nil {
		return fmt.Errorf("confirm SNS subscription: %w", err)
	}
	res, err := w.opts.ConfirmClient.Do(req)
	if err != nil {
		return fmt.Errorf("confirm SNS subscription: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("confirm SNS subscription: status %d", res.StatusCode)
	}
	return nil
}

// sesNotification is what SES publishes to SNS: a notification
// (notificationType) or, through a configuration set, an event (eventType).
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           *struct {
		BounceType        string `json:"bounceType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
		Timestamp time.Time `json:"timestamp"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
		ComplaintFeedbackType string    `json:"complaintFeedbackType"`
		Timestamp             time.Time `json:"timestamp"`
	} `json:"complaint"`
	Mail struct {
		Source  string `json:"source"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
}

// sesBounceKinds maps SES's bounce types: an undetermined bounce counts as
// soft, so that only repeated ones block.
var sesBounceKinds = map[string]bounces.Kind{"Permanent": bounces.Hard, "Transient": bounces.Soft, "Undetermined": bounces.Soft}

// sesReports reads the SES notification of a verified SNS notification.
func sesReports(m snsMessage) ([]bounces.Report, error) {
	var n sesNotification
	if err := json.Unmarshal([]byte(m.Message), &n); err != nil {
		return nil, malformed("SNS notification is not an SES notification")
	}
	id := messageID(n.Mail.CommonHeaders.MessageID)
	if id == "" {
		for _, h := range n.Mail.Headers {
			if strings.EqualFold(h.Name, "Message-ID") {
				id = messageID(h.Value)
			}
		}
	}
	base := bounces.Report{ReturnPath: n.Mail.Source, MessageID: id, Source: SES}
	var reports []bounces.Report
	switch or(n.NotificationType, n.EventType) {
	case "Bounce":
		if n.Bounce == nil {
			return nil, malformed("SES bounce without its bounce")
		}
		kind, ok := sesBounceKinds[n.Bounce.BounceType]
		if !ok {
			kind = bounces.Soft
		}
		for _, rcpt := range n.Bounce.BouncedRecipients {
			r := base
			r.Kind, r.Recipient, r.At = kind, rcpt.EmailAddress, n.Bounce.Timestamp
			r.Diagnostic = or(rcpt.DiagnosticCode, rcpt.Status)
			r.SourceID = m.MessageID + "/" + rcpt.EmailAddress
			reports = append(reports, r)
		}
	case "Complaint":
		if n.Complaint == nil {
			return nil, malformed("SES complaint without its complaint")
		}
		for _, rcpt := range n.Complaint.ComplainedRecipients {
			r := base
			r.Kind, r.Recipient, r.At = bounces.Complaint, rcpt.EmailAddress, n.Complaint.Timestamp
			r.Diagnostic = n.Complaint.ComplaintFeedbackType
			r.SourceID = m.MessageID + "/" + rcpt.EmailAddress
			reports = append(reports, r)
		}
	}
	return reports, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
