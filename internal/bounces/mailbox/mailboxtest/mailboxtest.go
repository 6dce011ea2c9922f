// Package mailboxtest runs in-process mail servers a bounce mailbox is
// read from in tests: IMAP (go-imap's in-memory server) and POP3 (a small
// one of its own), each with or without TLS.
package mailboxtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// User and Password log in to the test servers.
const (
	User     = "bounces@bounce.acme.example"
	Password = "s3cret pass"
)

// IMAP is an in-process IMAP server with one user whose INBOX and
// Processed folders start empty.
type IMAP struct {
	Addr     string
	tls      bool
	user     *imapmemserver.User
	certPool *x509.CertPool
}

// StartIMAP starts an IMAP server on a loopback port until the test ends:
// with implicit TLS when tlsOn (imaps), without TLS otherwise.
func StartIMAP(t testing.TB, tlsOn bool) *IMAP {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(User, Password)
	for _, name := range []string{"INBOX", "Processed"} {
		if err := user.Create(name, nil); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(user)
	cert, pool := selfSigned(t)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	var l net.Listener
	var err error
	if tlsOn {
		l, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return &IMAP{Addr: l.Addr().String(), tls: tlsOn, user: user, certPool: pool}
}

// URL is the mailbox's MAILSCHOOL_BOUNCE_MAILBOX, with query added.
func (s *IMAP) URL(query string) string {
	u := url.URL{Scheme: "imap", User: url.UserPassword(User, Password), Host: s.Addr, Path: "/INBOX"}
	if s.tls {
		u.Scheme = "imaps"
	} else {
		query = strings.TrimPrefix(query+"&tls=none", "&")
	}
	u.RawQuery = query
	return u.String()
}

// ClientTLSConfig trusts the server's certificate.
func (s *IMAP) ClientTLSConfig() *tls.Config { return &tls.Config{RootCAs: s.certPool} }

// Add puts an email in INBOX.
func (s *IMAP) Add(t testing.TB, raw []byte) {
	t.Helper()
	if _, err := s.user.Append("INBOX", bytes.NewReader(raw), &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Count is how many emails a folder holds.
func (s *IMAP) Count(t testing.TB, folder string) int {
	t.Helper()
	data, err := s.user.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	return int(*data.NumMessages)
}

// POP3 is an in-process POP3 server with one maildrop.
type POP3 struct {
	Addr     string
	tlsOn    bool
	certPool *x509.CertPool
	tlsConf  *tls.Config

	mu     sync.Mutex
	emails [][]byte
	locked bool
}

// StartPOP3 starts a POP3 server on a loopback port until the test ends:
// with implicit TLS when tlsOn (pop3s), offering STLS otherwise.
func StartPOP3(t testing.TB, tlsOn bool) *POP3 {
	t.Helper()
	cert, pool := selfSigned(t)
	s := &POP3{tlsOn: tlsOn, certPool: pool, tlsConf: &tls.Config{Certificates: []tls.Certificate{cert}}}
	var l net.Listener
	var err error
	if tlsOn {
		l, err = tls.Listen("tcp", "127.0.0.1:0", s.tlsConf)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	var wg sync.WaitGroup
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				s.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return s
}

// URL is the maildrop's MAILSCHOOL_BOUNCE_MAILBOX; query "tls=none" for
// no TLS at all on a server started without implicit TLS.
func (s *POP3) URL(query string) string {
	u := url.URL{Scheme: "pop3", User: url.UserPassword(User, Password), Host: s.Addr, RawQuery: query}
	if s.tlsOn {
		u.Scheme = "pop3s"
	}
	return u.String()
}

// ClientTLSConfig trusts the server's certificate.
func (s *POP3) ClientTLSConfig() *tls.Config { return &tls.Config{RootCAs: s.certPool} }

// Add puts an email in the maildrop.
func (s *POP3) Add(raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emails = append(s.emails, raw)
}

// Count is how many emails the maildrop holds.
func (s *POP3) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.emails)
}

// serve runs one POP3 session (RFC 1939): the maildrop is locked from PASS
// to the end, and emails marked with DELE go at QUIT only.
func (s *POP3) serve(conn net.Conn) {
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	reply := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\r\n", args...)
		w.Flush()
	}
	reply("+OK POP3 test server ready")
	var (
		user    string
		authed  bool
		emails  [][]byte
		deleted map[int]bool
	)
	// end unlocks the maildrop; after QUIT (commit), it first removes
	// what was deleted, before the answer, as real servers do.
	end := func(commit bool) {
		if !authed {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if commit {
			var kept [][]byte
			for i, e := range s.emails {
				if !deleted[i+1] {
					kept = append(kept, e)
				}
			}
			s.emails = kept
		}
		s.locked, authed = false, false
	}
	defer end(false)
	number := func(arg string) (int, bool) {
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > len(emails) || deleted[n] {
			reply("-ERR no such message")
			return 0, false
		}
		return n, true
	}
	for {
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch strings.ToUpper(cmd) {
		case "CAPA":
			reply("+OK\r\nUSER\r\nUIDL\r\nSTLS\r\n.")
		case "STLS":
			if s.tlsOn || authed {
				reply("-ERR not now")
				continue
			}
			reply("+OK begin TLS")
			tlsConn := tls.Server(conn, s.tlsConf)
			if err := tlsConn.Handshake(); err != nil {
				return
			}
			conn, r, w = tlsConn, bufio.NewReader(tlsConn), bufio.NewWriter(tlsConn)
		case "USER":
			user = arg
			reply("+OK")
		case "PASS":
			if user != User || arg != Password {
				reply("-ERR [AUTH] invalid user name or password")
				continue
			}
			s.mu.Lock()
			if s.locked {
				s.mu.Unlock()
				reply("-ERR [IN-USE] maildrop locked")
				continue
			}
			s.locked, authed = true, true
			emails, deleted = append([][]byte(nil), s.emails...), map[int]bool{}
			s.mu.Unlock()
			reply("+OK %d messages", len(emails))
		case "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET":
			if !authed {
				reply("-ERR log in first")
				continue
			}
			switch strings.ToUpper(cmd) {
			case "STAT":
				reply("+OK %d 0", len(emails))
			case "LIST":
				var b strings.Builder
				for i, e := range emails {
					if !deleted[i+1] {
						fmt.Fprintf(&b, "%d %d\r\n", i+1, len(e))
					}
				}
				reply("+OK\r\n%s.", b.String())
			case "RETR":
				if n, ok := number(arg); ok {
					fmt.Fprintf(w, "+OK %d octets\r\n", len(emails[n-1]))
					for _, l := range strings.SplitAfter(strings.ReplaceAll(string(emails[n-1]), "\r\n", "\n"), "\n") {
						if l == "" {
							continue
						}
						if strings.HasPrefix(l, ".") {
							l = "." + l
						}
						w.WriteString(strings.TrimSuffix(l, "\n") + "\r\n")
					}
					reply(".")
				}
			case "DELE":
				if n, ok := number(arg); ok {
					deleted[n] = true
					reply("+OK")
				}
			case "RSET":
				deleted = map[int]bool{}
				reply("+OK")
			default:
				reply("+OK")
			}
		case "QUIT":
			end(true)
			reply("+OK bye")
			return
		default:
			reply("-ERR unknown command")
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailboxtest"},
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
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
