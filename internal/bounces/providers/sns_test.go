package providers_test

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/providers"
	"github.com/mailschool/mailschool/internal/bounces/providers/providertest"
)

// testNow is the tests' clock: inside the test certificates' validity.
var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// sesWebhooks are SES webhooks for providertest.Topic that trust and fetch
// from f.
func sesWebhooks(t *testing.T, f *providertest.SNS, now time.Time) *providers.Webhooks {
	t.Helper()
	w, err := providers.New(providers.Settings{SESTopicARN: providertest.Topic}, f.Options(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// SESBounce is an SES bounce notification as SES publishes it to SNS.
const sesBounce = `{"notificationType":"Bounce","bounce":{"feedbackId":"0102017f-feedback","bounceType":"Permanent",
"bounceSubType":"General","bouncedRecipients":[{"emailAddress":"gone@example.org","action":"failed","status":"5.1.1",
"diagnosticCode":"smtp; 550 5.1.1 user unknown"},{"emailAddress":"also.gone@example.org","action":"failed","status":"5.1.1"}],
"timestamp":"2026-03-10T11:58:00.000Z","remoteMtaIp":"192.0.2.1","reportingMTA":"dsn; a1-2.smtp-out.eu-west-1.amazonses.com"},
"mail":{"timestamp":"2026-03-10T11:57:59.000Z","source":"bounces+tok123@bounce.school.example","sourceArn":"arn:aws:ses:eu-west-1:123456789012:identity/school.example",
"sendingAccountId":"123456789012","messageId":"0102017f-ses-own-id","destination":["gone@example.org","also.gone@example.org"],
"headersTruncated":false,"headers":[{"name":"From","value":"School <learn@school.example>"},{"name":"Message-ID","value":"<lesson-42@school.example>"}],
"commonHeaders":{"from":["School <learn@school.example>"],"to":["gone@example.org"],"messageId":"<lesson-42@school.example>","subject":"Lesson 1"}}}`

const sesComplaint = `{"notificationType":"Complaint","complaint":{"feedbackId":"0102017f-complaint","complaintSubType":null,
"complainedRecipients":[{"emailAddress":"annoyed@example.org"}],"timestamp":"2026-03-10T11:59:00.000Z","userAgent":"Yahoo!-Mail-Feedback/2.0",
"complaintFeedbackType":"abuse","arrivalDate":"2026-03-10T11:00:00.000Z"},
"mail":{"source":"bounces+tok456@bounce.school.example","messageId":"0102017f-other","headers":[{"name":"Message-ID","value":"<lesson-43@school.example>"}],
"commonHeaders":{"to":["annoyed@example.org"]}}}`

func TestSESBounceAndComplaint(t *testing.T) {
	f := providertest.NewSNS(t, "sns.amazonaws.com", testNow)
	w := sesWebhooks(t, f, testNow)
	for _, version := range []string{"1", "2"} {
		reports, err := w.Reports(context.Background(), providers.SES, nil, f.Sign(t, providertest.Notification(sesBounce, version)))
		if err != nil {
			t.Fatalf("version %s: %v", version, err)
		}
		at := time.Date(2026, 3, 10, 11, 58, 0, 0, time.UTC)
		want := []bounces.Report{
			{Kind: bounces.Hard, Recipient: "gone@example.org", ReturnPath: "bounces+tok123@bounce.school.example", MessageID: "lesson-42@school.example",
				Diagnostic: "smtp; 550 5.1.1 user unknown", Source: "ses", SourceID: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324/gone@example.org", At: at},
			{Kind: bounces.Hard, Recipient: "also.gone@example.org", ReturnPath: "bounces+tok123@bounce.school.example", MessageID: "lesson-42@school.example",
				Diagnostic: "5.1.1", Source: "ses", SourceID: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324/also.gone@example.org", At: at},
		}
		assertReports(t, reports, want)
	}
	// With a Subject, which is then signed too.
	m := providertest.Notification(sesComplaint, "2")
	m["Subject"] = "Amazon SES Email Event Notification"
	reports, err := w.Reports(context.Background(), providers.SES, nil, f.Sign(t, m))
	if err != nil {
		t.Fatal(err)
	}
	assertReports(t, reports, []bounces.Report{{Kind: bounces.Complaint, Recipient: "annoyed@example.org",
		ReturnPath: "bounces+tok456@bounce.school.example", MessageID: "lesson-43@school.example", Diagnostic: "abuse",
		Source: "ses", SourceID: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324/annoyed@example.org", At: time.Date(2026, 3, 10, 11, 59, 0, 0, time.UTC)}})
	if len(f.Fetched()) != 1 {
		t.Errorf("the certificate was fetched %d times, want once (then kept)", len(f.Fetched()))
	}
}

func TestSESTransientAndUndeterminedAreSoft(t *testing.T) {
	f := providertest.NewSNS(t, "sns.amazonaws.com", testNow)
	w := sesWebhooks(t, f, testNow)
	for _, bounceType := range []string{"Transient", "Undetermined"} {
		msg := strings.Replace(sesBounce, `"Permanent"`, `"`+bounceType+`"`, 1)
		reports, err := w.Reports(context.Background(), providers.SES, nil, f.Sign(t, providertest.Notification(msg, "2")))
		if err != nil || len(reports) != 2 || reports[0].Kind != bounces.Soft {
			t.Errorf("%s: %v, %+v; want two soft bounces", bounceType, err, reports)
		}
	}
}

func TestSESRefusesForgeries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		leafName  string // the fixture certificate's name
		change    func(m map[string]string)
		afterSign func(body []byte) []byte
		now       time.Time
		wantFetch bool
		wantErr   error
	}{
		{name: "tampered message", wantFetch: true, afterSign: func(b []byte) []byte {
			return []byte(strings.Replace(string(b), "gone@example.org", "victim@example.org", 1))
		}},
		{name: "signature of another key", wantFetch: true, afterSign: func(b []byte) []byte {
			var m map[string]string
			_ = json.Unmarshal(b, &m)
			other, _ := rsa.GenerateKey(rand.Reader, 1024)
			d := sha256.Sum256([]byte("anything"))
			sig, _ := rsa.SignPKCS1v15(rand.Reader, other, crypto.SHA256, d[:])
			m["Signature"] = base64.StdEncoding.EncodeToString(sig)
			out, _ := json.Marshal(m)
			return out
		}},
		{name: "no signature", afterSign: func(b []byte) []byte {
			var m map[string]string
			_ = json.Unmarshal(b, &m)
			delete(m, "Signature")
			out, _ := json.Marshal(m)
			return out
		}},
		{name: "certificate on another host", change: func(m map[string]string) {
			m["SigningCertURL"] = "https://sns.eu-west-1.amazonaws.com.attacker.example/cert.pem"
		}},
		{name: "certificate over http", change: func(m map[string]string) {
			m["SigningCertURL"] = strings.Replace(providertest.CertURL, "https:", "http:", 1)
		}},
		{name: "certificate with a port", change: func(m map[string]string) {
			m["SigningCertURL"] = strings.Replace(providertest.CertURL, ".com/", ".com:8443/", 1)
		}},
		{name: "certificate of another region", change: func(m map[string]string) {
			m["SigningCertURL"] = strings.Replace(providertest.CertURL, "eu-west-1", "us-east-1", 1)
		}},
		{name: "certificate URL not a .pem", change: func(m map[string]string) {
			m["SigningCertURL"] = strings.Replace(providertest.CertURL, ".pem", ".txt", 1)
		}},
		{name: "another topic", change: func(m map[string]string) {
			m["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-elses"
		}},
		{name: "unknown signature version", change: func(m map[string]string) { m["SignatureVersion"] = "3" }},
		{name: "certificate not issued to SNS", leafName: "attacker.example", wantFetch: true},
		{name: "expired certificate", now: testNow.Add(60 * 24 * time.Hour), wantFetch: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := providertest.NewSNS(t, cmp.Or(tc.leafName, "sns.amazonaws.com"), testNow)
			now := testNow
			if !tc.now.IsZero() {
				now = tc.now
			}
			w := sesWebhooks(t, f, now)
			m := providertest.Notification(sesBounce, "2")
			if tc.change != nil {
				tc.change(m)
			}
			body := f.Sign(t, m)
			if tc.afterSign != nil {
				body = tc.afterSign(body)
			}
			reports, err := w.Reports(context.Background(), providers.SES, nil, body)
			if !errors.Is(err, providers.ErrUnauthenticated) || reports != nil {
				t.Errorf("got %v, %+v; want refused as unauthenticated", err, reports)
			}
			if fetched := len(f.Fetched()) > 0; fetched != tc.wantFetch {
				t.Errorf("certificate fetched: %v (%v), want %v", fetched, f.Fetched(), tc.wantFetch)
			}
		})
	}
}

func TestSESSubscriptionConfirmation(t *testing.T) {
	f := providertest.NewSNS(t, "sns.amazonaws.com", testNow)
	w := sesWebhooks(t, f, testNow)
	confirm := func(subscribeURL, topic string) map[string]string {
		return map[string]string{
			"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "Token": "2336412f37",
			"TopicArn": topic, "Message": "You have chosen to subscribe to the topic " + topic + ".",
			"SubscribeURL": subscribeURL, "Timestamp": "2026-03-10T11:00:00.000Z", "SignatureVersion": "1", "SigningCertURL": providertest.CertURL,
		}
	}
	good := "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + providertest.Topic + "&Token=2336412f37"
	reports, err := w.Reports(context.Background(), providers.SES, nil, f.Sign(t, confirm(good, providertest.Topic)))
	if err != nil || len(reports) != 0 {
		t.Fatalf("confirmation: %v, %+v", err, reports)
	}
	if confirmed := f.Confirmed(); len(confirmed) != 1 || confirmed[0] != good {
		t.Fatalf("confirmed %v, want %s", confirmed, good)
	}

	// Signed but pointing elsewhere, of another topic, or not signed:
	// nothing is visited.
	confirmedBefore := len(f.Confirmed())
	evil := strings.Replace(good, "sns.eu-west-1.amazonaws.com", "attacker.example", 1)
	if _, err := w.Reports(context.Background(), providers.SES, nil, f.Sign(t, confirm(evil, providertest.Topic))); !errors.Is(err, providers.ErrUnauthenticated) {
		t.Errorf("subscribe URL on another host: %v, want refused", err)
	}
	if _, err := w.Reports(context.Background(), providers.SES, nil, f.Sign(t, confirm(good, "arn:aws:sns:eu-west-1:999999999999:other"))); !errors.Is(err, providers.ErrUnauthenticated) {
		t.Errorf("another topic: %v, want refused", err)
	}
	forged := f.Sign(t, confirm(good, providertest.Topic))
	forged = []byte(strings.Replace(string(forged), "2336412f37", "2336412f38", 2))
	if _, err := w.Reports(context.Background(), providers.SES, nil, forged); !errors.Is(err, providers.ErrUnauthenticated) {
		t.Errorf("forged confirmation: %v, want refused", err)
	}
	if visited := f.Confirmed()[confirmedBefore:]; len(visited) != 0 {
		t.Errorf("visited %v for refused confirmations", visited)
	}
}

func TestSESMalformed(t *testing.T) {
	f := providertest.NewSNS(t, "sns.amazonaws.com", testNow)
	w := sesWebhooks(t, f, testNow)
	if _, err := w.Reports(context.Background(), providers.SES, nil, []byte("not json")); !errors.Is(err, providers.ErrMalformed) {
		t.Errorf("not JSON: %v, want malformed", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	for _, s := range []providers.Settings{
		{SESTopicARN: "my-topic"},
		{SendGridPublicKey: "not base64!"},
		{SendGridPublicKey: base64.StdEncoding.EncodeToString([]byte("not DER"))},
		{PostmarkCredentials: "no colon"},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", s)
		}
	}
	if err := (providers.Settings{SESTopicARN: providertest.Topic, PostmarkCredentials: "u:p", MailgunSigningKey: "key"}).Validate(); err != nil {
		t.Errorf("good settings: %v", err)
	}
}

func assertReports(t *testing.T, got, want []bounces.Report) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d reports, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].At.Equal(want[i].At) {
			t.Errorf("report %d at %v, want %v", i, got[i].At, want[i].At)
		}
		got[i].At, want[i].At = time.Time{}, time.Time{}
		if got[i] != want[i] {
			t.Errorf("report %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// TestSESCertificateIssuerFromAIA: SNS serves its certificate without the
// intermediate; the issuer is fetched from the address the certificate
// names, from Amazon's CA repository only.
func TestSESCertificateIssuerFromAIA(t *testing.T) {
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	intKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	create := func(tmpl, parent *x509.Certificate, pub any, priv any) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	validity := func(c *x509.Certificate) *x509.Certificate {
		c.NotBefore, c.NotAfter = testNow.Add(-time.Hour), testNow.Add(24*time.Hour)
		return c
	}
	rootTmpl := validity(&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Root"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	root := create(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	intermediate := create(validity(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Intermediate"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}), root, &intKey.PublicKey, rootKey)
	roots := x509.NewCertPool()
	roots.AddCert(root)

	for _, tc := range []struct {
		issuerURL string
		wantOK    bool
	}{
		{"http://crt.r2m01.amazontrust.com/r2m01.cer", true},
		{"http://crt.attacker.example/r2m01.cer", false},
	} {
		leaf := create(validity(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
			DNSNames: []string{"sns.amazonaws.com"}, IssuingCertificateURL: []string{tc.issuerURL},
			KeyUsage: x509.KeyUsageDigitalSignature}), intermediate, &leafKey.PublicKey, intKey)
		var fetched []string
		w, err := providers.New(providers.Settings{SESTopicARN: providertest.Topic}, providers.Options{
			Roots: roots, Now: func() time.Time { return testNow },
			FetchCertificate: func(_ context.Context, url string) ([]byte, error) {
				fetched = append(fetched, url)
				switch url {
				case providertest.CertURL:
					return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), nil
				case tc.issuerURL:
					return intermediate.Raw, nil
				}
				return nil, errors.New("not found")
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		m := providertest.Notification(sesBounce, "2")
		m["Signature"] = signSHA256(t, leafKey, m)
		body, _ := json.Marshal(m)
		_, err = w.Reports(context.Background(), providers.SES, nil, body)
		if tc.wantOK && err != nil {
			t.Errorf("issuer at %s: %v (fetched %v)", tc.issuerURL, err, fetched)
		}
		if !tc.wantOK && (!errors.Is(err, providers.ErrUnauthenticated) || len(fetched) != 1) {
			t.Errorf("issuer at %s: %v, fetched %v; want refused without fetching the issuer", tc.issuerURL, err, fetched)
		}
	}
}

// signSHA256 signs a notification with SignatureVersion 2 and key.
func signSHA256(t *testing.T, key *rsa.PrivateKey, m map[string]string) string {
	t.Helper()
	var text strings.Builder
	for _, n := range []string{"Message", "MessageId", "Timestamp", "TopicArn", "Type"} {
		text.WriteString(n + "\n" + m[n] + "\n")
	}
	d := sha256.Sum256([]byte(text.String()))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}
