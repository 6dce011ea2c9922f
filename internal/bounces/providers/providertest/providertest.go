// Package providertest signs webhook requests the way the email providers
// do, with keys made for the test: an SNS signing certificate from a
// made-up CA, a SendGrid key pair, a Mailgun signing key. The signing is
// written from the providers' documentation, apart from the code that
// verifies it.
package providertest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/bounces/providers"
)

// Topic and CertURL are the SNS topic and signing certificate URL of the
// test messages.
const (
	Topic   = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
	CertURL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
)

var (
	keysOnce sync.Once
	caKey    *ecdsa.PrivateKey
	leafKey  *rsa.PrivateKey
)

// SNS is a made-up CA and an SNS signing certificate it issued, served at
// CertURL by a fetcher that records its calls, and a subscription
// confirmer that records the URLs it visits.
type SNS struct {
	roots   *x509.CertPool
	certPEM []byte

	mu        sync.Mutex
	fetched   []string
	confirmed []string
}

// NewSNS makes the CA and a certificate issued to name (SNS's is
// sns.amazonaws.com), valid from an hour before now for 30 days.
func NewSNS(t testing.TB, name string, now time.Time) *SNS {
	t.Helper()
	keysOnce.Do(func() {
		caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		leafKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	})
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root CA"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &SNS{roots: roots, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})}
}

// Options trust the CA, fetch from the fixture and confirm into it.
func (s *SNS) Options(now func() time.Time) providers.Options {
	return providers.Options{
		Roots: s.roots,
		Now:   now,
		FetchCertificate: func(_ context.Context, url string) ([]byte, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.fetched = append(s.fetched, url)
			if url != CertURL {
				return nil, errors.New("not found")
			}
			return s.certPEM, nil
		},
		ConfirmClient: &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.confirmed = append(s.confirmed, r.URL.String())
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("<ConfirmSubscriptionResponse/>"))}, nil
		})},
	}
}

// Fetched are the certificate URLs fetched so far.
func (s *SNS) Fetched() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.fetched...)
}

// Confirmed are the subscription URLs visited so far.
func (s *SNS) Confirmed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.confirmed...)
}

type roundTrip func(*http.Request) (*http.Response, error)

func (rt roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return rt(r) }

// Sign signs an SNS message as SNS does, with the version its
// SignatureVersion names, and returns it as JSON. The signed fields, in
// this order, are AWS's list for the message type; Subject only when
// present.
func (s *SNS) Sign(t testing.TB, m map[string]string) []byte {
	t.Helper()
	names := []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	if m["Type"] == "Notification" {
		names = []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	}
	var text strings.Builder
	for _, n := range names {
		if v, ok := m[n]; ok {
			text.WriteString(n + "\n" + v + "\n")
		}
	}
	var sig []byte
	var err error
	if m["SignatureVersion"] == "1" {
		d := sha1.Sum([]byte(text.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, leafKey, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(text.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, leafKey, crypto.SHA256, d[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Notification is an SNS notification of Topic carrying message, signed
// with version "1" or "2" once passed to Sign.
func Notification(message, version string) map[string]string {
	return map[string]string{
		"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": Topic,
		"Message": message, "Timestamp": "2026-03-10T11:58:01.000Z", "SignatureVersion": version,
		"SigningCertURL": CertURL, "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
	}
}

// SendGridKey makes a key pair and returns it with the public key as
// SendGrid shows it (base64 DER).
func SendGridKey(t testing.TB) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, base64.StdEncoding.EncodeToString(der)
}

// SignSendGrid returns the headers SendGrid sends with body: an ECDSA
// signature over the timestamp followed by the body.
func SignSendGrid(t testing.TB, key *ecdsa.PrivateKey, timestamp string, body []byte) http.Header {
	t.Helper()
	digest := sha256.Sum256(append([]byte(timestamp), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("X-Twilio-Email-Event-Webhook-Signature", base64.StdEncoding.EncodeToString(sig))
	h.Set("X-Twilio-Email-Event-Webhook-Timestamp", timestamp)
	return h
}

// Mailgun is a Mailgun webhook body carrying eventData (JSON), signed with
// key at ts with token: the hex HMAC-SHA256 of the timestamp followed by
// the token.
func Mailgun(key string, ts time.Time, token, eventData string) []byte {
	timestamp := fmt.Sprint(ts.Unix())
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(timestamp + token))
	return fmt.Appendf(nil, `{"signature":{"timestamp":%q,"token":%q,"signature":%q},"event-data":%s}`,
		timestamp, token, hex.EncodeToString(mac.Sum(nil)), eventData)
}
