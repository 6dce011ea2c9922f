package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/providers"
	"github.com/mailschool/mailschool/internal/bounces/providers/providertest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// reportCollector is a bounces.Recorder that keeps what it is given.
type reportCollector struct {
	mu      sync.Mutex
	reports []bounces.Report
	fail    error // returned by Record when set
}

func (c *reportCollector) Record(_ context.Context, r bounces.Report) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.reports = append(c.reports, r)
	return nil
}

// take returns the reports recorded since the last take.
func (c *reportCollector) take() []bounces.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reports
	c.reports = nil
	return r
}

// withBounceWebhooks configures the providers' webhooks with settings and
// opts, recording into rec.
func withBounceWebhooks(t testing.TB, settings providers.Settings, opts providers.Options, rec bounces.Recorder) func(*Options) {
	return func(o *Options) {
		w, err := providers.New(settings, opts)
		if err != nil {
			t.Fatal(err)
		}
		o.Bounces, o.BounceWebhooks = rec, w
	}
}

const (
	webhookMailgunKey  = "mailgun-signing-key"
	webhookPostmarkKey = "postmark:a long random password"
)

// bounceApp is a test app with the four providers' webhooks on.
type bounceApp struct {
	*testApp
	rec         *reportCollector
	sns         *providertest.SNS
	sendgridKey *ecdsa.PrivateKey
}

func newBounceApp(t *testing.T, db *store.DB, customize ...func(*Options)) *bounceApp {
	t.Helper()
	b := &bounceApp{rec: &reportCollector{}, sns: providertest.NewSNS(t, "sns.amazonaws.com", time.Now())}
	key, public := providertest.SendGridKey(t)
	b.sendgridKey = key
	settings := providers.Settings{SESTopicARN: providertest.Topic, SendGridPublicKey: public,
		PostmarkCredentials: webhookPostmarkKey, MailgunSigningKey: webhookMailgunKey}
	b.testApp = newTestApp(t, db, append([]func(*Options){withBounceWebhooks(t, settings, b.sns.Options(time.Now), b.rec)}, customize...)...)
	return b
}

// postWebhook posts body to a provider's webhook as its servers do: no
// cookies, no Origin.
func (b *bounceApp) postWebhook(provider string, body []byte, header http.Header) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/email-learning/bounces/"+provider+"/", bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	return b.client().do(req)
}

func basicAuth(credentials string) http.Header {
	user, password, _ := strings.Cut(credentials, ":")
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	r.SetBasicAuth(user, password)
	return r.Header
}

const webhookSESBounce = `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"gone@example.org",
"status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2026-03-10T11:58:00.000Z"},
"mail":{"source":"bounces+tok1@bounce.school.example","messageId":"ses-own","commonHeaders":{"messageId":"<lesson-1@school.example>"}}}`

func webhookSendGridEvents(email string) []byte {
	return fmt.Appendf(nil, `[{"email":%q,"timestamp":1773143880,"smtp-id":"<lesson-2@school.example>","event":"bounce","type":"bounce",
"status":"5.1.1","reason":"550 no such user","sg_event_id":"sg-1"},{"email":"open@example.org","event":"open","sg_event_id":"sg-2"}]`, email)
}

const webhookPostmarkBounce = `{"RecordType":"Bounce","ID":987,"Type":"HardBounce","Email":"gone3@example.org","BouncedAt":"2026-03-10T11:58:00Z",
"Details":"smtp;550 5.1.1 unknown","Metadata":{"message-id":"lesson-3@school.example"},"MessageID":"pm-own"}`

const webhookMailgunFailed = `{"id":"mg-1","timestamp":1773143880.5,"event":"failed","severity":"permanent","recipient":"gone4@example.org",
"envelope":{"sender":"bounces+tok4@bounce.school.example"},"message":{"headers":{"message-id":"lesson-4@school.example"}},
"delivery-status":{"code":550,"description":"no such user"}}`

