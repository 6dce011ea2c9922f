package mail

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// testRSAKey is generated once: 2048-bit keys take a while under -race.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
})

// lookupTXT answers DKIM key queries for name with record, as DNS would.
func lookupTXT(name, record string) func(string) ([]string, error) {
	return func(domain string) ([]string, error) {
		if domain != name {
			return nil, fmt.Errorf("no TXT record for %s", domain)
		}
		return []string{record}, nil
	}
}

// verifyDKIM verifies the one signature of msg against pub, published for
// selector "s1" of acme.example.
func verifyDKIM(t *testing.T, msg []byte, pub crypto.PublicKey) *dkim.Verification {
	t.Helper()
	var record string
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		record = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		record = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	verifications, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: lookupTXT("s1._domainkey.acme.example", record),
	})
	if err != nil || len(verifications) != 1 {
		t.Fatalf("verify: %v, %d signatures", err, len(verifications))
	}
	return verifications[0]
}

func TestSignDKIM(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"rsa": testRSAKey(), "ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			raw := testMessage("dkim")
			signed, err := SignDKIM(raw, DKIMConfig{Domain: "acme.example", Selector: "s1", Signer: key})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(signed, []byte("DKIM-Signature: ")) || !bytes.HasSuffix(signed, raw) {
				t.Fatalf("signed message is not raw with a DKIM-Signature prepended:\n%s", signed)
			}
			v := verifyDKIM(t, signed, key.Public())
			if v.Err != nil {
				t.Fatalf("signature does not verify: %v", v.Err)
			}
			want := []string{"from", "to", "subject", "date", "message-id", "mime-version", "content-type", "list-unsubscribe", "list-unsubscribe-post"}
			if !slices.Equal(v.HeaderKeys, want) {
				t.Errorf("signed headers %v, want %v (List-Id is absent)", v.HeaderKeys, want)
			}
			if !strings.Contains(string(signed), "c=relaxed/relaxed") {
				t.Errorf("signature does not use relaxed canonicalization: %s", signed)
			}

			tampered := bytes.Replace(signed, []byte("/unsubscribe/abc>"), []byte("/unsubscribe/xyz>"), 1)
			if v := verifyDKIM(t, tampered, key.Public()); v.Err == nil {
				t.Error("signature still verifies after List-Unsubscribe was changed")
			}
		})
	}

	if _, err := SignDKIM([]byte("To: ada@example.com\r\n\r\nhi\r\n"), DKIMConfig{Domain: "acme.example", Selector: "s1", Signer: edKey}); err == nil {
		t.Error("signed a message without From")
	}
}

func TestLoadDKIMKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, blockType string, der []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		data := []byte("garbage that is not PEM\n")
		if blockType != "" {
			data = pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pkcs8 := func(key any) []byte {
		t.Helper()
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	rsaKey := testRSAKey()
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		path string
		want crypto.Signer
	}{
		{"PKCS#1 RSA", write("pkcs1.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), rsaKey},
		{"PKCS#8 RSA", write("pkcs8-rsa.pem", "PRIVATE KEY", pkcs8(rsaKey)), rsaKey},
		{"PKCS#8 Ed25519", write("pkcs8-ed25519.pem", "PRIVATE KEY", pkcs8(edKey)), edKey},
	} {
		got, err := LoadDKIMKey(tc.path)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if eq, ok := got.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !eq.Equal(tc.want) {
			t.Errorf("%s: loaded a different key", tc.name)
		}
	}

	for _, tc := range []struct{ name, path, want string }{
		{"garbage", write("garbage.pem", "", nil), "no PEM block found"},
		{"EC key", write("ec.pem", "PRIVATE KEY", pkcs8(ecKey)), "unsupported key type *ecdsa.PrivateKey"},
		{"certificate", write("cert.pem", "CERTIFICATE", []byte{1}), `PEM block "CERTIFICATE"`},
		{"broken DER", write("broken.pem", "RSA PRIVATE KEY", []byte{1, 2, 3}), "broken.pem"},
		{"missing file", filepath.Join(dir, "missing.pem"), "no such file"},
	} {
		if _, err := LoadDKIMKey(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
