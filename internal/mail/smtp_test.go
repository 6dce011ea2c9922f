package mail

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/mailschool/mailschool/internal/mail/smtptest"
)

// testMessage is a small message with CRLF line endings; its body has a
// line starting with a dot, which SMTP must escape and unescape.
func testMessage(id string) []byte {
	return []byte("From: Acme Academy <learn@acme.example>\r\n" +
		"To: ada@example.com\r\n" +
		"Subject: Lesson 1\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <" + id + "@acme.example>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"List-Unsubscribe: <https://learn.acme.example/unsubscribe/abc>\r\n" +
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" +
		"\r\n" +
		"Hello Ada,\r\n" +
		".this line starts with a dot\r\n")
}

var testEnvelope = Envelope{From: "bounces@acme.example", To: []string{"ada@example.com"}}

// newTestSMTP returns a transport to sink, closed when the test ends.
func newTestSMTP(t *testing.T, sink *smtptest.Server, cfg SMTPConfig) *SMTP {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = sink.URL()
	}
	cfg.TLSConfig = sink.ClientTLSConfig()
	cfg.Timeout = cmp.Or(cfg.Timeout, 5*time.Second)
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSMTPStartTLSAuth(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{STARTTLS: true, RequireTLS: true, Username: "relay", Password: "s3cret:/@"})
	s := newTestSMTP(t, sink, SMTPConfig{})
	raw := testMessage("starttls")
	id, err := s.Send(context.Background(), testEnvelope, raw)
	if err != nil {
		t.Fatal(err)
	}
	got := sink.Messages()
	if len(got) != 1 {
		t.Fatalf("sink got %d messages, want 1", len(got))
	}
	m := got[0]
	if !bytes.Equal(m.Data, raw) {
		t.Errorf("delivered message differs:\n%q\nwant\n%q", m.Data, raw)
	}
	if !m.TLS || m.AuthUser != "relay" || m.From != testEnvelope.From || len(m.To) != 1 || m.To[0] != "ada@example.com" {
		t.Errorf("sink got %+v", m)
	}
	if want := "OK: queued as " + m.ID; !strings.Contains(id, want) {
		t.Errorf("provider id %q does not contain %q", id, want)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{ImplicitTLS: true, Username: "relay", Password: "s3cret"})
	s := newTestSMTP(t, sink, SMTPConfig{})
	if !strings.HasPrefix(sink.URL(), "smtps://") {
		t.Fatalf("sink URL %s", sink.URL())
	}
	if _, err := s.Send(context.Background(), testEnvelope, testMessage("smtps")); err != nil {
		t.Fatal(err)
	}
	if m := sink.Messages(); len(m) != 1 || !m[0].TLS || m[0].AuthUser != "relay" {
		t.Errorf("sink got %+v", m)
	}
}

func TestSMTPRequiresSTARTTLS(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{Username: "relay", Password: "s3cret"})
	url := strings.TrimSuffix(sink.URL(), "?tls=none")
	s := newTestSMTP(t, sink, SMTPConfig{URL: url})
	_, err := s.Send(context.Background(), testEnvelope, testMessage("plain"))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("send to a server without STARTTLS: %v, want an error about STARTTLS", err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("sink got %d messages in plain text", n)
	}
}

func TestSMTPUntrustedCertificate(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{STARTTLS: true})
	s, err := NewSMTP(SMTPConfig{URL: sink.URL()}) // no RootCAs for the sink's certificate
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Send(context.Background(), testEnvelope, testMessage("tls"))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("send to an untrusted server: %v, want a temporary certificate error", err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("sink got %d messages", n)
	}
}

func TestSMTPBadEnvelope(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	s := newTestSMTP(t, sink, SMTPConfig{})
	for _, env := range []Envelope{
		{From: "bounces@acme.example"},
		{From: "bounces@acme.example", To: []string{""}},
		{From: "bounces@acme.example", To: []string{"ada@example.com\r\nRCPT TO:<eve@example.com>"}},
		{From: "bounces@acme.example> SIZE=1", To: []string{"ada@example.com"}},
	} {
		if _, err := s.Send(context.Background(), env, testMessage("env")); !IsPermanent(err) {
			t.Errorf("send with envelope %q: %v, want a permanent error", env, err)
		}
	}
	if n, c := len(sink.Messages()), sink.Connections(); n != 0 || c != 0 {
		t.Errorf("sink got %d messages over %d connections", n, c)
	}
}

