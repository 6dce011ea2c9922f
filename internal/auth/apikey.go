package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"strconv"
	"strings"
)

// API keys look like msk_<id>_<secret><checksum>: a prefix that secret
// scanners recognize, the key's id, 256 random bits in base62 (43
// characters) and a CRC32 of everything before it in base62 (6
// characters), so that a mistyped or truncated key is told apart without
// a database lookup, as GitHub's tokens do.
const (
	APIKeyPrefix      = "msk_"
	apiKeySecretLen   = 43
	apiKeyChecksumLen = 6
)

// ErrMalformedAPIKey is a key whose shape or checksum is wrong.
var ErrMalformedAPIKey = errors.New("malformed API key")

// NewAPIKeySecret returns a fresh secret for a key and the hash to store.
func NewAPIKeySecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("API key secret: %w", err)
	}
	secret = base62(b, apiKeySecretLen)
	return secret, HashAPIKeySecret(secret), nil
}

// FormatAPIKey is the key given out for key id with secret.
func FormatAPIKey(id int64, secret string) string {
	body := APIKeyPrefix + strconv.FormatInt(id, 10) + "_" + secret
	return body + apiKeyChecksum(body)
}

// ParseAPIKey takes a key apart: its id and secret, or ErrMalformedAPIKey.
func ParseAPIKey(key string) (id int64, secret string, err error) {
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	if !ok {
		return 0, "", ErrMalformedAPIKey
	}
	idText, tail, ok := strings.Cut(rest, "_")
	if !ok || len(tail) != apiKeySecretLen+apiKeyChecksumLen {
		return 0, "", ErrMalformedAPIKey
	}
	id, err = strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != idText {
		return 0, "", ErrMalformedAPIKey
	}
	secret, sum := tail[:apiKeySecretLen], tail[apiKeySecretLen:]
	if subtle.ConstantTimeCompare([]byte(sum), []byte(apiKeyChecksum(key[:len(key)-apiKeyChecksumLen]))) != 1 {
		return 0, "", ErrMalformedAPIKey
	}
	return id, secret, nil
}

// HashAPIKeySecret is the stored form of a secret: its SHA-256, which is
// enough for 256 random bits (no password to guess).
func HashAPIKeySecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// APIKeySecretMatches compares a secret with a stored hash in constant
// time.
func APIKeySecretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashAPIKeySecret(secret)), []byte(hash)) == 1
}

func apiKeyChecksum(body string) string {
	sum := crc32.ChecksumIEEE([]byte(body))
	return base62([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}, apiKeyChecksumLen)
}

// base62 writes b as a base62 number of exactly n digits (zero-padded).
func base62(b []byte, n int) string {
	s := new(big.Int).SetBytes(b).Text(62)
	return strings.Repeat("0", n-len(s)) + s
}
