package providers

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
)

// The headers of SendGrid's Signed Event Webhook.
const (
	sendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	sendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// sendGridEvent is one event of the Event Webhook's array.
type sendGridEvent struct {
	Event     string `json:"event"`
	Email     string `json:"email"`
	Timestamp int64  `json:"timestamp"`
	SMTPID    string `json:"smtp-id"`
	EventID   string `json:"sg_event_id"`
	Type      string `json:"type"`   // of a bounce: "bounce" or "blocked"
	Reason    string `json:"reason"` // of a bounce or a drop
	Status    string `json:"status"`
}

// sendGridReports verifies the ECDSA signature SendGrid makes over the
// timestamp header followed by the raw body, then reads the events:
//
//	bounce (type bounce)            hard
//	bounce (type blocked)           soft
//	dropped, "Bounced Address"      hard (SendGrid's own list says so)
//	dropped, "Spam Reporting Address" complaint
//	spamreport                      complaint
//
// Deferrals are left out: SendGrid retries them itself and reports a
// bounce when it gives up.
func (w *Webhooks) sendGridReports(header http.Header, body []byte) ([]bounces.Report, error) {
	sig, ts := header.Get(sendGridSignatureHeader), header.Get(sendGridTimestampHeader)
	if sig == "" || ts == "" {
		return nil, unauthenticated("no %s or %s header", sendGridSignatureHeader, sendGridTimestampHeader)
	}
	signature, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return nil, unauthenticated("SendGrid signature is not base64")
	}
	digest := sha256.Sum256(append([]byte(ts), body...))
	if !ecdsa.VerifyASN1(w.sendgrid, digest[:], signature) {
		return nil, unauthenticated("SendGrid signature does not match")
	}
	var events []sendGridEvent
	if err := json.Unmarshal(body, &events); err != nil {
		return nil, malformed("SendGrid events are not a JSON array of events")
	}
	var reports []bounces.Report
	for _, e := range events {
		r := bounces.Report{Recipient: e.Email, MessageID: messageID(e.SMTPID), Source: SendGrid, SourceID: e.EventID,
			Diagnostic: joinNonEmpty(e.Status, e.Reason)}
		if e.Timestamp > 0 {
			r.At = time.Unix(e.Timestamp, 0).UTC()
		}
		switch {
		case e.Event == "bounce" && e.Type == "blocked":
			r.Kind = bounces.Soft
		case e.Event == "bounce":
			r.Kind = bounces.Hard
		case e.Event == "dropped" && e.Reason == "Bounced Address":
			r.Kind = bounces.Hard
		case e.Event == "dropped" && e.Reason == "Spam Reporting Address", e.Event == "spamreport":
			r.Kind = bounces.Complaint
		default:
			continue
		}
		reports = append(reports, r)
	}
	return reports, nil
}

// joinNonEmpty joins the non-empty parts with a space.
func joinNonEmpty(parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += " "
		}
		out += p
	}
	return out
}