func TestBounceWebhooksRecordVerifiedReports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := newBounceApp(t, db)
		sendgridBody := webhookSendGridEvents("gone2@example.org")
		for _, tc := range []struct {
			provider string
			body     []byte
			header   http.Header
			want     bounces.Report
		}{
			{"ses", b.sns.Sign(t, providertest.Notification(webhookSESBounce, "2")), nil,
				bounces.Report{Kind: bounces.Hard, Recipient: "gone@example.org", ReturnPath: "bounces+tok1@bounce.school.example",
					MessageID: "lesson-1@school.example", Source: "ses", SourceID: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324/gone@example.org"}},
			{"sendgrid", sendgridBody, providertest.SignSendGrid(t, b.sendgridKey, fmt.Sprint(time.Now().Unix()), sendgridBody),
				bounces.Report{Kind: bounces.Hard, Recipient: "gone2@example.org", MessageID: "lesson-2@school.example", Source: "sendgrid", SourceID: "sg-1"}},
			{"postmark", []byte(webhookPostmarkBounce), basicAuth(webhookPostmarkKey),
				bounces.Report{Kind: bounces.Hard, Recipient: "gone3@example.org", MessageID: "lesson-3@school.example", Source: "postmark", SourceID: "987"}},
			{"mailgun", providertest.Mailgun(webhookMailgunKey, time.Now(), "token-1", webhookMailgunFailed), nil,
				bounces.Report{Kind: bounces.Hard, Recipient: "gone4@example.org", ReturnPath: "bounces+tok4@bounce.school.example",
					MessageID: "lesson-4@school.example", Source: "mailgun", SourceID: "mg-1"}},
		} {
			res := b.postWebhook(tc.provider, tc.body, tc.header)
			if res.status != http.StatusOK {
				t.Fatalf("%s: status %d, want 200\n%s", tc.provider, res.status, res.body)
			}
			got := b.rec.take()
			if len(got) != 1 {
				t.Fatalf("%s: recorded %+v, want one report", tc.provider, got)
			}
			if got[0].At.IsZero() {
				t.Errorf("%s: report without its time", tc.provider)
			}
			got[0].At, got[0].Diagnostic = time.Time{}, ""
			if got[0] != tc.want {
				t.Errorf("%s:\n got %+v\nwant %+v", tc.provider, got[0], tc.want)
			}
		}
		// Sent as a browser on another site would, the signature decides
		// all the same: the cross-origin protection lets providers in.
		body := providertest.Mailgun(webhookMailgunKey, time.Now(), "token-2", webhookMailgunFailed)
		if res := b.postWebhook("mailgun", body, http.Header{"Origin": {"https://elsewhere.example"}, "Sec-Fetch-Site": {"cross-site"}}); res.status != http.StatusOK {
			t.Errorf("with a foreign Origin: status %d, want 200\n%s", res.status, res.body)
		}
		if got := b.rec.take(); len(got) != 1 {
			t.Errorf("with a foreign Origin: recorded %+v, want one report", got)
		}
	})
}

func TestBounceWebhooksRefuseForgeries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := newBounceApp(t, db)
		otherKey, _ := providertest.SendGridKey(t)
		sendgridBody := webhookSendGridEvents("victim@example.org")
		now := fmt.Sprint(time.Now().Unix())
		replayed := providertest.Mailgun(webhookMailgunKey, time.Now(), "token-once", webhookMailgunFailed)
		if res := b.postWebhook("mailgun", replayed, nil); res.status != http.StatusOK {
			t.Fatalf("first Mailgun post: status %d\n%s", res.status, res.body)
		}
		b.rec.take()
		offHost := providertest.Notification(webhookSESBounce, "2")
		offHost["SigningCertURL"] = "https://attacker.example/SimpleNotificationService-1.pem"
		otherTopic := providertest.Notification(webhookSESBounce, "2")
		otherTopic["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:other"
		tampered := b.sns.Sign(t, providertest.Notification(webhookSESBounce, "2"))
		tampered = bytes.Replace(tampered, []byte("gone@example.org"), []byte("victim@example.org"), 1)
		fetchedBefore := len(b.sns.Fetched())

		for _, tc := range []struct {
			name     string
			provider string
			body     []byte
			header   http.Header
			want     int
		}{
			{"SES certificate on another host", "ses", b.sns.Sign(t, offHost), nil, http.StatusForbidden},
			{"SES message of another topic", "ses", b.sns.Sign(t, otherTopic), nil, http.StatusForbidden},
			{"SES message changed after signing", "ses", tampered, nil, http.StatusForbidden},
			{"SendGrid signed by another key", "sendgrid", sendgridBody, providertest.SignSendGrid(t, otherKey, now, sendgridBody), http.StatusForbidden},
			{"SendGrid without its headers", "sendgrid", sendgridBody, nil, http.StatusForbidden},
			{"Postmark without credentials", "postmark", []byte(webhookPostmarkBounce), nil, http.StatusUnauthorized},
			{"Postmark with a wrong password", "postmark", []byte(webhookPostmarkBounce), basicAuth("postmark:guess"), http.StatusUnauthorized},
			{"Mailgun signed with another key", "mailgun", providertest.Mailgun("another key", time.Now(), "token-3", webhookMailgunFailed), nil, http.StatusForbidden},
			{"Mailgun token replayed", "mailgun", replayed, nil, http.StatusForbidden},
			{"Mailgun stale timestamp", "mailgun", providertest.Mailgun(webhookMailgunKey, time.Now().Add(-6*time.Minute), "token-4", webhookMailgunFailed), nil, http.StatusForbidden},
			{"Mailgun not JSON", "mailgun", []byte("signature=x&token=y"), nil, http.StatusBadRequest},
			{"Postmark authenticated but not JSON", "postmark", []byte("{"), basicAuth(webhookPostmarkKey), http.StatusBadRequest},
			{"unknown provider", "sparkpost", []byte("{}"), nil, http.StatusNotFound},
			{"too large", "mailgun", bytes.Repeat([]byte(" "), maxBounceWebhookBytes+1), nil, http.StatusRequestEntityTooLarge},
		} {
			res := b.postWebhook(tc.provider, tc.body, tc.header)
			if res.status != tc.want {
				t.Errorf("%s: status %d, want %d\n%s", tc.name, res.status, tc.want, res.body)
			}
			if got := b.rec.take(); len(got) != 0 {
				t.Errorf("%s: recorded %+v, want nothing", tc.name, got)
			}
		}
		if res := b.postWebhook("postmark", []byte("{}"), nil); res.header.Get("WWW-Authenticate") == "" {
			t.Error("Postmark's refusal does not ask for basic authentication")
		}
		if fetched := b.sns.Fetched()[fetchedBefore:]; len(fetched) != 1 {
			// Only the tampered message, on the right host, gets as far as
			// the certificate.
			t.Errorf("certificates fetched for forgeries: %v, want only the SNS one, once", fetched)
		}
	})
}

