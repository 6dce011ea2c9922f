package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
)

// mailgunMaxAge is how old a Mailgun signature's timestamp may be; its
// token is remembered that long, so each is taken once.
const mailgunMaxAge = 5 * time.Minute

// maxMailgunTokens bounds the remembered tokens (a few MiB); only
// verified requests add one, so it is reached only by a flood of real
// events.
const maxMailgunTokens = 100_000

// mailgunWebhook is the JSON body of Mailgun's webhooks.
type mailgunWebhook struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData *struct {
		Event     string  `json:"event"`
		ID        string  `json:"id"`
		Timestamp float64 `json:"timestamp"`
		Severity  string  `json:"severity"`
		Recipient string  `json:"recipient"`
		Reason    string  `json:"reason"`
		Envelope  struct {
			Sender string `json:"sender"`
		} `json:"envelope"`
		Message struct {
			Headers map[string]string `json:"headers"`
		} `json:"message"`
		DeliveryStatus struct {
			Code        int    `json:"code"`
			Message     string `json:"message"`
			Description string `json:"description"`
		} `json:"delivery-status"`
	} `json:"event-data"`
}

// mailgunReports verifies the HMAC-SHA256 (by the signing key) of the
// timestamp followed by the token, refuses timestamps more than five
// minutes off and tokens already taken, then reads the event: failed
// with severity permanent is hard, temporary soft; complained is a
// complaint.
func (w *Webhooks) mailgunReports(body []byte) ([]bounces.Report, error) {
	var hook mailgunWebhook
	if err := json.Unmarshal(body, &hook); err != nil {
		return nil, malformed("not a Mailgun webhook")
	}
	s := hook.Signature
	if s.Timestamp == "" || s.Token == "" || s.Signature == "" {
		return nil, unauthenticated("no Mailgun signature")
	}
	mac := hmac.New(sha256.New, []byte(w.settings.MailgunSigningKey))
	mac.Write([]byte(s.Timestamp + s.Token))
	got, err := hex.DecodeString(s.Signature)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return nil, unauthenticated("Mailgun signature does not match")
	}
	seconds, err := strconv.ParseInt(s.Timestamp, 10, 64)
	now := w.opts.Now()
	if err != nil || now.Sub(time.Unix(seconds, 0)).Abs() > mailgunMaxAge {
		return nil, unauthenticated("Mailgun timestamp %q is more than %s off", s.Timestamp, mailgunMaxAge)
	}
	if !w.takeToken(s.Token, now) {
		return nil, unauthenticated("Mailgun token already used")
	}
	e := hook.EventData
	if e == nil {
		return nil, malformed("Mailgun webhook without event-data")
	}
	r := bounces.Report{Recipient: e.Recipient, ReturnPath: e.Envelope.Sender, Source: Mailgun, SourceID: e.ID}
	for k, v := range e.Message.Headers {
		if strings.EqualFold(k, "message-id") {
			r.MessageID = messageID(v)
		}
	}
	if e.Timestamp > 0 {
		// Seconds with a microsecond fraction, rounded as float64 needs.
		r.At = time.UnixMicro(int64(math.Round(e.Timestamp * 1e6))).UTC()
	}
	switch {
	case e.Event == "failed" && e.Severity == "permanent":
		r.Kind = bounces.Hard
	case e.Event == "failed" && e.Severity == "temporary":
		r.Kind = bounces.Soft
	case e.Event == "complained":
		r.Kind = bounces.Complaint
	default:
		return nil, nil
	}
	if e.DeliveryStatus.Code != 0 {
		r.Diagnostic = strconv.Itoa(e.DeliveryStatus.Code)
	}
	r.Diagnostic = joinNonEmpty(r.Diagnostic, or(e.DeliveryStatus.Description, e.DeliveryStatus.Message), e.Reason)
	return []bounces.Report{r}, nil
}

// takeToken remembers a verified token for twice mailgunMaxAge (a
// timestamp up to mailgunMaxAge ahead stays valid that much longer);
// false: it was taken already. Tokens expire in the order they were
// taken, so the oldest are dropped from the front of the queue.
func (w *Webhooks) takeToken(token string, now time.Time) bool {
	w.replayMu.Lock()
	defer w.replayMu.Unlock()
	for len(w.tokenQueue) > 0 && !now.Before(w.tokenQueue[0].until) {
		delete(w.tokens, w.tokenQueue[0].token)
		w.tokenQueue = w.tokenQueue[1:]
	}
	if _, ok := w.tokens[token]; ok {
		return false
	}
	if len(w.tokenQueue) >= maxMailgunTokens {
		// Full with real events: the oldest are forgotten first. A
		// replay is harmless anyway, as reports are taken once by their
		// event id.
		delete(w.tokens, w.tokenQueue[0].token)
		w.tokenQueue = w.tokenQueue[1:]
	}
	until := now.Add(2 * mailgunMaxAge)
	w.tokens[token] = until
	w.tokenQueue = append(w.tokenQueue, seenToken{token, until})
	return true
}

// seenToken is a taken Mailgun token and when it may be forgotten.
type seenToken struct {
	token string
	until time.Time
}
