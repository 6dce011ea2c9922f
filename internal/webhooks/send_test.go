package webhooks

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/netguard"
	"github.com/mailschool/mailschool/internal/store"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// testDispatcher sends to loopback, with the back-off exactly as listed.
func testDispatcher(now time.Time, timeout time.Duration) *Dispatcher {
	return NewDispatcher(nil, Config{
		Guard:    netguard.New(netguard.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}),
		Timeout:  timeout,
		NoJitter: true,
		Now:      func() time.Time { return now },
	})
}

// Each kind of answer gives its outcome: 2xx delivered; a redirect (not
// followed), 408, 429, 5xx and no answer retried after the back-off or
// the Retry-After asked for; other 4xx failed at once; and a retry that
// would come after the message is given up fails it.
func TestAttemptOutcomes(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type answer struct {
		code       int
		retryAfter string
		body       string
	}
	for _, tc := range []struct {
		name     string
		answer   answer
		attempts int           // before this one
		age      time.Duration // of the message
		status   store.WebhookMessageStatus
		wait     time.Duration // until the next attempt, when pending
	}{
		{"200", answer{code: 200, body: "thanks"}, 0, 0, store.WebhookDelivered, 0},
		{"204", answer{code: 204}, 3, 0, store.WebhookDelivered, 0},
		{"301 not followed, retried", answer{code: 301}, 0, 0, store.WebhookPending, 5 * time.Second},
		{"400 final", answer{code: 400, body: "bad"}, 0, 0, store.WebhookFailed, 0},
		{"404 final", answer{code: 404}, 2, 0, store.WebhookFailed, 0},
		{"410 final", answer{code: 410}, 0, 0, store.WebhookFailed, 0},
		{"408 retried", answer{code: 408}, 0, 0, store.WebhookPending, 5 * time.Second},
		{"429 retried", answer{code: 429}, 1, 0, store.WebhookPending, 5 * time.Minute},
		{"500 retried", answer{code: 500}, 2, 0, store.WebhookPending, 30 * time.Minute},
		{"503 retried", answer{code: 503}, 3, 0, store.WebhookPending, 2 * time.Hour},
		{"502 after many attempts", answer{code: 502}, 20, 0, store.WebhookPending, 10 * time.Hour},
		{"429 Retry-After seconds", answer{code: 429, retryAfter: "120"}, 0, 0, store.WebhookPending, 2 * time.Minute},
		{"503 Retry-After date", answer{code: 503, retryAfter: now.Add(time.Hour).Format(http.TimeFormat)}, 0, 0, store.WebhookPending, time.Hour},
		{"503 Retry-After capped", answer{code: 503, retryAfter: "999999999"}, 0, 0, store.WebhookPending, MaxRetryAfter},
		{"503 Retry-After unreadable", answer{code: 503, retryAfter: "soon"}, 1, 0, store.WebhookPending, 5 * time.Minute},
		{"500 given up after 3 days", answer{code: 500}, 9, 3*24*time.Hour - time.Hour, store.WebhookFailed, 0},
		{"500 just within 3 days", answer{code: 500}, 1, 3*24*time.Hour - 6*time.Minute, store.WebhookPending, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *http.Request
			var body []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				body, _ = io.ReadAll(r.Body)
				if tc.answer.retryAfter != "" {
					w.Header().Set("Retry-After", tc.answer.retryAfter)
				}
				if tc.answer.code == 301 {
					w.Header().Set("Location", "http://10.0.0.1/")
				}
				w.WriteHeader(tc.answer.code)
				io.WriteString(w, tc.answer.body)
			}))
			defer srv.Close()
			d := testDispatcher(now, time.Second)
			m := store.WebhookMessage{ID: 7, EndpointID: 3, EventID: "msg_abc", Payload: `{"id":"msg_abc"}`, Attempts: tc.attempts, CreatedAt: now.Add(-tc.age)}
			a := d.send(context.Background(), store.WebhookEndpoint{ID: 3, URL: srv.URL + "/hook", Secret: testSecret}, m)
			o := d.outcome(a, now)
			if o.Status != tc.status {
				t.Errorf("status %s, want %s (attempt %+v)", o.Status, tc.status, a)
			}
			if tc.status == store.WebhookPending && !o.NextAttemptAt.Equal(now.Add(tc.wait)) {
				t.Errorf("next attempt in %v, want %v", o.NextAttemptAt.Sub(now), tc.wait)
			}
			if o.Attempt.Attempt != tc.attempts+1 || o.Attempt.StatusCode == nil || *o.Attempt.StatusCode != tc.answer.code ||
				o.Attempt.Response != tc.answer.body || o.Attempt.MessageID != 7 || o.Attempt.EndpointID != 3 {
				t.Errorf("attempt logged as %+v", o.Attempt)
			}
			if got == nil {
				t.Fatal("the endpoint got no request")
			}
			if string(body) != m.Payload || got.Header.Get("Content-Type") != "application/json" || got.Header.Get("User-Agent") != "mailschool" {
				t.Errorf("request body %q, headers %v", body, got.Header)
			}
			if err := Verify(testSecret, got.Header, body, now); err != nil || got.Header.Get(HeaderID) != "msg_abc" {
				t.Errorf("signature: %v (headers %v)", err, got.Header)
			}
		})
	}
}

