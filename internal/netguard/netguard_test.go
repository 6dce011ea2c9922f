package netguard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/netguard"
)

// fakeResolver answers from a table; rebind, when set, answers instead
// from the second lookup of a name on, as a rebinding DNS server would.
type fakeResolver struct {
	names   map[string][]netip.Addr
	rebind  map[string][]netip.Addr
	lookups atomic.Int32
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if r.lookups.Add(1) > 1 && r.rebind[host] != nil {
		return r.rebind[host], nil
	}
	if a, ok := r.names[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}

func addrs(s ...string) []netip.Addr {
	var list []netip.Addr
	for _, a := range s {
		list = append(list, netip.MustParseAddr(a))
	}
	return list
}

var public = "93.184.215.14"

func newResolver() *fakeResolver {
	return &fakeResolver{names: map[string][]netip.Addr{
		"hooks.example":    addrs(public, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
		"internal.example": addrs("10.0.0.1"),
		"mixed.example":    addrs(public, "192.168.1.5"),
		"meta.example":     addrs("169.254.169.254"),
	}}
}

// CheckURL refuses every URL whose host is, or resolves to, an address
// that is not public, and accepts public https URLs.
func TestCheckURL(t *testing.T) {
	g := netguard.New(netguard.Options{Resolver: newResolver()})
	ctx := context.Background()
	for _, raw := range []string{
		"https://hooks.example/in",
		"https://hooks.example:8443/in?x=1",
		"https://" + public + "/in",
	} {
		if err := g.CheckURL(ctx, raw); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", raw, err)
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"http://127.0.0.1/", "127.0.0.1 is a loopback"},
		{"https://127.0.0.1/", "127.0.0.1 is a loopback"},
		{"https://127.1.2.3:8080/", "loopback"},
		{"http://[::1]/", "::1 is a loopback"},
		{"https://[::1]:443/", "::1 is a loopback"},
		{"http://169.254.169.254/latest/meta-data/", "cloud metadata"},
		{"https://[fd00:ec2::254]/", "cloud metadata"},
		{"https://[::ffff:127.0.0.1]/", "loopback"},
		{"https://[::ffff:a9fe:a9fe]/", "cloud metadata"},
		{"https://[64:ff9b::a00:1]/", "private"},
		{"https://internal.example/", "internal.example leads to a loopback, private"},
		{"https://mixed.example/", "mixed.example leads to a loopback, private"},
		{"https://[2002:a9fe:a9fe::1]/", "reserved"},                    // 6to4 of the metadata address
		{"https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "reserved"}, // Teredo
		{"https://meta.example/", "cloud metadata"},
		{"https://10.1.2.3/", "private"},
		{"https://172.16.0.1/", "private"},
		{"https://192.168.0.1/", "private"},
		{"https://100.64.0.1/", "reserved"},
		{"https://0.0.0.0/", "reserved"},
		{"https://[::]/", "reserved"},
		{"https://224.0.0.1/", "reserved"},
		{"https://255.255.255.255/", "reserved"},
		{"https://[fe80::1]/", "link-local"},
		{"https://[fc00::1]/", "private"},
		{"https://[ff02::1]/", "reserved"},
		{"http://hooks.example/in", "Use an https:// URL"},
		{"ftp://hooks.example/in", "Enter an https:// URL"},
		{"hooks.example/in", "absolute URL"},
		{"https://user:pass@hooks.example/in", "user name and password"},
		{"https://nowhere.example/", "could not be found"},
	} {
		err := g.CheckURL(ctx, tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckURL(%q) = %v, want an error saying %q", tc.url, err, tc.want)
		}
		// A name's addresses are the platform's business, not the
		// organization admin's.
		if err != nil && (strings.Contains(err.Error(), "10.0.0.1") || strings.Contains(err.Error(), "192.168.1.5")) {
			t.Errorf("CheckURL(%q) tells the address: %v", tc.url, err)
		}
	}
}

// An allowed range may be reached, over plain http too; the metadata
// address stays refused inside it.
func TestCheckURLAllowedNetworks(t *testing.T) {
	g := netguard.New(netguard.Options{Resolver: newResolver(), Allowed: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("127.0.0.0/8")}})
	ctx := context.Background()
	for _, raw := range []string{"http://internal.example/", "https://10.9.9.9/", "http://127.0.0.1:9000/", "http://[::ffff:127.0.0.1]/", "http://169.254.1.1/"} {
		if err := g.CheckURL(ctx, raw); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", raw, err)
		}
	}
	for _, raw := range []string{"http://169.254.169.254/", "http://meta.example/", "https://192.168.0.1/", "http://mixed.example/"} {
		if err := g.CheckURL(ctx, raw); !errors.Is(err, netguard.ErrRefused) {
			t.Errorf("CheckURL(%q) = %v, want refused", raw, err)
		}
	}
}

// The client refuses to connect to a forbidden address, whatever the URL
// looked like when it was checked: a name that resolves to a public
// address first and to loopback when the request is made is refused.
func TestClientRefusesAtConnectionTime(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	r := newResolver()
	r.names["rebind.example"] = addrs(public)
	r.rebind = map[string][]netip.Addr{"rebind.example": addrs("127.0.0.1")}
	g := netguard.New(netguard.Options{Resolver: r})
	ctx := context.Background()
	if err := g.CheckURL(ctx, fmt.Sprintf("https://rebind.example:%d/", port)); err != nil {
		t.Fatalf("CheckURL before rebinding: %v", err)
	}
	client := g.Client(2 * time.Second)
	for _, url := range []string{
		fmt.Sprintf("https://rebind.example:%d/", port),
		fmt.Sprintf("http://127.0.0.1:%d/", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port),
		fmt.Sprintf("http://internal.example:%d/", port),
		"http://169.254.169.254/latest/meta-data/",
	} {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s answered %s, want the connection refused", url, resp.Status)
			continue
		}
		if !errors.Is(err, netguard.ErrRefused) {
			t.Errorf("GET %s: %v, want netguard.ErrRefused", url, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the local server got %d requests, want none", n)
	}
}

// A redirect is not followed, not even to a public address: the 3xx answer
// is the result, and the private address it points to is never asked.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	var inner atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/private", http.StatusFound)
	}))
	defer redirect.Close()
	g := netguard.New(netguard.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	resp, err := g.Client(2*time.Second).Post(redirect.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want the 302 itself", resp.StatusCode)
	}
	if inner.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

// An allowed range is reached over plain http and, with its certificate
// trusted, https; the environment's proxy is not used.
func TestClientReachesAllowedNetworks(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://192.0.2.1:3128")
	t.Setenv("HTTP_PROXY", "http://192.0.2.1:3128")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	plain := httptest.NewServer(ok)
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(ok)
	defer tlsSrv.Close()
	g := netguard.New(netguard.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, RootCAs: tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs})
	for _, url := range []string{plain.URL, tlsSrv.URL} {
		resp, err := g.Client(2 * time.Second).Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("GET %s: %d", url, resp.StatusCode)
		}
	}
	// Without the certificate trusted, TLS is verified and fails.
	untrusting := netguard.New(netguard.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if resp, err := untrusting.Client(2 * time.Second).Get(tlsSrv.URL); err == nil {
		resp.Body.Close()
		t.Error("an untrusted certificate was accepted")
	}
}
