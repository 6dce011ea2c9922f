package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// pop3Session reads a maildrop over POP3 (RFC 1939, STLS from RFC 2595):
// the few commands a poller needs, USER/PASS, LIST, RETR, DELE, QUIT.
// Deletions take effect at QUIT; a session that ends otherwise deletes
// nothing, and the emails are read again next time.
type pop3Session struct {
	conn net.Conn
	text *textproto.Conn
	stop func() bool
}

// pop3Timeout bounds each command's answer.
const pop3Timeout = time.Minute

func dialPOP3(ctx context.Context, s Settings, tlsConfig *tls.Config) (session, error) {
	dialer := &net.Dialer{Timeout: dialTimeout}
	host, _, _ := net.SplitHostPort(s.Addr)
	tlsConfig = tlsConfig.Clone()
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = host
	}
	var conn net.Conn
	var err error
	if s.Security == "tls" {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsConfig}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	p := &pop3Session{conn: conn, text: textproto.NewConn(conn), stop: context.AfterFunc(ctx, func() { conn.Close() })}
	fail := func(err error) (session, error) {
		p.stop()
		conn.Close()
		return nil, err
	}
	if _, err := p.reply(); err != nil {
		return fail(fmt.Errorf("greeting: %w", err))
	}
	if s.Security == "starttls" {
		if _, err := p.cmd("STLS"); err != nil {
			return fail(fmt.Errorf("STLS: %w", err))
		}
		tlsConn := tls.Client(conn, tlsConfig)
		tlsConn.SetDeadline(time.Now().Add(pop3Timeout))
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("TLS: %w", err))
		}
		p.stop()
		p.conn, p.text = tlsConn, textproto.NewConn(tlsConn)
		p.stop = context.AfterFunc(ctx, func() { tlsConn.Close() })
	}
	if _, err := p.cmd("USER " + s.Username); err != nil {
		return fail(fmt.Errorf("log in as %s: %w", s.Username, err))
	}
	if _, err := p.cmd("PASS " + s.Password); err != nil {
		if strings.Contains(err.Error(), "[IN-USE]") {
			// RFC 2449: another session holds the maildrop.
			err = fmt.Errorf("%w: %w", errInUse, err)
		}
		return fail(fmt.Errorf("log in as %s: %w", s.Username, err))
	}
	return p, nil
}

var (
	// errPOP3 is a -ERR answer.
	errPOP3 = errors.New("pop3 server said")
	// errInUse is the answer of a maildrop another session holds: another
	// node is reading it.
	errInUse = errors.New("the maildrop is in use")
)

// reply reads a status line: "+OK text" or "-ERR text".
func (p *pop3Session) reply() (string, error) {
	p.conn.SetDeadline(time.Now().Add(pop3Timeout))
	line, err := p.text.ReadLine()
	if err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(line, "+OK"):
		return strings.TrimSpace(line[3:]), nil
	case strings.HasPrefix(line, "-ERR"):
		return "", fmt.Errorf("%w: %s", errPOP3, strings.TrimSpace(line[4:]))
	default:
		return "", fmt.Errorf("pop3: unexpected answer %q", truncate(line, 80))
	}
}

func (p *pop3Session) cmd(line string) (string, error) {
	p.conn.SetDeadline(time.Now().Add(pop3Timeout))
	if err := p.text.PrintfLine("%s", line); err != nil {
		return "", err
	}
	return p.reply()
}

// multiline reads a multi-line answer's body, dot-unstuffed.
func (p *pop3Session) multiline(limit int64) ([]byte, error) {
	r := p.text.DotReader()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		// Read the rest so the session can go on, without keeping it.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (p *pop3Session) list(max int) ([]entry, error) {
	if _, err := p.cmd("LIST"); err != nil {
		return nil, fmt.Errorf("LIST: %w", err)
	}
	body, err := p.multiline(1 << 20)
	if err != nil {
		return nil, fmt.Errorf("LIST: %w", err)
	}
	var entries []entry
	for _, line := range strings.Split(string(body), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		n, err1 := strconv.ParseUint(fields[0], 10, 32)
		size, err2 := strconv.ParseInt(fields[1], 10, 64)
		if err1 != nil || err2 != nil || n == 0 {
			return nil, fmt.Errorf("LIST: unexpected line %q", truncate(line, 80))
		}
		if len(entries) < max {
			entries = append(entries, entry{id: uint32(n), size: size})
		}
	}
	return entries, nil
}

func (p *pop3Session) fetch(ids []uint32, fn func(id uint32, raw []byte)) error {
	for _, id := range ids {
		if _, err := p.cmd("RETR " + strconv.FormatUint(uint64(id), 10)); err != nil {
			return fmt.Errorf("RETR %d: %w", id, err)
		}
		raw, err := p.multiline(maxEmail)
		if err != nil {
			return fmt.Errorf("RETR %d: %w", id, err)
		}
		fn(id, raw)
	}
	return nil
}

func (p *pop3Session) remove(ids []uint32) error {
	for _, id := range ids {
		if _, err := p.cmd("DELE " + strconv.FormatUint(uint64(id), 10)); err != nil {
			return fmt.Errorf("DELE %d: %w", id, err)
		}
	}
	return nil
}

// close sends QUIT, which is when the server deletes what was marked.
func (p *pop3Session) close() error {
	defer p.stop()
	defer p.conn.Close()
	if _, err := p.cmd("QUIT"); err != nil {
		return fmt.Errorf("QUIT: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
