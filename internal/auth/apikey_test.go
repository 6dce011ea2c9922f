package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/auth"
)

// TestAPIKeyFormat: a key given out parses back to its id and secret, and
// a changed character anywhere, a missing one or another prefix is
// refused by its shape or checksum.
func TestAPIKeyFormat(t *testing.T) {
	secret, hash, err := auth.NewAPIKeySecret()
	if err != nil {
		t.Fatal(err)
	}
	key := auth.FormatAPIKey(42, secret)
	if !strings.HasPrefix(key, "msk_42_") || len(key) != len("msk_42_")+49 {
		t.Fatalf("key %q", key)
	}
	id, got, err := auth.ParseAPIKey(key)
	if err != nil || id != 42 || got != secret || !auth.APIKeySecretMatches(got, hash) {
		t.Fatalf("ParseAPIKey(%q) = %d, %q, %v", key, id, got, err)
	}
	other, _, _ := auth.NewAPIKeySecret()
	if other == secret || auth.APIKeySecretMatches(other, hash) {
		t.Error("two secrets are the same, or another secret matches the hash")
	}
	for i := len("msk_"); i < len(key); i++ {
		b := []byte(key)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		if _, _, err := auth.ParseAPIKey(string(b)); !errors.Is(err, auth.ErrMalformedAPIKey) {
			t.Errorf("key with character %d changed: %v", i, err)
		}
	}
	for _, bad := range []string{"", key[:len(key)-1], "ghp_" + key[4:], key + "0", "msk_0_" + strings.Repeat("0", 49)} {
		if _, _, err := auth.ParseAPIKey(bad); !errors.Is(err, auth.ErrMalformedAPIKey) {
			t.Errorf("ParseAPIKey(%q): %v", bad, err)
		}
	}
}
