package mail

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// SMTPConfig configures the SMTP transport.
type SMTPConfig struct {
	// URL is smtp://user:pass@host:587 (STARTTLS required) or
	// smtps://user:pass@host:465 (implicit TLS); "?tls=none" allows plain
	// text, for local relays only. User and password are URL-encoded.
	URL string
	// TLSConfig is optional; tests pass RootCAs for their self-signed
	// certificate. ServerName defaults to the URL host.
	TLSConfig *tls.Config
	HeloName  string        // optional, default "localhost"
	MaxConns  int           // connections kept open for reuse; default 4
	Timeout   time.Duration // limit on dialing (TLS and AUTH included) and on each message's exchange; default 30s
	DKIM      *DKIMConfig   // optional
}

const (
	defaultMaxConns = 4
	defaultTimeout  = 30 * time.Second
	// defaultMaxIdle is how long a connection may wait unused and still be
	// reused. Servers drop quiet clients (RFC 5321 allows it after 5
	// minutes, busy providers do it much sooner), and a fresh dial is
	// cheaper than a send that fails on a half-closed connection.
	defaultMaxIdle = 30 * time.Second
	// quitTimeout bounds the goodbye to idle connections in Close, so that
	// a dead server does not hold up shutdown.
	quitTimeout = 5 * time.Second
)

// errClosed is returned by Send after Close.
var errClosed = errors.New("transport closed")

// smtpURL is a parsed SMTPConfig.URL.
type smtpURL struct {
	host        string
	port        int
	implicitTLS bool // smtps://
	plain       bool // ?tls=none
	auth        bool // the URL has user info
	user, pass  string
}

// ParseSMTPURL checks an SMTP URL as NewSMTP reads it, so that a bad
// setting is reported at start-up.
func ParseSMTPURL(raw string) error {
	_, err := parseSMTPURL(raw)
	return err
}

func parseSMTPURL(raw string) (smtpURL, error) {
	fail := func(format string, args ...any) (smtpURL, error) {
		return smtpURL{}, fmt.Errorf("MAILSCHOOL_SMTP_URL: "+format, args...)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// A *url.Error repeats the whole URL, password included.
		if uerr, ok := errors.AsType[*url.Error](err); ok {
			err = uerr.Err
		}
		return fail("not a valid URL: %v", err)
	}
	var s smtpURL
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicitTLS = 465, true
	default:
		return fail("unknown scheme %q: use smtp:// or smtps://", u.Scheme)
	}
	s.host = u.Hostname()
	if u.Opaque != "" || s.host == "" {
		return fail("missing host: use %s://user:password@host", u.Scheme)
	}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return fail("invalid port %q", p)
		}
		s.port = port
	}
	if u.Path != "" && u.Path != "/" {
		return fail("unexpected path %q", u.Path)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("invalid query: %v", err)
	}
	for key, values := range query {
		if key != "tls" {
			return fail("unknown parameter %q: the only one is tls=none", key)
		}
		if len(values) != 1 || values[0] != "none" {
			return fail("tls=%s: the only value is tls=none (plain text, for local relays)", strings.Join(values, ","))
		}
		s.plain = true
	}
	if s.plain && s.implicitTLS {
		return fail("tls=none contradicts smtps://: use smtp://host:25?tls=none")
	}
	if u.User != nil {
		s.auth = true
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	return s, nil
}

// SMTP is a Transport that submits messages to one SMTP server (a relay or
// a provider's submission port). It keeps up to MaxConns connections open
// between messages and is safe for concurrent use.
type SMTP struct {
	url     smtpURL
	addr    string // host:port, for dialing and in errors
	tls     *tls.Config
	helo    string
	timeout time.Duration
	maxIdle time.Duration
	dkim    *DKIMConfig

	// open holds a token for every open connection, idle or busy, so that
	// there are never more than MaxConns; idle holds those free for reuse.
	// Having room for every open connection, idle never blocks a sender.
	open chan struct{}
	idle chan *smtpConn

	mu     sync.Mutex // makes Close and handing a connection back to idle exclusive
	closed bool
}

// smtpConn is one open connection, greeted, TLS-upgraded and
// authenticated.
type smtpConn struct {
	client   *smtp.Client
	netConn  net.Conn // under client: deadlines and closing
	lastUsed time.Time
}