func TestBounceWebhooksOff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// No recorder: every provider answers 404.
		off := newTestApp(t, db)
		req, _ := http.NewRequest(http.MethodPost, off.srv.URL+"/email-learning/bounces/mailgun/", strings.NewReader("{}"))
		if res := off.client().do(req); res.status != http.StatusNotFound {
			t.Errorf("without bounce webhooks: status %d, want 404", res.status)
		}
		// Only Mailgun configured: the others answer 404.
		rec := &reportCollector{}
		app := newTestApp(t, db, withBounceWebhooks(t, providers.Settings{MailgunSigningKey: webhookMailgunKey}, providers.Options{}, rec))
		for _, p := range []string{"ses", "sendgrid", "postmark"} {
			req, _ := http.NewRequest(http.MethodPost, app.srv.URL+"/email-learning/bounces/"+p+"/", strings.NewReader("{}"))
			if res := app.client().do(req); res.status != http.StatusNotFound {
				t.Errorf("%s not configured: status %d, want 404", p, res.status)
			}
		}
	})
}

func TestBounceWebhooksRecorderFailureIsRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := newBounceApp(t, db)
		b.rec.fail = errors.New("database down")
		body := providertest.Mailgun(webhookMailgunKey, time.Now(), "token-1", webhookMailgunFailed)
		// A non-2xx answer makes the provider send the event again later.
		if res := b.postWebhook("mailgun", body, nil); res.status != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", res.status)
		}
	})
}

func TestBounceWebhooksLimitRefusedRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := newBounceApp(t, db, func(o *Options) { o.BounceWebhookPerIP = auth.Limit{Every: time.Hour, Burst: 3} })
		// Verified requests are given back: any number of them pass.
		for i := range 5 {
			body := providertest.Mailgun(webhookMailgunKey, time.Now(), fmt.Sprint("token-", i), webhookMailgunFailed)
			if res := b.postWebhook("mailgun", body, nil); res.status != http.StatusOK {
				t.Fatalf("verified post %d: status %d\n%s", i, res.status, res.body)
			}
		}
		for i := range 3 {
			if res := b.postWebhook("postmark", []byte(webhookPostmarkBounce), nil); res.status != http.StatusUnauthorized {
				t.Fatalf("refused post %d: status %d, want 401", i, res.status)
			}
		}
		if res := b.postWebhook("postmark", []byte(webhookPostmarkBounce), basicAuth(webhookPostmarkKey)); res.status != http.StatusTooManyRequests {
			t.Errorf("after three refusals: status %d, want 429", res.status)
		}
	})
}
