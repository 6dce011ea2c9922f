package web

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// trustedProxies are the peers whose Forwarded and X-Forwarded-For
// headers are believed (Options.TrustedProxies).
type trustedProxies []netip.Prefix

func (p trustedProxies) trusts(a netip.Addr) bool {
	for _, r := range p {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

type clientIPKey struct{}

// findClient puts the client's address in the request's context, for
// clientIP, before anything else looks at the request.
func (s *Server) findClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.proxies) > 0 {
			r = r.WithContext(context.WithValue(r.Context(), clientIPKey{}, s.proxies.client(r)))
		}
		next.ServeHTTP(w, r)
	})
}

// clientIP is the address the request came from: the peer's, or when
// the peer is a trusted proxy, the one its headers name (see
// trustedProxies.client). Without trusted proxies, headers are not
// read: anyone can send them.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return peerIP(r)
}

// peerIP is the address of the other end of the connection.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// client finds the client's address behind trusted proxies. Each proxy
// appends the address it got the request from to the Forwarded header
// (RFC 7239), or else X-Forwarded-For; reading them from the right, the
// first address that is not a trusted proxy is the client, since a
// client can write anything to the left of what its first proxy adds.
// Forwarded wins when both are sent. A hop that does not give an address
// ("unknown", an obfuscated "_name") stands for the proxy that reported
// it. A malformed header is ignored: the peer is the client.
func (p trustedProxies) client(r *http.Request) string {
	peer := peerIP(r)
	addr, err := netip.ParseAddr(peer)
	if err != nil || !p.trusts(addr.Unmap()) {
		return peer
	}
	var hops []hop
	var ok bool
	if values := r.Header.Values("Forwarded"); len(values) > 0 {
		hops, ok = parseForwarded(strings.Join(values, ","))
	} else if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
		hops, ok = parseXForwardedFor(strings.Join(values, ","))
	}
	if !ok {
		return peer
	}
	client := addr.Unmap()
	for i := len(hops) - 1; i >= 0; i-- {
		h := hops[i]
		if !h.known {
			break
		}
		client = h.addr
		if !p.trusts(client) {
			break
		}
	}
	return client.String()
}

// hop is one address a proxy recorded; known is false for "unknown" and
// obfuscated identifiers.
type hop struct {
	addr  netip.Addr
	known bool
}

// parseNode reads a node as proxies write it: an IPv4 address or an
// IPv6 one, bracketed or not, either with an optional port; "unknown";
// or an obfuscated identifier ("_" and letters, digits, ".", "_", "-").
func parseNode(s string) (hop, bool) {
	if s == "unknown" {
		return hop{}, true
	}
	if strings.HasPrefix(s, "_") {
		for _, c := range s[1:] {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return hop{}, false
			}
		}
		return hop{}, len(s) > 1
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return hop{addr: a.Unmap(), known: true}, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return hop{addr: ap.Addr().Unmap(), known: true}, true
	}
	// RFC 7239 allows obfuscated ports too: "[2001:db8::1]:_abc".
	if host, port, err := net.SplitHostPort(s); err == nil && strings.HasPrefix(port, "_") {
		if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
			return hop{addr: a.Unmap(), known: true}, true
		}
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil && a.Is6() && a.Zone() == "" {
				return hop{addr: a.Unmap(), known: true}, true
			}
		}
	}
	return hop{}, false
}

// parseXForwardedFor reads "client, proxy1, proxy2".
func parseXForwardedFor(v string) ([]hop, bool) {
	var hops []hop
	for item := range strings.SplitSeq(v, ",") {
		h, ok := parseNode(strings.TrimSpace(item))
		if !ok {
			return nil, false
		}
		hops = append(hops, h)
	}
	return hops, true
}

// parseForwarded reads the for= parameters of a Forwarded header:
// elements separated by commas, each of parameters separated by
// semicolons, each token=token or token="quoted string". An element
// without for= is a hop with no address.
func parseForwarded(v string) ([]hop, bool) {
	var hops []hop
	h, haveFor := hop{}, false
	i := 0
	for {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		// A parameter name.
		start := i
		for i < len(v) && isToken(v[i]) {
			i++
		}
		name := strings.ToLower(v[start:i])
		if name == "" || i >= len(v) || v[i] != '=' {
			return nil, false
		}
		i++
		var value string
		if i < len(v) && v[i] == '"' {
			var b strings.Builder
			i++
			for ; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			if i >= len(v) {
				return nil, false // no closing quote
			}
			i++
			value = b.String()
		} else {
			start := i
			for i < len(v) && isToken(v[i]) {
				i++
			}
			value = v[start:i]
		}
		if name == "for" {
			if haveFor {
				return nil, false
			}
			var ok bool
			if h, ok = parseNode(value); !ok {
				return nil, false
			}
			haveFor = true
		}
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		switch {
		case i >= len(v) || v[i] == ',':
			hops = append(hops, h)
			h, haveFor = hop{}, false
			if i >= len(v) {
				return hops, true
			}
		case v[i] == ';':
		default:
			return nil, false
		}
		i++
	}
}

// isToken reports whether c may appear in an HTTP token (RFC 9110).
func isToken(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