// NewSMTP returns the SMTP transport for cfg. It checks the configuration
// but does not connect: the first Send does.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	u, err := parseSMTPURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	tlsConfig := &tls.Config{}
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = u.host
	}
	if tlsConfig.MinVersion == 0 {
		tlsConfig.MinVersion = tls.VersionTLS12
	}
	s := &SMTP{
		url:     u,
		addr:    net.JoinHostPort(u.host, strconv.Itoa(u.port)),
		tls:     tlsConfig,
		helo:    cmp.Or(cfg.HeloName, "localhost"),
		timeout: cmp.Or(cfg.Timeout, defaultTimeout),
		maxIdle: defaultMaxIdle,
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	s.open = make(chan struct{}, maxConns)
	s.idle = make(chan *smtpConn, maxConns)
	if cfg.DKIM != nil {
		d := *cfg.DKIM
		if d.Domain == "" || d.Selector == "" || d.Signer == nil {
			return nil, errors.New("DKIM signing needs a domain, a selector and a key")
		}
		s.dkim = &d
	}
	// Options are checked now so that a mistake shows at start-up, not
	// in the first send job.
	noDial := func(context.Context, string, string) (net.Conn, error) { return nil, errClosed }
	if _, err := gomail.NewClient(u.host, s.clientOptions(noDial)...); err != nil {
		return nil, fmt.Errorf("smtp %s: %w", s.addr, err)
	}
	return s, nil
}