// No answer (a refused connection, or none within the timeout) is
// retried, with what happened logged.
func TestAttemptWithoutAnswer(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	for _, tc := range []struct{ name, url, want string }{
		{"connection refused", closed, "refused"},
		{"timeout", slow.URL, "no answer within the timeout"}, // the client's, the transport's or the dial's, whichever comes first
		{"private address", "http://10.0.0.1/", "private"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testDispatcher(now, 300*time.Millisecond)
			start := time.Now()
			a := d.send(context.Background(), store.WebhookEndpoint{URL: tc.url, Secret: testSecret}, store.WebhookMessage{EventID: "msg_x", Payload: "{}", CreatedAt: now})
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the attempt took %v", took)
			}
			o := d.outcome(a, now)
			if o.Status != store.WebhookPending || o.Attempt.StatusCode != nil || !strings.Contains(strings.ToLower(o.Attempt.Error), tc.want) ||
				!o.NextAttemptAt.Equal(now.Add(5*time.Second)) {
				t.Errorf("outcome %+v, attempt %+v; want pending in 5s, error saying %q", o, o.Attempt, tc.want)
			}
		})
	}
}

// The log keeps the answer's first KiB, cut at a character's edge, and
// the previous secret signs too while it is valid.
func TestAttemptKeepsTheAnswersStartAndSignsWithBothSecrets(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var header http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header
		w.WriteHeader(500)
		io.WriteString(w, "x"+strings.Repeat("é", 2000))
	}))
	defer srv.Close()
	d := testDispatcher(now, time.Second)
	previous := "whsec_c2VjcmV0LWJ1dC1hbm90aGVyLW9uZQ=="
	until := now.Add(time.Hour)
	ep := store.WebhookEndpoint{URL: srv.URL, Secret: testSecret, PreviousSecret: previous, PreviousSecretUntil: &until}
	a := d.send(context.Background(), ep, store.WebhookMessage{EventID: "msg_y", Payload: "{}", CreatedAt: now})
	if len(a.response) > ResponseKept || len(a.response) < ResponseKept-2 || !strings.HasSuffix(a.response, "é") {
		t.Errorf("kept %d bytes ending %q", len(a.response), a.response[len(a.response)-4:])
	}
	for _, s := range []string{testSecret, previous} {
		if err := Verify(s, header, []byte("{}"), now); err != nil {
			t.Errorf("with %s: %v", s, err)
		}
	}
	if n := len(strings.Fields(header.Get(HeaderSignature))); n != 2 {
		t.Errorf("%d signatures, want 2", n)
	}
	// Once the previous secret has expired, it signs no more.
	expired := now.Add(-time.Minute)
	ep.PreviousSecretUntil = &expired
	d.send(context.Background(), ep, store.WebhookMessage{EventID: "msg_z", Payload: "{}", CreatedAt: now})
	if err := Verify(previous, header, []byte("{}"), now); err == nil {
		t.Error("an expired previous secret still signs")
	}
}
