package auth

import "testing"

func TestNewToken(t *testing.T) {
	a, hashA := NewToken()
	b, _ := NewToken()
	if len(a) != 43 {
		t.Errorf("token %q has %d characters, want 43 (256 bits, base64url)", a, len(a))
	}
	if a == b {
		t.Error("two tokens are equal")
	}
	if hashA != HashToken(a) || hashA == a || len(hashA) != 64 {
		t.Errorf("hash %q does not match token %q", hashA, a)
	}
	if HashToken(a+"x") == hashA {
		t.Error("a changed token has the same hash")
	}
}
