// Package smtptest runs an in-process SMTP server for tests: it records
// what it is sent and can be told to offer TLS, require authentication,
// refuse messages or drop connections.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configures a Server. The zero value accepts every message over
// plain text without authentication.
type Options struct {
	STARTTLS    bool // offer STARTTLS with a self-signed certificate for 127.0.0.1 and localhost
	ImplicitTLS bool // speak TLS from the first byte, as on port 465
	RequireTLS  bool // refuse MAIL before STARTTLS (530)

	// Username and Password, when Username is set, make AUTH PLAIN
	// required before MAIL (535 on bad credentials). Over STARTTLS, AUTH
	// is offered only after the TLS handshake, as real servers do.
	Username, Password string

	// Reply decides the answer to each message at the end of DATA; nil or
	// a nil return accepts it. n counts DATA attempts across all
	// connections, starting at 1. Return e.g. &smtp.SMTPError{Code: 451,
	// EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}.
	Reply func(n int, m Message) error

	// MailReply, when set, decides the answer to each MAIL FROM; a nil
	// return accepts it. n counts MAIL commands across all connections,
	// starting at 1.
	MailReply func(n int) error

	// DropAfterBytes, when > 0, makes the server close the connection
	// without a reply after reading that many bytes of DATA, on the
	// attempts where DropOn(n) is true (every attempt when DropOn is nil).
	DropAfterBytes int
	DropOn         func(n int) bool

	// Discard keeps only the envelope of accepted messages, not their
	// bytes, so benchmarks can send many without holding them in memory.
	Discard bool
}

// Message is one message the server accepted.
type Message struct {
	ID       string // the queue id in the server's reply, "OK: queued as <ID>"
	From     string
	To       []string
	Data     []byte // as sent, dot-stuffing undone; ends with CRLF
	TLS      bool   // received over TLS
	AuthUser string // the authenticated user, if any
}

// Server is a running SMTP server.
type Server struct {
	Addr string // host:port

	opts     Options
	certPool *x509.CertPool
	conns    atomic.Int64
	attempts atomic.Int64
	mails    atomic.Int64

	mu       sync.Mutex
	messages []Message
	changed  chan struct{} // closed and replaced when a message arrives
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, changed: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "smtptest.localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0) // dropped connections are expected
	srv.AllowInsecureAuth = !opts.STARTTLS && !opts.ImplicitTLS
	if opts.STARTTLS || opts.ImplicitTLS {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("smtptest: %v", err)
		}
		s.certPool = pool
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	s.Addr = l.Addr().String()
	l = countingListener{l, &s.conns}
	if opts.ImplicitTLS {
		l = tls.NewListener(l, srv.TLSConfig)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		// Close misses the listener when Serve has not started yet.
		l.Close()
		<-served
	})
	return s
}

// URL returns the smtp:// or smtps:// URL that reaches s, with its
// credentials, and ?tls=none when s offers no TLS.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr}
	if s.opts.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if s.opts.Username != "" {
		u.User = url.UserPassword(s.opts.Username, s.opts.Password)
	}
	if !s.opts.STARTTLS && !s.opts.ImplicitTLS {
		u.RawQuery = "tls=none"
	}
	return u.String()
}

// ClientTLSConfig returns a client configuration that trusts s's
// certificate.
func (s *Server) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.certPool}
}

// Messages returns the accepted messages, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait returns the accepted messages once there are at least n, and fails
// the test if that takes longer than timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.messages), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("smtptest: %d messages after %v, want %d", got, timeout, n)
		}
	}
}

// Connections returns the number of connections accepted so far.
func (s *Server) Connections() int { return int(s.conns.Load()) }

func (s *Server) accept(m Message) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.ID = strconv.Itoa(len(s.messages) + 1)
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
	return m.ID
}

// session is one SMTP session; go-smtp starts a new one after STARTTLS.
type session struct {
	s        *Server
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c}, nil
}

func (ss *session) isTLS() bool {
	_, ok := ss.conn.TLSConnectionState()
	return ok
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.s.opts.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.authUser = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.RequireTLS && !ss.isTLS() {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if ss.s.opts.Username != "" && ss.authUser == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	if reply := ss.s.opts.MailReply; reply != nil {
		if err := reply(int(ss.s.mails.Add(1))); err != nil {
			return err
		}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	n := int(ss.s.attempts.Add(1))
	opts := ss.s.opts
	if opts.DropAfterBytes > 0 && (opts.DropOn == nil || opts.DropOn(n)) {
		io.CopyN(io.Discard, r, int64(opts.DropAfterBytes))
		conn := ss.conn.Conn()
		if tc, ok := conn.(*tls.Conn); ok {
			conn = tc.NetConn() // no TLS close_notify: just gone
		}
		conn.Close()
		return errors.New("smtptest: dropped the connection")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: ss.from, To: ss.to, Data: data, TLS: ss.isTLS(), AuthUser: ss.authUser}
	if opts.Reply != nil {
		if err := opts.Reply(n, m); err != nil {
			return err
		}
	}
	if opts.Discard {
		m.Data = nil
	}
	id := ss.s.accept(m)
	// go-smtp answers a nil error with a fixed text; an "error" with code
	// 250 is its only way to put a queue id in the reply, as real
	// servers do.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK: queued as " + id}
}

func (ss *session) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *session) Logout() error { return nil }

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("parse certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
