// Package netguard keeps outgoing requests that a user chose the target of
// (webhooks) away from the server's own network: loopback, private,
// link-local and multicast addresses, and the cloud metadata address, are
// refused unless an install allows some private ranges.
//
// The check that counts is made when a connection is dialled, on the
// address actually dialled, so a name that resolves to a public address
// when the URL is saved and to a private one later (DNS rebinding) is
// still refused. CheckURL makes the same check early, to answer the person
// saving the URL.
package netguard

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Resolver finds the addresses of a host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure a Guard.
type Options struct {
	// Allowed are private ranges that may be reached anyway, over plain
	// HTTP too (MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS). The metadata
	// addresses stay refused whatever is allowed.
	Allowed []netip.Prefix
	// Resolver finds host names' addresses; nil: the system's.
	Resolver Resolver
	// RootCAs are the certificates a server's is checked against; nil:
	// the system's. Tests add their local receiver's.
	RootCAs *x509.CertPool
}

// Guard decides which addresses outgoing requests may reach.
type Guard struct {
	allowed  []netip.Prefix
	resolver Resolver
	rootCAs  *x509.CertPool
}

// New returns a guard.
func New(opts Options) *Guard {
	g := &Guard{allowed: opts.Allowed, resolver: opts.Resolver, rootCAs: opts.RootCAs}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	return g
}

// ErrRefused is wrapped by every error of a connection or URL the guard
// refuses.
var ErrRefused = errors.New("address refused")

// RefusedError is a refused address, with a plain sentence saying why.
type RefusedError struct {
	Addr    netip.Addr
	Message string
}

func (e *RefusedError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// metadata are the cloud providers' instance metadata addresses, refused
// even inside an allowed range: they hand out the server's credentials.
var metadata = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack...
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
	netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// forbidden are the ranges that are not the public internet, beyond what
// netip.Addr's own predicates (loopback, private, link-local, multicast,
// unspecified) cover.
var forbidden = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT, also cloud-internal
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("100::/64"),       // discard
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("2001:10::/28"),   // ORCHID
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4, which carries an IPv4 address of any kind
	netip.MustParsePrefix("2001::/32"),      // Teredo, likewise
	netip.MustParsePrefix("ff00::/8"),       // multicast, whatever the scope
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("255.255.255.255/32"),
}

// nat64 holds IPv4 addresses in its last 32 bits: the IPv4 address is
// what is reached, and is checked.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Allowed reports whether a connection to addr may be made, and if not,
// what addr is, as a phrase ("a cloud metadata address").
func (g *Guard) Allowed(addr netip.Addr) (bool, string) {
	addr = addr.WithZone("")
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	if nat64.Contains(addr) {
		b := addr.As16()
		addr = netip.AddrFrom4([4]byte(b[12:16]))
	}
	for _, m := range metadata {
		if addr == m {
			return false, "a cloud metadata address"
		}
	}
	if g.inAllowed(addr) {
		return true, ""
	}
	public := addr.IsValid() && !addr.IsLoopback() && !addr.IsPrivate() && !addr.IsLinkLocalUnicast() &&
		!addr.IsLinkLocalMulticast() && !addr.IsMulticast() && !addr.IsInterfaceLocalMulticast() && !addr.IsUnspecified()
	for _, p := range forbidden {
		if p.Contains(addr) {
			public = false
		}
	}
	if !public {
		return false, "a loopback, private, link-local or reserved address"
	}
	return true, ""
}

func (g *Guard) inAllowed(addr netip.Addr) bool {
	for _, p := range g.allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// check returns the error for a refused address, or nil. plainHTTP
// further asks that addr be in an allowed range. host is the name that
// resolved to addr, or "" for a literal address.
func (g *Guard) check(addr netip.Addr, host string, plainHTTP bool) error {
	// A name's address stays unsaid: the message goes to an
	// organization's admins, who need not learn the platform's network.
	what := addr.String() + " is"
	if host != "" && host != addr.String() {
		what = host + " leads to"
	}
	if ok, kind := g.Allowed(addr); !ok {
		return &RefusedError{Addr: addr, Message: fmt.Sprintf("%s %s; webhooks go only to public addresses.", what, kind)}
	}
	if plainHTTP && !g.inAllowed(addr.Unmap()) {
		return &RefusedError{Addr: addr, Message: "Use an https:// URL: plain http is allowed only inside the networks this server allows."}
	}
	return nil
}

// CheckURL tells whether url may be a webhook's target: an absolute
// https URL (http only when every address of its host is in an allowed
// range) without a user name or password, whose host resolves only to
// addresses that may be reached. Its errors are sentences to show the
// person who entered the URL.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("Enter an absolute URL, such as https://example.com/webhooks.")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("Enter an https:// URL.")
	}
	if u.User != nil {
		return errors.New("Leave the user name and password out of the URL: each request is signed instead.")
	}
	host := u.Hostname()
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := g.check(a, host, u.Scheme == "http"); err != nil {
			return err
		}
	}
	return nil
}

// lookup returns host's addresses: the address itself for a literal one.
func (g *Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("The host %s could not be found.", host)
	}
	return addrs, nil
}

// plainHTTPKey marks a request's context when its URL is http, so that
// its connection must go to an allowed range.
type plainHTTPKey struct{}

// Client returns an HTTP client whose every connection goes through the
// guard: each address dialled is checked, redirects are not followed
// (the 3xx answer is the result), no proxy from the environment is used,
// and the server's certificate is verified. timeout bounds each request,
// the answer's body included.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           g.dial,
		TLSClientConfig:       &tls.Config{RootCAs: g.rootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: markPlainHTTP{transport},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

type markPlainHTTP struct{ next *http.Transport }

func (m markPlainHTTP) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" {
		r = r.WithContext(context.WithValue(r.Context(), plainHTTPKey{}, true))
	}
	return m.next.RoundTrip(r)
}

// dial resolves the host itself and dials its allowed addresses in turn;
// the dialer's Control checks again the address each socket connects to.
func (g *Guard) dial(ctx context.Context, network, address string) (net.Conn, error) {
	plain, _ := ctx.Value(plainHTTPKey{}).(bool)
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, hostport string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(hostport)
		if err != nil {
			return fmt.Errorf("dial %s: %w", hostport, err)
		}
		return g.check(ap.Addr(), "", plain)
	}}
	var errs []error
	for _, a := range addrs {
		if err := g.check(a, host, plain); err != nil {
			errs = append(errs, fmt.Errorf("dial %s: %w", host, err))
			continue
		}
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