func TestSMTPPlainText(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{Username: "relay", Password: "s3cret"})
	s := newTestSMTP(t, sink, SMTPConfig{})
	if !strings.HasSuffix(sink.URL(), "?tls=none") {
		t.Fatalf("sink URL %s", sink.URL())
	}
	if _, err := s.Send(context.Background(), testEnvelope, testMessage("plain")); err != nil {
		t.Fatal(err)
	}
	if m := sink.Messages(); len(m) != 1 || m[0].TLS || m[0].AuthUser != "relay" {
		t.Errorf("sink got %+v", m)
	}
}

func TestSMTPWrongPassword(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{STARTTLS: true, Username: "relay", Password: "s3cret"})
	url := strings.Replace(sink.URL(), ":s3cret@", ":wrong@", 1)
	s := newTestSMTP(t, sink, SMTPConfig{URL: url})
	_, err := s.Send(context.Background(), testEnvelope, testMessage("auth"))
	if !IsPermanent(err) || !strings.Contains(err.Error(), "535") {
		t.Errorf("send with a wrong password: %v, want a permanent 535 error", err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("sink got %d messages", n)
	}
}

func TestSMTPTemporaryFailure(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{
		STARTTLS: true,
		Reply: func(n int, _ smtptest.Message) error {
			if n == 1 {
				return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			}
			return nil
		},
	})
	s := newTestSMTP(t, sink, SMTPConfig{})
	_, err := s.Send(context.Background(), testEnvelope, testMessage("retry"))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), `451 "4.3.0 try again later"`) {
		t.Errorf("first send: %v, want a temporary error with the server's text", err)
	}
	if _, err := s.Send(context.Background(), testEnvelope, testMessage("retry")); err != nil {
		t.Errorf("second send: %v", err)
	}
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("sink got %d messages, want 1", n)
	}
}

func TestSMTPPermanentFailure(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{
		Reply: func(int, smtptest.Message) error {
			return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
		},
	})
	s := newTestSMTP(t, sink, SMTPConfig{})
	_, err := s.Send(context.Background(), testEnvelope, testMessage("5xx"))
	if !IsPermanent(err) || !strings.Contains(err.Error(), "no such user here") {
		t.Errorf("send: %v, want a permanent error with the server's text", err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("sink got %d messages", n)
	}
}

func TestSMTPDroppedConnection(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{STARTTLS: true, DropAfterBytes: 100, DropOn: func(n int) bool { return n == 1 }})
	s := newTestSMTP(t, sink, SMTPConfig{})
	_, err := s.Send(context.Background(), testEnvelope, testMessage("drop"))
	if err == nil || IsPermanent(err) {
		t.Errorf("send cut short: %v, want a temporary error", err)
	}
	if _, err := s.Send(context.Background(), testEnvelope, testMessage("drop")); err != nil {
		t.Errorf("send after the drop: %v", err)
	}
	if n, c := len(sink.Messages()), sink.Connections(); n != 1 || c != 2 {
		t.Errorf("sink got %d messages over %d connections, want 1 over 2", n, c)
	}
}

