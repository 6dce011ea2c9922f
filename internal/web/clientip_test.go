package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestClientBehindProxies: the rightmost address that is not a trusted
// proxy is the client; headers from other peers, and malformed ones, are
// ignored.
func TestClientBehindProxies(t *testing.T) {
	proxies := trustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("127.0.0.1/32")}
	for _, tc := range []struct {
		name    string
		peer    string
		headers []string // names and values
		want    string
	}{
		{"no header", "10.0.0.1:5000", nil, "10.0.0.1"},
		{"untrusted peer", "198.51.100.1:5000", []string{"X-Forwarded-For", "203.0.113.9"}, "198.51.100.1"},
		{"untrusted peer, Forwarded", "198.51.100.1:5000", []string{"Forwarded", "for=203.0.113.9"}, "198.51.100.1"},
		{"one proxy", "10.0.0.1:5000", []string{"X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
		{"two proxies", "10.0.0.1:5000", []string{"X-Forwarded-For", "203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"a client's own header is to the left", "10.0.0.1:5000", []string{"X-Forwarded-For", "192.0.2.66, 203.0.113.9"}, "203.0.113.9"},
		{"a client claiming to be a proxy", "10.0.0.1:5000", []string{"X-Forwarded-For", "10.9.9.9, 203.0.113.9"}, "203.0.113.9"},
		{"every hop trusted", "10.0.0.1:5000", []string{"X-Forwarded-For", "10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"several header lines", "10.0.0.1:5000", []string{"X-Forwarded-For", "192.0.2.66", "X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
		{"IPv4 with a port", "10.0.0.1:5000", []string{"X-Forwarded-For", "203.0.113.9:4711"}, "203.0.113.9"},
		{"IPv6", "10.0.0.1:5000", []string{"X-Forwarded-For", "2001:db8::17"}, "2001:db8::17"},
		{"IPv6 bracketed with a port", "10.0.0.1:5000", []string{"X-Forwarded-For", "[2001:db8::17]:4711"}, "2001:db8::17"},
		{"IPv4-mapped IPv6", "10.0.0.1:5000", []string{"X-Forwarded-For", "::ffff:203.0.113.9"}, "203.0.113.9"},
		{"IPv6 proxy", "[fd00::1]:5000", []string{"X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
		{"unknown: the proxy that said so", "10.0.0.1:5000", []string{"X-Forwarded-For", "unknown, 10.0.0.2"}, "10.0.0.2"},
		{"garbage", "10.0.0.1:5000", []string{"X-Forwarded-For", "203.0.113.9, not-an-address"}, "10.0.0.1"},
		{"empty item", "10.0.0.1:5000", []string{"X-Forwarded-For", "203.0.113.9,,"}, "10.0.0.1"},
		{"zone", "10.0.0.1:5000", []string{"X-Forwarded-For", "fe80::1%eth0"}, "10.0.0.1"},
		{"empty", "10.0.0.1:5000", []string{"X-Forwarded-For", ""}, "10.0.0.1"},

		{"Forwarded", "10.0.0.1:5000", []string{"Forwarded", "for=203.0.113.9;proto=https;by=10.0.0.1"}, "203.0.113.9"},
		{"Forwarded, case and spaces", "10.0.0.1:5000", []string{"Forwarded", "For=192.0.2.66 , FOR=203.0.113.9 ;Proto=https"}, "203.0.113.9"},
		{"Forwarded, two proxies", "10.0.0.1:5000", []string{"Forwarded", `for=192.0.2.66, for=203.0.113.9, for="10.0.0.2"`}, "203.0.113.9"},
		{"Forwarded, quoted IPv6 with a port", "10.0.0.1:5000", []string{"Forwarded", `for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"Forwarded, quoted IPv4 with a port", "10.0.0.1:5000", []string{"Forwarded", `for="203.0.113.9:4711"`}, "203.0.113.9"},
		{"Forwarded, obfuscated port", "10.0.0.1:5000", []string{"Forwarded", `for="[2001:db8::1]:_abc"`}, "2001:db8::1"},
		{"Forwarded, obfuscated identifier", "10.0.0.1:5000", []string{"Forwarded", "for=_hidden, for=10.0.0.2"}, "10.0.0.2"},
		{"Forwarded, obfuscated identifier from the peer", "10.0.0.1:5000", []string{"Forwarded", "for=_hidden"}, "10.0.0.1"},
		{"Forwarded, unknown", "10.0.0.1:5000", []string{"Forwarded", "for=unknown"}, "10.0.0.1"},
		{"Forwarded, no for", "10.0.0.1:5000", []string{"Forwarded", "proto=https;by=10.0.0.1"}, "10.0.0.1"},
		{"Forwarded wins over X-Forwarded-For", "10.0.0.1:5000", []string{"Forwarded", "for=203.0.113.9", "X-Forwarded-For", "192.0.2.66"}, "203.0.113.9"},
		{"Forwarded, escaped quote", "10.0.0.1:5000", []string{"Forwarded", `by="a\"b";for=203.0.113.9`}, "203.0.113.9"},
		{"Forwarded, unquoted IPv6 with a port", "10.0.0.1:5000", []string{"Forwarded", "for=[2001:db8::1]:80"}, "10.0.0.1"},
		{"Forwarded, unterminated quote", "10.0.0.1:5000", []string{"Forwarded", `for="203.0.113.9`}, "10.0.0.1"},
		{"Forwarded, two for", "10.0.0.1:5000", []string{"Forwarded", "for=203.0.113.9;for=192.0.2.66"}, "10.0.0.1"},
		{"Forwarded, no value", "10.0.0.1:5000", []string{"Forwarded", "for"}, "10.0.0.1"},
		{"Forwarded, trailing comma", "10.0.0.1:5000", []string{"Forwarded", "for=203.0.113.9,"}, "10.0.0.1"},
		{"Forwarded, bad identifier", "10.0.0.1:5000", []string{"Forwarded", `for="_a b"`}, "10.0.0.1"},
		{"Forwarded, empty", "10.0.0.1:5000", []string{"Forwarded", ""}, "10.0.0.1"},
		{"Forwarded, only a quote", "10.0.0.1:5000", []string{"Forwarded", `"`}, "10.0.0.1"},
		{"Forwarded, for= empty", "10.0.0.1:5000", []string{"Forwarded", `for=""`}, "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for i := 0; i+1 < len(tc.headers); i += 2 {
				r.Header.Add(tc.headers[i], tc.headers[i+1])
			}
			if got := proxies.client(r); got != tc.want {
				t.Errorf("client = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzClientBehindProxies: no header makes the parsing panic, and the
// answer is always an address.
func FuzzClientBehindProxies(f *testing.F) {
	for _, s := range []string{`for=192.0.2.1;proto=http, for="[2001:db8::1]:80"`, "for=_x", `for="\`, "192.0.2.1, unknown", ",;=\""} {
		f.Add(s, s)
	}
	proxies := trustedProxies{netip.MustParsePrefix("0.0.0.0/0")}
	f.Fuzz(func(t *testing.T, forwarded, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.1:5000"
		r.Header.Set("Forwarded", forwarded)
		r.Header.Set("X-Forwarded-For", xff)
		if _, err := netip.ParseAddr(proxies.client(r)); err != nil {
			t.Errorf("client of %q, %q is not an address: %v", forwarded, xff, err)
		}
		r.Header.Del("Forwarded")
		if _, err := netip.ParseAddr(proxies.client(r)); err != nil {
			t.Errorf("client of %q is not an address: %v", xff, err)
		}
	})
}

// TestTrustedProxyHeaders: behind a trusted proxy, each client counts
// against the limits on its own, so one client's failed logins do not
// refuse another's; a peer that is not trusted is counted by its own
// address whatever header it sends.
func TestTrustedProxyHeaders(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		o.LoginPerIP = auth.Limit{Every: time.Hour, Burst: 3}
	})
	right := url.Values{"email": {adminEmail}, "password": {adminPassword}}
	wrong := url.Values{"email": {"someone@example.com"}, "password": {"wrong password"}}
	proxy := app.clientAt("127.0.0.1")
	for i := range 3 {
		if res := proxy.post("/accounts/login/", wrong, "X-Forwarded-For", "203.0.113.1"); res.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d of the first client: %d, want 401", i+1, res.status)
		}
	}
	if res := proxy.post("/accounts/login/", wrong, "X-Forwarded-For", "203.0.113.1"); res.status != http.StatusTooManyRequests {
		t.Errorf("the first client over its limit: %d, want 429", res.status)
	}
	// What the client wrote itself is to the left of what the proxy adds.
	if res := proxy.post("/accounts/login/", wrong, "X-Forwarded-For", "192.0.2.1, 203.0.113.1"); res.status != http.StatusTooManyRequests {
		t.Errorf("the first client with a header of its own: %d, want 429", res.status)
	}
	if res := proxy.post("/accounts/login/", right, "Forwarded", `for=203.0.113.2;proto=https`); res.status != http.StatusSeeOther {
		t.Errorf("another client's right password through the same proxy: %d, want 303", res.status)
	}

	// A peer that is not a trusted proxy is its own client, whatever it
	// claims.
	direct := app.clientAt("127.0.0.2")
	for i := range 3 {
		if res := direct.post("/accounts/login/", wrong, "X-Forwarded-For", "198.51.100."+string(rune('1'+i))); res.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d from an untrusted peer: %d, want 401", i+1, res.status)
		}
	}
	if res := direct.post("/accounts/login/", right, "X-Forwarded-For", "198.51.100.9", "Forwarded", "for=198.51.100.9"); res.status != http.StatusTooManyRequests {
		t.Errorf("an untrusted peer with a new forwarded address: %d, want 429: its headers must be ignored", res.status)
	}
}

// TestLimitsSharedAcrossNodes: on PostgreSQL two nodes count against one
// limit, so a client cannot get more by reaching another node.
func TestLimitsSharedAcrossNodes(t *testing.T) {
	db := storetest.NewPostgres(t)
	limit := func(o *Options) { o.ResetPerIP = auth.Limit{Every: time.Hour, Burst: 2} }
	first := newTestApp(t, db, limit)
	second := newTestNode(t, db, limit)
	request := url.Values{"email": {"someone@example.com"}}
	for i, node := range []*testApp{first, second} {
		if res := node.client().post("/accounts/password_reset/", request); res.status != http.StatusSeeOther {
			t.Fatalf("request %d: %d, want 303", i+1, res.status)
		}
	}
	for i, node := range []*testApp{first, second} {
		if res := node.client().post("/accounts/password_reset/", request); res.status != http.StatusTooManyRequests {
			t.Errorf("request over the limit to node %d: %d, want 429", i+1, res.status)
		}
	}
}

// newTestNode is another node serving db, which an app made by
// newTestApp already serves (and works the jobs of).
func newTestNode(t *testing.T, db *store.DB, customize ...func(*Options)) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	opts := Options{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "test",
		BaseURL: "http://" + srv.Listener.Addr().String(), SecretKey: testSecretKey}
	for _, c := range customize {
		c(&opts)
	}
	opts.Mail = newMailer(t, opts, mail.Outbox{}, "outbox")
	handler, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = handler
	srv.Start()
	t.Cleanup(srv.Close)
	return &testApp{t: t, db: db, srv: srv}
}
