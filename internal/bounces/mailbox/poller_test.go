package mailbox_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/mailbox"
	"github.com/mailschool/mailschool/internal/bounces/mailbox/mailboxtest"
)

// recorder records each report once by (Source, SourceID), as the real
// one does, and counts the calls.
type recorder struct {
	mu      sync.Mutex
	calls   int
	seen    map[string]bool
	reports []bounces.Report
	fail    func(bounces.Report) error
}

func (r *recorder) Record(_ context.Context, rep bounces.Report) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail != nil {
		if err := r.fail(rep); err != nil {
			return err
		}
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	key := rep.Source + "\x00" + rep.SourceID
	if r.seen[key] {
		return nil
	}
	r.seen[key] = true
	r.reports = append(r.reports, rep)
	return nil
}

func (r *recorder) recipients() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rep := range r.reports {
		out = append(out, string(rep.Kind)+" "+rep.Recipient)
	}
	return out
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "parse", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logs is a logger whose lines the test reads.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newPoller(t *testing.T, rawURL string, rec bounces.Recorder, tlsConfig *tls.Config, out *logs) *mailbox.Poller {
	t.Helper()
	var w = &logs{}
	if out != nil {
		w = out
	}
	p, err := mailbox.New(mailbox.Config{URL: rawURL, Recorder: rec, TLSConfig: tlsConfig,
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The samples a mailbox holds in the tests: two bounces, a report of two
// recipients, a complaint, an auto-reply and a broken email.
var mixed = []string{"postfix_dsn.eml", "qmail.eml", "multi_dsn.eml", "arf_yahoo.eml", "out_of_office.eml", "malformed.eml"}

var mixedWant = []string{"hard ada@example.com", "hard linus@example.com", "hard first@example.com",
	"soft third@example.com", "complaint ada.lovelace@yahoo.com"}

func TestPollIMAPRecordsAndDeletes(t *testing.T) {
	srv := mailboxtest.StartIMAP(t, false)
	for _, name := range mixed {
		srv.Add(t, sample(t, name))
	}
	rec := &recorder{}
	out := &logs{}
	p := newPoller(t, srv.URL(""), rec, nil, out)
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 6 || res.Reports != 5 || res.Skipped != 2 || res.Kept != 0 {
		t.Errorf("result %+v", res)
	}
	if got := strings.Join(rec.recipients(), ", "); got != strings.Join(mixedWant, ", ") {
		t.Errorf("recorded %s\nwant     %s", got, strings.Join(mixedWant, ", "))
	}
	if n := srv.Count(t, "INBOX"); n != 0 {
		t.Errorf("INBOX holds %d emails after the run, want 0", n)
	}
	if !strings.Contains(out.String(), "could not be read was removed") ||
		!strings.Contains(out.String(), `from="Tim Berners <tim@example.org>" subject="Automatic reply: Lesson 1: Getting started"`) {
		t.Errorf("the skipped emails are not logged:\n%s", out)
	}
	for _, r := range rec.reports {
		if r.Source != "mailbox" || r.At.IsZero() {
			t.Errorf("report %+v: want source mailbox and a time", r)
		}
	}
	// Nothing is left for the next run.
	res, err = p.Poll(context.Background())
	if err != nil || res != (mailbox.Result{}) {
		t.Errorf("second run: %+v, %v", res, err)
	}
}

func TestPollIMAPMovesToProcessedFolder(t *testing.T) {
	srv := mailboxtest.StartIMAP(t, true)
	for _, name := range mixed {
		srv.Add(t, sample(t, name))
	}
	rec := &recorder{}
	p := newPoller(t, srv.URL("processed=Processed"), rec, srv.ClientTLSConfig(), nil)
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rec.reports) != 5 {
		t.Errorf("recorded %v", rec.recipients())
	}
	if in, done := srv.Count(t, "INBOX"), srv.Count(t, "Processed"); in != 0 || done != len(mixed) {
		t.Errorf("INBOX holds %d, Processed %d; want 0 and %d", in, done, len(mixed))
	}
	// A folder that does not exist yet is made.
	srv.Add(t, sample(t, "qmail.eml"))
	p = newPoller(t, srv.URL("processed=Bounces/Done"), rec, srv.ClientTLSConfig(), nil)
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if in, done := srv.Count(t, "INBOX"), srv.Count(t, "Bounces/Done"); in != 0 || done != 1 {
		t.Errorf("INBOX holds %d, Bounces/Done %d; want 0 and 1", in, done)
	}
}

func TestPollKeepsWhatCouldNotBeRecorded(t *testing.T) {
	srv := mailboxtest.StartIMAP(t, false)
	srv.Add(t, sample(t, "postfix_dsn.eml"))
	srv.Add(t, sample(t, "qmail.eml"))
	rec := &recorder{fail: func(r bounces.Report) error {
		if r.Recipient == "linus@example.com" {
			return errors.New("database is down")
		}
		return nil
	}}
	p := newPoller(t, srv.URL(""), rec, nil, nil)
	res, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Reports != 1 || res.Kept != 1 || srv.Count(t, "INBOX") != 1 {
		t.Fatalf("result %+v, INBOX %d; want the failed one kept", res, srv.Count(t, "INBOX"))
	}
	rec.fail = nil
	if res, err := p.Poll(context.Background()); err != nil || res.Reports != 1 || srv.Count(t, "INBOX") != 0 {
		t.Fatalf("next run %+v, %v, INBOX %d", res, err, srv.Count(t, "INBOX"))
	}
}

func TestPollBatch(t *testing.T) {
	srv := mailboxtest.StartIMAP(t, false)
	for i := range 5 {
		srv.Add(t, mailboxtest.DSN("bounces+x@bounce.acme.example", fmt.Sprintf("l%d@example.com", i), "m@acme.example", "5.1.1"))
	}
	rec := &recorder{}
	p, err := mailbox.New(mailbox.Config{URL: srv.URL(""), Recorder: rec, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, left := range []int{3, 1, 0} {
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := srv.Count(t, "INBOX"); n != left {
			t.Fatalf("INBOX holds %d, want %d", n, left)
		}
	}
}

// Two nodes reading the mailbox at once read the same emails; each
// report is recorded once.
func TestTwoPollersRecordEachReportOnce(t *testing.T) {
	srv := mailboxtest.StartIMAP(t, false)
	const n = 60
	for i := range n {
		srv.Add(t, mailboxtest.DSN("bounces+x@bounce.acme.example", fmt.Sprintf("l%d@example.com", i), fmt.Sprintf("m%d@acme.example", i), "5.1.1"))
	}
	rec := &recorder{}
	pollers := []*mailbox.Poller{newPoller(t, srv.URL(""), rec, nil, nil), newPoller(t, srv.URL(""), rec, nil, nil)}
	var wg sync.WaitGroup
	errs := make([]error, len(pollers))
	for i, p := range pollers {
		wg.Go(func() { _, errs[i] = p.Poll(context.Background()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("poll: %v", err)
		}
	}
	if len(rec.reports) != n {
		t.Errorf("%d reports recorded, want %d", len(rec.reports), n)
	}
	if left := srv.Count(t, "INBOX"); left != 0 {
		t.Errorf("INBOX holds %d", left)
	}
	t.Logf("%d Record calls for %d reports", rec.calls, n)
}

func TestPollPOP3(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tls   bool
		query string
	}{{"pop3s", true, ""}, {"pop3 with STLS", false, ""}, {"pop3 without TLS", false, "tls=none"}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailboxtest.StartPOP3(t, tc.tls)
			for _, name := range mixed {
				srv.Add(sample(t, name))
			}
			// A line starting with a dot survives the dot-stuffing.
			srv.Add(mailboxtest.DSN("bounces+x@bounce.acme.example", ".dot@example.com", "m@acme.example", "5.1.1"))
			rec := &recorder{}
			p := newPoller(t, srv.URL(tc.query), rec, srv.ClientTLSConfig(), nil)
			res, err := p.Poll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Join(append(mixedWant, "hard .dot@example.com"), ", ")
			if got := strings.Join(rec.recipients(), ", "); got != want {
				t.Errorf("recorded %s\nwant     %s", got, want)
			}
			if res.Skipped != 2 || srv.Count() != 0 {
				t.Errorf("result %+v, %d emails left", res, srv.Count())
			}
		})
	}
}

// A POP3 maildrop another node is reading is left to that node quietly,
// and read on the next run.
func TestPOP3MaildropInUse(t *testing.T) {
	srv := mailboxtest.StartPOP3(t, false)
	srv.Add(sample(t, "postfix_dsn.eml"))
	other, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(other)
	for _, cmd := range []string{"", "USER " + mailboxtest.User, "PASS " + mailboxtest.Password} {
		if cmd != "" {
			fmt.Fprintf(other, "%s\r\n", cmd)
		}
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("%s: %q, %v", cmd, line, err)
		}
	}
	rec := &recorder{}
	out := &logs{}
	p := newPoller(t, srv.URL("tls=none"), rec, nil, out)
	mailbox.Run(p, context.Background())
	if len(rec.reports) != 0 || srv.Count() != 1 || strings.Contains(out.String(), "level=WARN") ||
		!strings.Contains(out.String(), "another node is reading it") {
		t.Fatalf("with the maildrop in use: %d reports, %d emails left, log:\n%s", len(rec.reports), srv.Count(), out)
	}
	fmt.Fprintf(other, "QUIT\r\n")
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	other.Close()
	mailbox.Run(p, context.Background())
	if len(rec.reports) != 1 || srv.Count() != 0 {
		t.Fatalf("next run: %d reports, %d emails left", len(rec.reports), srv.Count())
	}
}

// A server that accepts the connection and then says nothing holds a run
// only until its context ends.
func TestPollEndsWithItsContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	for _, scheme := range []string{"imap", "pop3"} {
		t.Run(scheme, func(t *testing.T) {
			path := "/INBOX"
			if scheme == "pop3" {
				path = ""
			}
			p := newPoller(t, scheme+"://u:p@"+l.Addr().String()+path+"?tls=none", &recorder{}, nil, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			if _, err := p.Poll(ctx); err == nil {
				t.Fatal("no error from a server that says nothing")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the run took %v after its context ended", d)
			}
		})
	}
}

// A mailbox that cannot be reached is logged once, without its password,
// however many runs fail; reaching it again is logged too.
func TestUnreachableMailboxLoggedOnce(t *testing.T) {
	srv := mailboxtest.StartIMAP(t, false)
	u, err := url.Parse(srv.URL(""))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(mailboxtest.User, "wrong-password-123")
	wrong := u.String()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "imap://user:hunter2-secret@" + l.Addr().String() + "/INBOX?tls=none"
	l.Close()
	for _, tc := range []struct{ name, url, secret, says string }{
		{"auth failed", wrong, "wrong-password-123", "log in as"},
		{"connection refused", closed, "hunter2-secret", "connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &logs{}
			p := newPoller(t, tc.url, &recorder{}, nil, out)
			for range 3 {
				mailbox.Run(p, context.Background())
			}
			text := out.String()
			if n := strings.Count(text, "could not be read"); n != 1 {
				t.Errorf("logged %d times, want once:\n%s", n, text)
			}
			if !strings.Contains(text, "level=WARN") || !strings.Contains(text, tc.says) {
				t.Errorf("want a warning saying %q:\n%s", tc.says, text)
			}
			if strings.Contains(text, tc.secret) {
				t.Errorf("the password is in the log:\n%s", text)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // Settings as "protocol security addr user folder processed", or "error"
	}{
		{"imaps://u:p@mail.example.com/INBOX", "imap tls mail.example.com:993 u INBOX "},
		{"imaps://u%40example.com:p@mail.example.com", "imap tls mail.example.com:993 u@example.com INBOX "},
		{"imap://u:p@mail.example.com/Bounces?processed=Done", "imap starttls mail.example.com:143 u Bounces Done"},
		{"imap://u:p@localhost:1143/INBOX?tls=none", "imap none localhost:1143 u INBOX "},
		{"pop3s://u:p@pop.example.com", "pop3 tls pop.example.com:995 u  "},
		{"pop3://u:p@pop.example.com?tls=none", "pop3 none pop.example.com:110 u  "},
		{"imaps://u:p@mail.example.com/INBOX?tls=none", "error"},
		{"imap://u:p@mail.example.com/INBOX?tls=yes", "error"},
		{"imap://u:p@mail.example.com/INBOX?folder=x", "error"},
		{"imap://u:p@mail.example.com/INBOX?processed=INBOX", "error"},
		{"imap://u:p@mail.example.com/INBOX?processed=", "error"},
		{"pop3://u:p@pop.example.com/INBOX", "error"},
		{"pop3s://u:p@pop.example.com?processed=Done", "error"},
		{"imap://mail.example.com/INBOX", "error"},
		{"imap:///INBOX", "error"},
		{"https://u:p@mail.example.com", "error"},
	} {
		s, err := mailbox.ParseURL(tc.url)
		got := "error"
		if err == nil {
			got = strings.Join([]string{s.Protocol, s.Security, s.Addr, s.Username, s.Folder, s.Processed}, " ")
		} else if strings.Contains(err.Error(), ":p@") {
			t.Errorf("%s: the error repeats the URL: %v", tc.url, err)
		}
		if got != tc.want {
			t.Errorf("ParseURL(%s) = %q (%v), want %q", tc.url, got, err, tc.want)
		}
	}
	s, _ := mailbox.ParseURL("imaps://u:secret@mail.example.com/INBOX")
	if strings.Contains(s.String(), "secret") {
		t.Errorf("String() = %s holds the password", s)
	}
}