func TestSMTPReusesConnections(t *testing.T) {
	t.Run("sequential", func(t *testing.T) {
		sink := smtptest.Start(t, smtptest.Options{STARTTLS: true, Username: "relay", Password: "s3cret"})
		s := newTestSMTP(t, sink, SMTPConfig{MaxConns: 1})
		for i := range 50 {
			if _, err := s.Send(context.Background(), testEnvelope, testMessage(fmt.Sprint(i))); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		if n, c := len(sink.Messages()), sink.Connections(); n != 50 || c != 1 {
			t.Errorf("sink got %d messages over %d connections, want 50 over 1", n, c)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		sink := smtptest.Start(t, smtptest.Options{STARTTLS: true, Username: "relay", Password: "s3cret"})
		s := newTestSMTP(t, sink, SMTPConfig{MaxConns: 4})
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				if _, err := s.Send(context.Background(), testEnvelope, testMessage(fmt.Sprint(i))); err != nil {
					t.Errorf("send %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if n, c := len(sink.Messages()), sink.Connections(); n != 100 || c > 4 {
			t.Errorf("sink got %d messages over %d connections, want 100 over at most 4", n, c)
		}
	})
	t.Run("stale", func(t *testing.T) {
		sink := smtptest.Start(t, smtptest.Options{})
		s := newTestSMTP(t, sink, SMTPConfig{MaxConns: 1})
		s.maxIdle = 0
		for i := range 2 {
			if _, err := s.Send(context.Background(), testEnvelope, testMessage(fmt.Sprint(i))); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		if n, c := len(sink.Messages()), sink.Connections(); n != 2 || c != 2 {
			t.Errorf("with no idle time allowed, sink got %d messages over %d connections, want 2 over 2", n, c)
		}
	})
	t.Run("dropped while idle", func(t *testing.T) {
		sink := smtptest.Start(t, smtptest.Options{})
		s := newTestSMTP(t, sink, SMTPConfig{MaxConns: 1})
		if _, err := s.Send(context.Background(), testEnvelope, testMessage("1")); err != nil {
			t.Fatal(err)
		}
		c := <-s.idle
		c.netConn.Close() // as if the server had hung up: MAIL FROM fails
		s.idle <- c
		// The send goes out on a new connection in its place, which the
		// next send reuses: with one connection allowed, a token lost on
		// the way would hold the third send up for good.
		for _, m := range []string{"2", "3"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := s.Send(ctx, testEnvelope, testMessage(m))
			cancel()
			if err != nil {
				t.Fatalf("send %s: %v", m, err)
			}
		}
		if n, c := len(sink.Messages()), sink.Connections(); n != 3 || c != 2 {
			t.Errorf("sink got %d messages over %d connections, want 3 over 2", n, c)
		}
	})
}

// A reused connection whose MAIL FROM gets 421 (the server closing it) is
// replaced and the email goes out. Any other refusal is the answer, and
// so is a 421 on a connection just opened: each tried once.
func TestSMTPMailFromOnAReusedConnection(t *testing.T) {
	closing := &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 4, 2}, Message: "idle too long, closing"}
	throttled := &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "sending too fast, try later"}
	refused := &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "sender refused"}
	const none, temporary, permanent = 0, 1, 2
	for _, tc := range []struct {
		name         string
		failing      int // the MAIL FROM answered with reply: the first send's, or the second's on the reused connection
		reply        *gosmtp.SMTPError
		wantErr      int
		messages     int
		mailCommands int
		connections  int
	}{
		{"closing", 2, closing, none, 2, 3, 2},
		{"throttled", 2, throttled, temporary, 1, 2, 1},
		{"refused", 2, refused, permanent, 1, 2, 1},
		{"closing a new connection", 1, closing, temporary, 1, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mails atomic.Int64
			sink := smtptest.Start(t, smtptest.Options{MailReply: func(n int) error {
				mails.Store(int64(n))
				if n == tc.failing {
					return tc.reply
				}
				return nil
			}})
			s := newTestSMTP(t, sink, SMTPConfig{MaxConns: 1})
			var errs []error
			for _, m := range []string{"1", "2"} {
				_, err := s.Send(context.Background(), testEnvelope, testMessage(m))
				if err != nil {
					errs = append(errs, err)
				}
			}
			got := none
			switch {
			case len(errs) == 1 && IsPermanent(errs[0]):
				got = permanent
			case len(errs) == 1:
				got = temporary
			case len(errs) > 1:
				got = -1
			}
			if got != tc.wantErr {
				t.Errorf("send errors %v: kind %d, want %d", errs, got, tc.wantErr)
			}
			if n, m, c := len(sink.Messages()), mails.Load(), sink.Connections(); n != tc.messages || m != int64(tc.mailCommands) || c != tc.connections {
				t.Errorf("sink got %d messages, %d MAIL FROM, %d connections; want %d, %d, %d", n, m, c, tc.messages, tc.mailCommands, tc.connections)
			}
		})
	}
}

