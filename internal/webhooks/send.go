package webhooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/store"
)

// DefaultTimeout bounds each request to an endpoint, the answer included.
const DefaultTimeout = 10 * time.Second

// ResponseKept is how much of an answer's body the delivery log keeps.
const ResponseKept = 1024

// DefaultBackoff is how long a message waits after each failed attempt:
// after the first, 5 seconds, then 5 minutes, and so on; after the last
// listed, the last again. Each wait is varied by up to a fifth either way,
// so that the messages of an endpoint that was down do not all come back
// at once.
var DefaultBackoff = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour}

// DefaultRetryFor is how long after it was written a message is tried:
// an attempt that would come later is not made, and the message fails.
const DefaultRetryFor = 3 * 24 * time.Hour

// MaxRetryAfter caps the wait an endpoint asks for with Retry-After.
const MaxRetryAfter = 10 * time.Hour

// verdict is what an attempt's answer means for its message.
type verdict int

const (
	delivered verdict = iota // 2xx
	retry                    // no answer, 408, 429, 5xx, and redirects (not followed)
	final                    // any other 4xx: the endpoint refused this message
)

// classify reads an answer's status code. A redirect is a failure to be
// retried: the client does not follow it (the target might be an address
// the guard refuses), and the endpoint's owner may fix it.
func classify(code int) verdict {
	switch {
	case code >= 200 && code < 300:
		return delivered
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return retry
	case code >= 400 && code < 500:
		return final
	default:
		return retry
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date; false
// when there is none or it cannot be read.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return min(time.Duration(min(secs, int64(MaxRetryAfter/time.Second)))*time.Second, MaxRetryAfter), true
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(t.Sub(now), 0), MaxRetryAfter), true
	}
	return 0, false
}

// backoff is the wait after attempt number attempt (from 1) failed.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	wait := d.schedule[min(attempt, len(d.schedule))-1]
	if d.jitter {
		wait += time.Duration((rand.Float64()*0.4 - 0.2) * float64(wait))
	}
	return wait
}

// attempt is one request for one message.
type attempt struct {
	msg      store.WebhookMessage
	code     int // 0: no answer
	response string
	err      string
	took     time.Duration
	after    time.Duration // from Retry-After
	hasAfter bool
}

// send posts a message to its endpoint, signed, and returns what came
// back. The request carries the message's event id as webhook-id on every
// attempt, so the receiver can tell a message sent again (after a failure,
// or a crash before its outcome was recorded) from a new one.
func (d *Dispatcher) send(ctx context.Context, ep store.WebhookEndpoint, m store.WebhookMessage) attempt {
	a := attempt{msg: m}
	now := d.now()
	secrets := []string{ep.Secret}
	if ep.PreviousSecret != "" && ep.PreviousSecretUntil != nil && now.Before(*ep.PreviousSecretUntil) {
		secrets = append(secrets, ep.PreviousSecret)
	}
	body := []byte(m.Payload)
	sig, err := SignatureHeader(m.EventID, now, body, secrets...)
	if err != nil {
		a.err = "The endpoint's secret cannot sign: " + err.Error()
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		a.err = "The endpoint's URL cannot be used: " + err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mailschool")
	req.Header.Set(HeaderID, m.EventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		a.took = time.Since(start)
		a.err = err.Error()
		// The client's timeout reads as a cancelled context when it ends a
		// slow dial ("context deadline exceeded"): the log says what it was.
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			a.err = "No answer within the timeout: " + a.err
		}
		return a
	}
	kept, _ := io.ReadAll(io.LimitReader(resp.Body, ResponseKept))
	// The rest is read, within reason, so that the connection is reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.took = time.Since(start)
	a.code = resp.StatusCode
	a.response = strings.ToValidUTF8(string(trimRune(kept)), "\uFFFD")
	if a.after, a.hasAfter = retryAfter(resp.Header.Get("Retry-After"), d.now()); a.hasAfter && classify(a.code) != retry {
		a.hasAfter = false
	}
	return a
}

// trimRune drops a rune cut in two at the end of b.
func trimRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		r, size := utf8.DecodeLastRune(b)
		if r != utf8.RuneError || size != 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}

// outcome decides what becomes of an attempt's message: delivered, failed
// for good (a final answer, or the next try would come after the message
// is given up), or pending again after its back-off, or the wait the
// endpoint asked for.
func (d *Dispatcher) outcome(a attempt, at time.Time) store.WebhookOutcome {
	n := a.msg.Attempts + 1
	o := store.WebhookOutcome{Attempt: store.WebhookAttempt{
		MessageID: a.msg.ID, EndpointID: a.msg.EndpointID, Attempt: n, Duration: a.took,
		Response: a.response, Error: a.err, CreatedAt: at,
	}}
	v := retry
	if a.code != 0 {
		code := a.code
		o.Attempt.StatusCode = &code
		v = classify(code)
	}
	switch v {
	case delivered:
		o.Status = store.WebhookDelivered
	case final:
		o.Status = store.WebhookFailed
	default:
		wait := d.backoff(n)
		if a.hasAfter {
			wait = max(a.after, time.Second)
		}
		o.Status, o.NextAttemptAt = store.WebhookPending, at.Add(wait)
		if o.NextAttemptAt.After(a.msg.CreatedAt.Add(d.retryFor)) {
			o.Status = store.WebhookFailed
		}
	}
	return o
}
