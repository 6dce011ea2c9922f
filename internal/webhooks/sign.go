package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signing follows the Standard Webhooks specification
// (https://www.standardwebhooks.com), so that a receiver can check
// requests with its published libraries: the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", the key is the base64 part of
// the secret after "whsec_", and the signature is "v1," and the base64 of
// its HMAC-SHA256. The webhook-signature header lists one or more of
// them, separated by spaces.

// SecretPrefix starts every endpoint secret.
const SecretPrefix = "whsec_"

// Headers of a signed request.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Tolerance is how far a request's timestamp may be from the receiver's
// clock, either way, for Verify to accept it, as the specification's
// libraries do: an older request may be a replay.
const Tolerance = 5 * time.Minute

// secretKey decodes a "whsec_<base64>" secret into its key.
func secretKey(secret string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhook secret does not start with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("webhook secret is not %s and base64", SecretPrefix)
	}
	return key, nil
}

// Sign returns the signature of a message, "v1,<base64>", with a secret
// "whsec_<base64>".
func Sign(secret string, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignatureHeader is the webhook-signature header of a message: its
// signature with each secret given, separated by spaces. After a rotation
// both the new secret and the previous one sign, so that a receiver still
// holding the old one goes on accepting requests meanwhile.
func SignatureHeader(msgID string, ts time.Time, body []byte, secrets ...string) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, ts, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// Errors of Verify.
var (
	ErrMissingHeaders   = errors.New("webhook headers missing")
	ErrTimestampInvalid = errors.New("webhook timestamp invalid")
	ErrTimestampTooOld  = errors.New("webhook timestamp too old")
	ErrTimestampTooNew  = errors.New("webhook timestamp too new")
	ErrNoMatch          = errors.New("no matching webhook signature")
)

// Verify checks a received request as the Standard Webhooks libraries do:
// its three headers present, its timestamp within Tolerance of now, and
// one of the signatures listed (any version other than v1 skipped)
// matching the body signed with secret.
func Verify(secret string, header http.Header, body []byte, now time.Time) error {
	id, tsText, sigs := header.Get(HeaderID), header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrTimestampInvalid
	}
	ts := time.Unix(unix, 0)
	if now.Sub(ts) > Tolerance {
		return ErrTimestampTooOld
	}
	if ts.Sub(now) > Tolerance {
		return ErrTimestampTooNew
	}
	want, err := Sign(secret, id, ts, body)
	if err != nil {
		return err
	}
	for _, sig := range strings.Split(sigs, " ") {
		version, _, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrNoMatch
}