func TestSMTPContext(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // before the sink stops: cleanups run last first
	sink := smtptest.Start(t, smtptest.Options{
		Reply: func(n int, _ smtptest.Message) error {
			if n == 1 {
				close(entered)
				<-release
			}
			return nil
		},
	})
	s := newTestSMTP(t, sink, SMTPConfig{MaxConns: 1})

	// The first send holds the only connection while the server stalls
	// on its answer to the end of DATA.
	ctx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := s.Send(ctx, testEnvelope, testMessage("1"))
		firstErr <- err
	}()
	<-entered

	waitCtx, waitCancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer waitCancel()
	start := time.Now()
	_, err := s.Send(waitCtx, testEnvelope, testMessage("2"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("send waiting for a connection: %v after %v, want the context's error promptly", err, time.Since(start))
	}

	// Cancelled after the end of DATA, the send waits for the server's
	// answer: the server may already have taken the message, and a send
	// reported failed would be retried, and the message sent twice.
	cancel()
	select {
	case err := <-firstErr:
		t.Fatalf("send cancelled after the end of DATA returned %v before the server answered", err)
	case <-time.After(100 * time.Millisecond):
	}
	free()
	if err := <-firstErr; err != nil {
		t.Errorf("send cancelled after the end of DATA: %v, want the server's answer (accepted)", err)
	}
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("the server has %d messages, want 1", n)
	}

	// The cancelled send gave its connection back.
	if _, err := s.Send(context.Background(), testEnvelope, testMessage("3")); err != nil {
		t.Errorf("send after the cancellations: %v", err)
	}
}

// TestSMTPContextBeforeEndOfData cancels a send while the server stalls
// before the end of DATA (here on MAIL FROM): it returns at once, as the
// server cannot have taken the message.
func TestSMTPContextBeforeEndOfData(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stalled := make(chan struct{}, 1)
	var served sync.WaitGroup
	t.Cleanup(func() { l.Close(); served.Wait() })
	served.Go(func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(conn, "220 stub ESMTP\r\n")
		lines := bufio.NewScanner(conn)
		for lines.Scan() {
			switch verb := strings.ToUpper(strings.Fields(lines.Text() + " x")[0]); verb {
			case "EHLO", "HELO":
				fmt.Fprint(conn, "250 stub\r\n")
			case "MAIL":
				stalled <- struct{}{} // and no answer, until the client hangs up
			default:
				fmt.Fprint(conn, "250 OK\r\n")
			}
		}
	})
	s, err := NewSMTP(SMTPConfig{URL: "smtp://" + l.Addr().String() + "?tls=none", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	sendErr := make(chan error, 1)
	go func() {
		_, err := s.Send(ctx, testEnvelope, testMessage("1"))
		sendErr <- err
	}()
	<-stalled
	start := time.Now()
	cancel()
	if err := <-sendErr; !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("send cancelled while the server stalls on MAIL: %v after %v, want the context's error promptly", err, time.Since(start))
	}
}

