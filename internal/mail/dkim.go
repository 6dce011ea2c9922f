package mail

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/textproto"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMConfig says how outgoing messages are signed: the public key is
// published as a TXT record at <Selector>._domainkey.<Domain>.
type DKIMConfig struct {
	Domain   string
	Selector string
	Signer   crypto.Signer // *rsa.PrivateKey or ed25519.PrivateKey
}

// dkimHeaders are the header fields SignDKIM signs when present: those a
// recipient reads or acts on. RFC 8058 requires the one-click unsubscribe
// pair to be covered, or receivers ignore List-Unsubscribe-Post.
var dkimHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id",
}

// minRSABits is the smallest RSA key receivers accept (RFC 8301).
const minRSABits = 1024

// LoadDKIMKey reads a PEM private key file (PKCS#1 RSA, PKCS#8 RSA or Ed25519).
func LoadDKIMKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read DKIM key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("read DKIM key %s: no PEM block found", path)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("read DKIM key %s: PEM block %q: want \"PRIVATE KEY\" (PKCS#8) or \"RSA PRIVATE KEY\" (PKCS#1)", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("read DKIM key %s: %w", path, err)
	}
	switch key := key.(type) {
	case *rsa.PrivateKey:
		if bits := key.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("read DKIM key %s: RSA key has %d bits, receivers need at least %d (2048 recommended)", path, bits, minRSABits)
		}
		return key, nil
	case ed25519.PrivateKey:
		return key, nil
	default:
		return nil, fmt.Errorf("read DKIM key %s: unsupported key type %T: use RSA or Ed25519", path, key)
	}
}

// SignDKIM returns raw with a DKIM-Signature header prepended (relaxed/relaxed),
// signing From, To, Subject, Date, Message-ID, MIME-Version, Content-Type,
// List-Unsubscribe, List-Unsubscribe-Post and List-Id when present.
func SignDKIM(raw []byte, cfg DKIMConfig) ([]byte, error) {
	// Listing an absent field in h= would make the signature break if a
	// relay added it later, so only present fields are signed.
	header, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("dkim sign: read header: %w", err)
	}
	if header.Get("From") == "" {
		// DKIM signs on behalf of the From domain; dkim.Sign would sign
		// every field instead when the list below comes out empty.
		return nil, fmt.Errorf("dkim sign: message has no From header")
	}
	var keys []string
	for _, k := range dkimHeaders {
		if _, ok := header[textproto.CanonicalMIMEHeaderKey(k)]; ok {
			keys = append(keys, strings.ToLower(k))
		}
	}
	var signed bytes.Buffer
	signed.Grow(len(raw) + 1024)
	err = dkim.Sign(&signed, bytes.NewReader(raw), &dkim.SignOptions{
		Domain:                 cfg.Domain,
		Selector:               cfg.Selector,
		Signer:                 cfg.Signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		return nil, fmt.Errorf("dkim sign: %w", err)
	}
	return signed.Bytes(), nil
}