// clientOptions configures a go-mail client that connects through dial.
func (s *SMTP) clientOptions(dial gomail.DialContextFunc) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.url.port),
		gomail.WithHELO(s.helo),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tls),
		gomail.WithDialContextFunc(dial),
	}
	switch {
	case s.url.implicitTLS:
		opts = append(opts, gomail.WithSSL())
	case s.url.plain:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.url.auth {
		// Inside TLS, PLAIN and LOGIN are as safe as the other mechanisms
		// and every submission server offers one of them. go-mail falls
		// back to discovering another one if not.
		mechs := []gomail.SMTPAuthType{gomail.SMTPAuthPlain, gomail.SMTPAuthLogin}
		if s.url.plain {
			mechs = []gomail.SMTPAuthType{gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts,
			gomail.WithUsername(s.url.user),
			gomail.WithPassword(s.url.pass),
			gomail.WithOpportunisticSMTPAuth(mechs...))
	}
	return opts
}

// Send delivers raw to env's recipients. It returns the server's reply to
// the end of DATA, e.g. "2.0.0 OK: queued as 4F3A1". An error from a 5xx
// reply is a PermanentError; all others are worth retrying.
func (s *SMTP) Send(ctx context.Context, env Envelope, raw []byte) (string, error) {
	if err := checkEnvelope(env); err != nil {
		return "", &PermanentError{Err: fmt.Errorf("smtp send: %w", err)}
	}
	if s.dkim != nil {
		signed, err := SignDKIM(raw, *s.dkim)
		if err != nil {
			// Only a broken key or message gets here: both stay broken.
			return "", &PermanentError{Err: err}
		}
		raw = signed
	}
	id, err := s.sendOn(ctx, env, raw, s.acquire)
	if stale, ok := errors.AsType[*staleConnError](err); ok {
		// Nothing was sent: a connection the server dropped while it was
		// idle fails at MAIL FROM. Once more, on a new connection in its
		// place.
		stale.conn.netConn.Close()
		id, err = s.sendOn(ctx, env, raw, s.redial)
	}
	if err != nil {
		return "", s.sendError(ctx, err)
	}
	return id, nil
}

// sendOn runs one mail transaction on a connection from get, and puts the
// connection back for reuse, or closes it after a failed exchange. On a
// reused connection that failed at MAIL FROM as droppedAtMail tells, it
// returns a staleConnError holding the connection, for the caller to
// replace.
func (s *SMTP) sendOn(ctx context.Context, env Envelope, raw []byte, get func(context.Context) (*smtpConn, bool, error)) (string, error) {
	c, reused, err := get(ctx)
	if err != nil {
		return "", err
	}
	stop := watch(ctx, c.netConn, s.timeout)
	watching, interrupted := true, false
	unwatch := func() {
		if watching {
			watching, interrupted = false, !stop()
		}
	}
	id, err := deliver(c.client, env, raw, func() error {
		// From the end of DATA on, the server may take the message at
		// any moment: an exchange cut off then would report a message
		// the server took as not sent, and the retry would send it
		// twice. So ctx no longer interrupts it; the timeout still
		// bounds it.
		if unwatch(); interrupted {
			return ctx.Err() // the server has not seen the end
		}
		return c.netConn.SetDeadline(time.Now().Add(s.timeout))
	})
	unwatch()
	switch {
	case err != nil && reused && !interrupted && ctx.Err() == nil && droppedAtMail(err):
		return "", &staleConnError{conn: c, err: err}
	case err != nil || interrupted:
		// A failed exchange may have left the connection anywhere in the
		// protocol, and an interrupted one has a spoiled deadline.
		s.discard(c)
	default:
		s.release(c)
	}
	return id, err
}

// staleConnError is a reused connection found dropped at MAIL FROM.
type staleConnError struct {
	conn *smtpConn
	err  error
}

func (e *staleConnError) Error() string { return e.err.Error() }

func (e *staleConnError) Unwrap() error { return e.err }

// droppedAtMail tells whether err is MAIL FROM failing as on a connection
// the server has dropped: no reply at all (the connection closed, or
// silent until the timeout), or 421, the server closing it. Other 4xx
// replies (a provider throttling) are the answer: tried again on a new
// connection, each would cost a login.
func droppedAtMail(err error) bool {
	cmd, ok := errors.AsType[*commandError](err)
	if !ok || cmd.command != "MAIL" {
		return false
	}
	reply, isReply := errors.AsType[*textproto.Error](err)
	return !isReply || reply.Code == 421
}

// checkEnvelope refuses what would break the SMTP commands: a line break
// or angle bracket in an address would end or extend the path. From may be
// empty (the null sender of bounces).
func checkEnvelope(env Envelope) error {
	if len(env.To) == 0 {
		return errors.New("no recipients")
	}
	for _, addr := range append([]string{env.From}, env.To...) {
		if strings.ContainsAny(addr, "<>\r\n") {
			return fmt.Errorf("invalid address %q", addr)
		}
	}
	for _, to := range env.To {
		if to == "" {
			return errors.New("empty recipient address")
		}
	}
	return nil
}

// deliver runs one mail transaction on c. endOfData is called before
// the end of DATA is sent; an error from it abandons the transaction.
func deliver(c *smtp.Client, env Envelope, raw []byte, endOfData func() error) (string, error) {
	// go-mail's client sends the path as given, without angle brackets.
	if err := c.Mail("<" + env.From + ">"); err != nil {
		return "", &commandError{command: "MAIL", err: fmt.Errorf("MAIL FROM:<%s>: %w", env.From, err)}
	}
	for _, to := range env.To {
		if err := c.Rcpt("<" + to + ">"); err != nil {
			return "", &commandError{command: "RCPT", err: fmt.Errorf("RCPT TO:<%s>: %w", to, err)}
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return "", fmt.Errorf("DATA: %w", err)
	}
	if err := endOfData(); err != nil {
		return "", fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", &commandError{command: "DATA", err: fmt.Errorf("end of DATA: %w", err)}
	}
	var reply string
	if dc, ok := w.(*smtp.DataCloser); ok {
		reply = dc.ServerResponse()
	}
	return reply, nil
}

// sendError adds the server address to err and makes 5xx replies
// permanent.
func (s *SMTP) sendError(ctx context.Context, err error) error {
	reply, isReply := errors.AsType[*textproto.Error](err)
	if ctx.Err() != nil && !isReply && !errors.Is(err, ctx.Err()) {
		// The i/o error is only how the cancellation showed.
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	err = fmt.Errorf("smtp %s: %w", s.addr, err)
	if isReply && reply.Code >= 500 && reply.Code < 600 {
		cmd, ok := errors.AsType[*commandError](err)
		return &PermanentError{Err: err, Recipient: ok && refusesAddress(cmd.command, reply)}
	}
	return err
}

// commandError is a failed MAIL FROM, RCPT TO or end of DATA: the last
// two may be about the recipient, and the first sent nothing.
type commandError struct {
	command string // "MAIL", "RCPT" or "DATA"
	err     error
}

func (e *commandError) Error() string { return e.err.Error() }

func (e *commandError) Unwrap() error { return e.err }

// refusesAddress tells whether a 5xx reply to a command says the
// recipient's address cannot receive mail: an enhanced status 5.1.x (bad
// mailbox, domain or address) or 5.2.1 (mailbox disabled), to RCPT TO or
// the end of DATA; without an enhanced status, 550, 551 or 553 to RCPT TO.
// Anything else (5.7.x policy, a message too big, a refused sender) is
// about the message or the sender, and must not block the address.
func refusesAddress(command string, reply *textproto.Error) bool {
	if command != "RCPT" && command != "DATA" {
		return false
	}
	if class, subject, detail, ok := enhancedStatus(reply.Msg); ok {
		sender := subject == 1 && (detail == 7 || detail == 8) // the sender's address, not the recipient's
		return class == 5 && ((subject == 1 && !sender) || (subject == 2 && detail == 1))
	}
	return command == "RCPT" && (reply.Code == 550 || reply.Code == 551 || reply.Code == 553)
}

// enhancedStatus reads the RFC 3463 status code ("5.1.1") that starts a
// reply's text, if it has one.
func enhancedStatus(msg string) (class, subject, detail int, ok bool) {
	code, _, _ := strings.Cut(strings.TrimSpace(msg), " ")
	parts := strings.Split(code, ".")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || len(p) > 3 {
			return 0, 0, 0, false
		}
		n[i] = v
	}
	return n[0], n[1], n[2], true
}

// acquire returns a connection ready for a mail transaction, and whether
// it was used before: an idle one if there is one, else a new one once
// fewer than MaxConns are open.
//
// An idle connection is not checked (RSET would cost a round trip per
// email); one that the server dropped fails at MAIL FROM, and Send tries
// again on a new connection. One idle for longer than maxIdle is
// replaced unused.
func (s *SMTP) acquire(ctx context.Context) (*smtpConn, bool, error) {
	if s.isClosed() {
		return nil, false, errClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	var c *smtpConn
	select {
	case c = <-s.idle: // preferred over dialing, which the select below might pick
	default:
		select {
		case c = <-s.idle:
		case s.open <- struct{}{}:
			c, err := s.dial(ctx)
			return c, false, err
		case <-ctx.Done():
			return nil, false, fmt.Errorf("waiting for a connection: %w", ctx.Err())
		}
	}
	if time.Since(c.lastUsed) < s.maxIdle {
		return c, true, nil
	}
	// Stale: replace it, keeping its token.
	c.netConn.Close()
	c, err := s.dial(ctx)
	return c, false, err
}

// redial opens a connection in place of one just closed, with its token.
func (s *SMTP) redial(ctx context.Context) (*smtpConn, bool, error) {
	c, err := s.dial(ctx)
	return c, false, err
}

// dial opens a connection for a token the caller took from s.open, and
// gives the token back when that fails.
func (s *SMTP) dial(ctx context.Context) (*smtpConn, error) {
	if s.isClosed() {
		<-s.open
		return nil, errClosed
	}
	c, err := s.dialConn(ctx)
	if err == nil && s.isClosed() {
		c.netConn.Close()
		err = errClosed
	}
	if err != nil {
		<-s.open
		return nil, err
	}
	return c, nil
}

func (s *SMTP) dialConn(ctx context.Context) (*smtpConn, error) {
	// go-mail does the protocol; dialing here keeps hold of the
	// connection, which go-mail leaves open when STARTTLS or AUTH fail,
	// and also joins host and port right for IPv6 addresses.
	var netConn net.Conn
	var stop func() bool
	dial := func(dialCtx context.Context, network, _ string) (net.Conn, error) {
		d := &net.Dialer{}
		var conn net.Conn
		var err error
		if s.url.implicitTLS {
			conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(dialCtx, network, s.addr)
		} else {
			conn, err = d.DialContext(dialCtx, network, s.addr)
		}
		if err != nil {
			return nil, err
		}
		netConn = conn
		// go-mail's context only covers dialing; the exchange after it
		// should end with ctx too.
		stop = context.AfterFunc(ctx, func() { spoilDeadline(conn) })
		return conn, nil
	}
	client, err := gomail.NewClient(s.url.host, s.clientOptions(dial)...)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c, err := client.DialToSMTPClientWithContext(ctx)
	interrupted := stop != nil && !stop()
	if err == nil && interrupted {
		err = ctx.Err()
	}
	if err != nil {
		if netConn != nil {
			netConn.Close()
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	return &smtpConn{client: c, netConn: netConn}, nil
}

// watch sets conn's deadline to timeout from now, or ctx's deadline if
// that is sooner, and moves it into the past when ctx is cancelled, so
// that a blocked read or write returns at once. stop reports false when
// that happened: the connection's deadline is spoiled then.
func watch(ctx context.Context, conn net.Conn, timeout time.Duration) (stop func() bool) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// SetDeadline fails only on a closed connection, which the next read
	// reports anyway.
	_ = conn.SetDeadline(deadline)
	return context.AfterFunc(ctx, func() { spoilDeadline(conn) })
}

func spoilDeadline(conn net.Conn) { _ = conn.SetDeadline(time.Unix(1, 0)) }

// release puts a healthy connection back for reuse.
func (s *SMTP) release(c *smtpConn) {
	c.lastUsed = time.Now()
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.idle <- c
	}
	s.mu.Unlock()
	if closed {
		s.quit(c)
	}
}

// discard closes a connection that must not be reused.
func (s *SMTP) discard(c *smtpConn) {
	c.netConn.Close()
	<-s.open
}

// quit says goodbye on an idle connection and closes it. Errors do not
// matter: the connection is gone either way.
func (s *SMTP) quit(c *smtpConn) {
	_ = c.netConn.SetDeadline(time.Now().Add(min(s.timeout, quitTimeout)))
	_ = c.client.Quit()
	s.discard(c)
}

func (s *SMTP) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close QUITs the idle connections. Sends still running close theirs when
// they finish; later Sends fail.
func (s *SMTP) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for {
		select {
		case c := <-s.idle:
			s.quit(c)
		default:
			return nil
		}
	}
}