func TestSMTPClose(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	s := newTestSMTP(t, sink, SMTPConfig{})
	if _, err := s.Send(context.Background(), testEnvelope, testMessage("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), testEnvelope, testMessage("2")); err == nil {
		t.Error("send after Close succeeded")
	}
}

func TestSMTPDKIM(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sink := smtptest.Start(t, smtptest.Options{STARTTLS: true})
	s := newTestSMTP(t, sink, SMTPConfig{DKIM: &DKIMConfig{Domain: "acme.example", Selector: "mail", Signer: key}})
	if _, err := s.Send(context.Background(), testEnvelope, testMessage("dkim")); err != nil {
		t.Fatal(err)
	}
	m := sink.Messages()
	if len(m) != 1 || !bytes.HasPrefix(m[0].Data, []byte("DKIM-Signature:")) {
		t.Fatalf("sink got %+v, want one signed message", m)
	}
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	verifications, err := dkim.VerifyWithOptions(bytes.NewReader(m[0].Data), &dkim.VerifyOptions{
		LookupTXT: lookupTXT("mail._domainkey.acme.example", record),
	})
	if err != nil || len(verifications) != 1 || verifications[0].Err != nil {
		t.Errorf("verify: %v, %+v", err, verifications)
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://mail.example.com", `unknown scheme "http"`},
		{"mail.example.com:587", `unknown scheme "mail.example.com"`},
		{"smtp://", "missing host"},
		{"smtp://:587", "missing host"},
		{"smtp:mail.example.com", "missing host"},
		{"smtp://mail.example.com?tls=maybe", "tls=maybe: the only value is tls=none"},
		{"smtp://mail.example.com?tls=none&tls=none", "tls=none,none"},
		{"smtp://mail.example.com?starttls=no", `unknown parameter "starttls"`},
		{"smtps://mail.example.com?tls=none", "contradicts smtps://"},
		{"smtp://mail.example.com:0", `invalid port "0"`},
		{"smtp://mail.example.com:65536", `invalid port "65536"`},
		{"smtp://user:hunter2@mail.example.com:smtp", "not a valid URL"},
		{"smtp://mail.example.com/relay", `unexpected path "/relay"`},
	} {
		err := ParseSMTPURL(tc.url)
		if err == nil || !strings.HasPrefix(err.Error(), "MAILSCHOOL_SMTP_URL: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSMTPURL(%q) = %v, want an error about %s", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseSMTPURL(%q) = %v: shows the password", tc.url, err)
		}
		if _, err := NewSMTP(SMTPConfig{URL: tc.url}); err == nil {
			t.Errorf("NewSMTP(%q) succeeded", tc.url)
		}
	}

	for _, tc := range []struct {
		url  string
		want smtpURL
		addr string
	}{
		{"smtp://mail.example.com", smtpURL{host: "mail.example.com", port: 587}, "mail.example.com:587"},
		{"smtps://u%40x:p%3A%2Fss@mail.example.com", smtpURL{host: "mail.example.com", port: 465, implicitTLS: true, auth: true, user: "u@x", pass: "p:/ss"}, "mail.example.com:465"},
		{"SMTP://[::1]:25/?tls=none", smtpURL{host: "::1", port: 25, plain: true}, "[::1]:25"},
	} {
		s, err := NewSMTP(SMTPConfig{URL: tc.url})
		if err != nil {
			t.Errorf("NewSMTP(%q): %v", tc.url, err)
			continue
		}
		if s.url != tc.want || s.addr != tc.addr {
			t.Errorf("NewSMTP(%q) reads %+v at %s, want %+v at %s", tc.url, s.url, s.addr, tc.want, tc.addr)
		}
	}

	if _, err := NewSMTP(SMTPConfig{URL: "smtp://mail.example.com", DKIM: &DKIMConfig{Domain: "acme.example"}}); err == nil {
		t.Error("NewSMTP with an incomplete DKIM configuration succeeded")
	}
}

// Only a refusal of the recipient's address is one: a refused sender,
// wrong credentials, a policy or content refusal say nothing of it.
func TestRefusesAddress(t *testing.T) {
	for _, c := range []struct {
		command string
		code    int
		msg     string
		want    bool
	}{
		{"RCPT", 550, "5.1.1 <gone@example.com>: Recipient address rejected: User unknown", true},
		{"RCPT", 550, "No such user here", true},
		{"RCPT", 553, "mailbox name not allowed", true},
		{"RCPT", 550, "5.2.1 The email account that you tried to reach is disabled", true},
		{"DATA", 550, "5.1.1 no such user here", true},
		{"RCPT", 550, "5.7.1 Relaying denied", false},
		{"RCPT", 552, "Mailbox full", false},
		{"DATA", 554, "5.7.1 Message rejected: content policy", false},
		{"DATA", 550, "Message rejected as spam", false},
		{"DATA", 552, "5.3.4 Message too big", false},
		{"RCPT", 550, "5.2.2 mailbox full", false},
		{"MAIL", 550, "5.1.8 Sender address rejected", false},
		{"DATA", 550, "5.1.8 Sender address rejected: domain not found", false},
	} {
		got := refusesAddress(c.command, &textproto.Error{Code: c.code, Msg: c.msg})
		if got != c.want {
			t.Errorf("%s %d %q: %v, want %v", c.command, c.code, c.msg, got, c.want)
		}
	}
}
