package providers_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/providers"
	"github.com/mailschool/mailschool/internal/bounces/providers/providertest"
)

// SendGridSample is the example of SendGrid's own libraries' tests: a key,
// and a signature of it over a timestamp and a payload. Checking it shows
// that the scheme is SendGrid's, not merely agreeing with itself.
const (
	sendGridSampleKey       = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
	sendGridSampleSignature = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
	sendGridSampleTimestamp = "1588788367"
	sendGridSamplePayload   = `{"category":"example_payload","event":"test_event","message_id":"message_id"}`
)

func TestSendGridSampleSignature(t *testing.T) {
	w, err := providers.New(providers.Settings{SendGridPublicKey: sendGridSampleKey}, providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("X-Twilio-Email-Event-Webhook-Signature", sendGridSampleSignature)
	h.Set("X-Twilio-Email-Event-Webhook-Timestamp", sendGridSampleTimestamp)
	// The sample is one event, not the array real posts are: it passes
	// the signature and then fails as malformed.
	if _, err := w.Reports(context.Background(), providers.SendGrid, h, []byte(sendGridSamplePayload)); !errors.Is(err, providers.ErrMalformed) {
		t.Errorf("SendGrid's sample: %v, want its signature accepted", err)
	}
	h.Set("X-Twilio-Email-Event-Webhook-Timestamp", "1588788368")
	if _, err := w.Reports(context.Background(), providers.SendGrid, h, []byte(sendGridSamplePayload)); !errors.Is(err, providers.ErrUnauthenticated) {
		t.Errorf("SendGrid's sample with another timestamp: %v, want refused", err)
	}
}

// SendGridEvents is an Event Webhook post: the events SendGrid sends,
// reported or not.
const sendGridEvents = `[
{"email":"gone@example.org","timestamp":1773143880,"smtp-id":"<lesson-42@school.example>","event":"bounce","category":["lesson"],
 "sg_event_id":"ZGVsaXZlcmVkLTAtMjQ","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0","reason":"550 5.1.1 The email account that you tried to reach does not exist.","status":"5.1.1","type":"bounce","bounce_classification":"Invalid Address"},
{"email":"busy@example.org","timestamp":1773143881,"smtp-id":"<lesson-43@school.example>","event":"bounce","sg_event_id":"YmxvY2tlZC0x","reason":"421 try again later","status":"4.0.0","type":"blocked"},
{"email":"known@example.org","timestamp":1773143882,"smtp-id":"<lesson-44@school.example>","event":"dropped","sg_event_id":"ZHJvcHBlZC0y","reason":"Bounced Address","status":"5.0.0"},
{"email":"annoyed@example.org","timestamp":1773143883,"event":"spamreport","sg_event_id":"c3BhbXJlcG9ydC0z"},
{"email":"late@example.org","timestamp":1773143884,"smtp-id":"<lesson-45@school.example>","event":"deferred","sg_event_id":"ZGVmZXJyZWQtNA","response":"400 try again","attempt":"1"},
{"email":"fine@example.org","timestamp":1773143885,"smtp-id":"<lesson-46@school.example>","event":"delivered","sg_event_id":"ZGVsaXZlcmVkLTU"},
{"email":"open@example.org","timestamp":1773143886,"event":"open","sg_event_id":"b3Blbi02"}
]`

func newSendGrid(t *testing.T) (*providers.Webhooks, *ecdsa.PrivateKey) {
	t.Helper()
	key, public := providertest.SendGridKey(t)
	w, err := providers.New(providers.Settings{SendGridPublicKey: public}, providers.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return w, key
}

func TestSendGridEvents(t *testing.T) {
	w, key := newSendGrid(t)
	body := []byte(sendGridEvents)
	reports, err := w.Reports(context.Background(), providers.SendGrid, providertest.SignSendGrid(t, key, "1773143890", body), body)
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	assertReports(t, reports, []bounces.Report{
		{Kind: bounces.Hard, Recipient: "gone@example.org", MessageID: "lesson-42@school.example", Source: "sendgrid", SourceID: "ZGVsaXZlcmVkLTAtMjQ",
			Diagnostic: "5.1.1 550 5.1.1 The email account that you tried to reach does not exist.", At: at(1773143880)},
		{Kind: bounces.Soft, Recipient: "busy@example.org", MessageID: "lesson-43@school.example", Source: "sendgrid", SourceID: "YmxvY2tlZC0x",
			Diagnostic: "4.0.0 421 try again later", At: at(1773143881)},
		{Kind: bounces.Hard, Recipient: "known@example.org", MessageID: "lesson-44@school.example", Source: "sendgrid", SourceID: "ZHJvcHBlZC0y",
			Diagnostic: "5.0.0 Bounced Address", At: at(1773143882)},
		{Kind: bounces.Complaint, Recipient: "annoyed@example.org", Source: "sendgrid", SourceID: "c3BhbXJlcG9ydC0z", At: at(1773143883)},
	})
}

func TestSendGridRefusesForgeries(t *testing.T) {
	w, key := newSendGrid(t)
	_, otherKey := newSendGrid(t)
	body := []byte(sendGridEvents)
	good := providertest.SignSendGrid(t, key, "1773143890", body)
	for name, tc := range map[string]struct {
		header http.Header
		body   []byte
	}{
		"another key":          {providertest.SignSendGrid(t, otherKey, "1773143890", body), body},
		"tampered body":        {good, []byte(strings.Replace(sendGridEvents, "gone@", "victim@", 1))},
		"another timestamp":    {withHeader(good, "X-Twilio-Email-Event-Webhook-Timestamp", "1773143891"), body},
		"no signature":         {withHeader(good, "X-Twilio-Email-Event-Webhook-Signature", ""), body},
		"no timestamp":         {withHeader(good, "X-Twilio-Email-Event-Webhook-Timestamp", ""), body},
		"signature not base64": {withHeader(good, "X-Twilio-Email-Event-Webhook-Signature", "%%%"), body},
	} {
		if reports, err := w.Reports(context.Background(), providers.SendGrid, tc.header, tc.body); !errors.Is(err, providers.ErrUnauthenticated) || reports != nil {
			t.Errorf("%s: %v, %+v; want refused", name, err, reports)
		}
	}
}

func withHeader(h http.Header, name, value string) http.Header {
	h = h.Clone()
	if value == "" {
		h.Del(name)
	} else {
		h.Set(name, value)
	}
	return h
}

// PostmarkBounce is a Postmark Bounce webhook.
const postmarkBounce = `{"RecordType":"Bounce","MessageStream":"outbound","ID":4323372036854775807,"Type":"HardBounce","TypeCode":1,
"Name":"Hard bounce","Tag":"lesson","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","Metadata":{"message-id":"<lesson-42@school.example>"},
"ServerID":23,"Description":"The server was unable to deliver your message (ex: unknown user, mailbox not found).",
"Details":"smtp;550 5.1.1 The email account that you tried to reach does not exist.","Email":"gone@example.org","From":"learn@school.example",
"BouncedAt":"2026-03-10T11:58:00.9070259Z","DumpAvailable":true,"Inactive":true,"CanActivate":true,"Subject":"Lesson 1","Content":""}`

const postmarkComplaint = `{"RecordType":"SpamComplaint","MessageStream":"outbound","ID":42,"Type":"SpamComplaint","TypeCode":512,
"Name":"Spam complaint","Tag":"","MessageID":"00000000-0000-0000-0000-000000000000","Metadata":{},"ServerID":1234,"Description":"",
"Details":"Test spam complaint details","Email":"annoyed@example.org","From":"learn@school.example","BouncedAt":"2026-03-10T11:59:00Z",
"DumpAvailable":true,"Inactive":true,"CanActivate":false,"Subject":"Lesson 2"}`

func TestPostmark(t *testing.T) {
	w, err := providers.New(providers.Settings{PostmarkCredentials: "postmark:s3cret-Pa55"}, providers.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	auth := func(user, password string) http.Header {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(user, password)
		return r.Header
	}
	good := auth("postmark", "s3cret-Pa55")
	reports, err := w.Reports(context.Background(), providers.Postmark, good, []byte(postmarkBounce))
	if err != nil {
		t.Fatal(err)
	}
	assertReports(t, reports, []bounces.Report{{Kind: bounces.Hard, Recipient: "gone@example.org", MessageID: "lesson-42@school.example",
		Source: "postmark", SourceID: "4323372036854775807", At: time.Date(2026, 3, 10, 11, 58, 0, 907025900, time.UTC),
		Diagnostic: "smtp;550 5.1.1 The email account that you tried to reach does not exist. The server was unable to deliver your message (ex: unknown user, mailbox not found)."}})
	reports, err = w.Reports(context.Background(), providers.Postmark, good, []byte(postmarkComplaint))
	if err != nil {
		t.Fatal(err)
	}
	assertReports(t, reports, []bounces.Report{{Kind: bounces.Complaint, Recipient: "annoyed@example.org", Source: "postmark",
		SourceID: "42", At: time.Date(2026, 3, 10, 11, 59, 0, 0, time.UTC), Diagnostic: "Test spam complaint details"}})

	// Without metadata, the Message-ID of the original's headers quoted in
	// the bounce content; the bounce's own alone is not taken.
	dump := "Return-Path: <>\r\nMessage-ID: <dsn-1@mx.example.org>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: learn@school.example\r\nMessage-Id: <lesson-42@school.example>\r\n--b--\r\n"
	for content, want := range map[string]string{dump: "lesson-42@school.example", strings.SplitN(dump, "--b\r\n", 2)[0]: ""} {
		quoted, _ := json.Marshal(content)
		body := strings.Replace(strings.Replace(postmarkBounce, `"Metadata":{"message-id":"<lesson-42@school.example>"}`, `"Metadata":{}`, 1), `"Content":""`, `"Content":`+string(quoted), 1)
		reports, err := w.Reports(context.Background(), providers.Postmark, good, []byte(body))
		if err != nil || len(reports) != 1 || reports[0].MessageID != want {
			t.Errorf("bounce content %q: %v, %+v; want Message-ID %q", content, err, reports, want)
		}
	}

	for typ, want := range map[string]bounces.Kind{"SoftBounce": bounces.Soft, "Transient": bounces.Soft, "AutoResponder": "", "Unsubscribe": ""} {
		reports, err := w.Reports(context.Background(), providers.Postmark, good, []byte(strings.Replace(postmarkBounce, `"HardBounce"`, `"`+typ+`"`, 1)))
		if err != nil || want == "" && len(reports) != 0 || want != "" && (len(reports) != 1 || reports[0].Kind != want) {
			t.Errorf("%s: %v, %+v; want %q", typ, err, reports, want)
		}
	}

	for name, h := range map[string]http.Header{
		"no credentials": {},
		"wrong password": auth("postmark", "s3cret-Pa56"),
		"wrong user":     auth("postmarc", "s3cret-Pa55"),
		"a prefix":       auth("postmark", "s3cret"),
		"bearer instead": {"Authorization": {"Bearer postmark:s3cret-Pa55"}},
	} {
		if reports, err := w.Reports(context.Background(), providers.Postmark, h, []byte(postmarkBounce)); !errors.Is(err, providers.ErrUnauthenticated) || reports != nil {
			t.Errorf("%s: %v, %+v; want refused", name, err, reports)
		}
	}
}

const mailgunKey = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"

// mailgunWindow is how far off a Mailgun timestamp may be.
const mailgunWindow = 5 * time.Minute

// mailgunEvent is a Mailgun webhook, signed with mailgunKey at ts.
func mailgunEvent(ts time.Time, token, eventData string) []byte {
	return providertest.Mailgun(mailgunKey, ts, token, eventData)
}

const mailgunFailed = `{"id":"G9Bn5sl1TC6nu79C8C0bwg","timestamp":1773143880.123456,"log-level":"error","event":"failed","severity":"permanent",
"reason":"bounce","recipient":"gone@example.org","recipient-domain":"example.org","envelope":{"sender":"bounces+tok123@bounce.school.example","transport":"smtp","targets":"gone@example.org"},
"message":{"headers":{"to":"gone@example.org","message-id":"lesson-42@school.example","from":"learn@school.example","subject":"Lesson 1"},"attachments":[],"size":111},
"delivery-status":{"attempt-no":1,"message":"","code":550,"description":"Not delivering to previously bounced address","session-seconds":0.0}}`

const mailgunComplained = `{"id":"-Agny091SquKnsrW2NEKUA","timestamp":1773143890.5,"log-level":"warn","event":"complained","recipient":"annoyed@example.org",
"envelope":{"sender":"bounces+tok456@bounce.school.example"},"message":{"headers":{"Message-Id":"<lesson-43@school.example>"}}}`

func TestMailgun(t *testing.T) {
	now := testNow
	w, err := providers.New(providers.Settings{MailgunSigningKey: mailgunKey}, providers.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	reports, err := w.Reports(context.Background(), providers.Mailgun, nil, mailgunEvent(now, "token-1", mailgunFailed))
	if err != nil {
		t.Fatal(err)
	}
	assertReports(t, reports, []bounces.Report{{Kind: bounces.Hard, Recipient: "gone@example.org", ReturnPath: "bounces+tok123@bounce.school.example",
		MessageID: "lesson-42@school.example", Source: "mailgun", SourceID: "G9Bn5sl1TC6nu79C8C0bwg",
		Diagnostic: "550 Not delivering to previously bounced address bounce", At: time.Unix(1773143880, 123456000)}})

	reports, err = w.Reports(context.Background(), providers.Mailgun, nil, mailgunEvent(now, "token-2", strings.Replace(mailgunFailed, `"permanent"`, `"temporary"`, 1)))
	if err != nil || len(reports) != 1 || reports[0].Kind != bounces.Soft {
		t.Errorf("temporary failure: %v, %+v; want a soft bounce", err, reports)
	}
	reports, err = w.Reports(context.Background(), providers.Mailgun, nil, mailgunEvent(now, "token-3", mailgunComplained))
	if err != nil {
		t.Fatal(err)
	}
	assertReports(t, reports, []bounces.Report{{Kind: bounces.Complaint, Recipient: "annoyed@example.org", ReturnPath: "bounces+tok456@bounce.school.example",
		MessageID: "lesson-43@school.example", Source: "mailgun", SourceID: "-Agny091SquKnsrW2NEKUA", At: time.Unix(1773143890, 500000000)}})
	reports, err = w.Reports(context.Background(), providers.Mailgun, nil, mailgunEvent(now, "token-4", `{"id":"x","event":"delivered","recipient":"fine@example.org"}`))
	if err != nil || len(reports) != 0 {
		t.Errorf("delivered: %v, %+v; want nothing", err, reports)
	}

	refused := map[string][]byte{
		"replayed token":      mailgunEvent(now, "token-1", mailgunFailed),
		"stale timestamp":     mailgunEvent(now.Add(-mailgunWindow-time.Second), "token-5", mailgunFailed),
		"timestamp far ahead": mailgunEvent(now.Add(mailgunWindow+time.Second), "token-6", mailgunFailed),
		"no signature":        []byte(`{"event-data":` + mailgunFailed + `}`),
		"tampered token":      []byte(strings.Replace(string(mailgunEvent(now, "token-7", mailgunFailed)), "token-7", "token-8", 1)),
		"signature not hex":   []byte(`{"signature":{"timestamp":"1","token":"t","signature":"zz"},"event-data":{}}`),
	}
	for name, body := range refused {
		if reports, err := w.Reports(context.Background(), providers.Mailgun, nil, body); !errors.Is(err, providers.ErrUnauthenticated) || reports != nil {
			t.Errorf("%s: %v, %+v; want refused", name, err, reports)
		}
	}
	// A token is free again once its timestamp could no longer pass.
	now = now.Add(2*mailgunWindow + time.Second)
	if _, err := w.Reports(context.Background(), providers.Mailgun, nil, mailgunEvent(now, "token-1", mailgunFailed)); err != nil {
		t.Errorf("a token reused after the window: %v", err)
	}
	if _, err := w.Reports(context.Background(), providers.Mailgun, nil, []byte("{")); !errors.Is(err, providers.ErrMalformed) {
		t.Errorf("not JSON: %v, want malformed", err)
	}
}

func TestProviderWithoutSettingIsNotConfigured(t *testing.T) {
	w, err := providers.New(providers.Settings{MailgunSigningKey: mailgunKey}, providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{providers.SES, providers.SendGrid, providers.Postmark, "sparkpost", ""} {
		if _, err := w.Reports(context.Background(), p, nil, []byte("{}")); !errors.Is(err, providers.ErrNotConfigured) {
			t.Errorf("%q: %v, want not configured", p, err)
		}
	}
}
