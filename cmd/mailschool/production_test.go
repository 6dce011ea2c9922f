package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestServeTLS: with a certificate and its key, serve answers HTTPS
// itself, links use https://, and the session cookie is Secure.
func TestServeTLS(t *testing.T) {
	cert, key := writeCertificate(t)
	env := map[string]string{"MAILSCHOOL_DATA_DIR": t.TempDir(), "MAILSCHOOL_TLS_CERT": cert, "MAILSCHOOL_TLS_KEY": key}
	base, stop := startServer(t, env)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base %s", base)
	}
	client := tlsClient(t, cert)
	res, err := client.PostForm(base+"/accounts/login/", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || res.TLS == nil {
		t.Errorf("login over TLS: %d, TLS %v", res.StatusCode, res.TLS != nil)
	}
	for _, c := range res.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s is not Secure over TLS", c.Name)
		}
	}
	// Plain HTTP to the TLS port is refused, not served.
	if res, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/accounts/login/"); err == nil {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "Log in") {
			t.Errorf("plain HTTP to the TLS port: %d", res.StatusCode)
		}
	}
	if out := stop(); !strings.Contains(out, "url=https://") || !strings.Contains(out, "tls=true") {
		t.Errorf("serve does not say it serves TLS at an https URL:\n%s", out)
	}
}

// TestServeLimitsFromSettings: a limit set by MAILSCHOOL_LIMIT_* takes
// effect, per client named by the trusted proxy of
// MAILSCHOOL_TRUSTED_PROXIES, on both databases.
func TestServeLimitsFromSettings(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			env := map[string]string{"MAILSCHOOL_DATA_DIR": t.TempDir(),
				"MAILSCHOOL_LIMIT_RESET_PER_IP": "2/1h", "MAILSCHOOL_TRUSTED_PROXIES": "127.0.0.1/32, ::1"}
			if db == "postgres" {
				env["MAILSCHOOL_DATABASE_URL"] = storetest.NewPostgresURL(t)
			}
			base, stop := startServer(t, env)
			defer stop()
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			reset := func(forwardedFor string) int {
				t.Helper()
				req, _ := http.NewRequest(http.MethodPost, base+"/accounts/password_reset/", strings.NewReader("email=someone%40example.com"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", forwardedFor)
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			for i := range 2 {
				if got := reset("203.0.113.1"); got != http.StatusSeeOther {
					t.Fatalf("request %d: %d, want 303", i+1, got)
				}
			}
			if got := reset("203.0.113.1"); got != http.StatusTooManyRequests {
				t.Errorf("third request with a limit of 2: %d, want 429", got)
			}
			if got := reset("203.0.113.2"); got != http.StatusSeeOther {
				t.Errorf("another client behind the proxy: %d, want 303", got)
			}
		})
	}
}

// writeCertificate writes a self-signed certificate for localhost and
// 127.0.0.1, and its key.
func writeCertificate(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// tlsClient trusts only the certificate in certFile.
func tlsClient(t *testing.T, certFile string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in " + certFile)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
