package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/problem"
)

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		password string
		code     string // empty: accepted
	}{
		{"correct horse battery", ""},
		{"ünïcødé8", ""},                  // 8 characters, more bytes
		{"short", "password_too_short"},   // 5 characters
		{"ünïcød7", "password_too_short"}, // 7 characters in 11 bytes
		{strings.Repeat("ab", 128), ""},   // exactly 256 bytes is allowed
		{strings.Repeat("a", 257), "password_too_long"},
		{"password", "password_too_common"},
		{"PassWord1", "password_too_common"}, // case does not help
		{"12345678", "password_too_common"},
		{"qwertyuiop", "password_too_common"},
	}
	for _, tt := range tests {
		err := ValidatePassword(tt.password)
		if tt.code == "" {
			if err != nil {
				t.Errorf("ValidatePassword(%.20q) = %v, want accepted", tt.password, err)
			}
			continue
		}
		p, ok := problem.As(err)
		if !ok || p.Code != tt.code || p.Fields["password"] == "" {
			t.Errorf("ValidatePassword(%.20q) = %v, want problem %s on field password", tt.password, err, tt.code)
		}
	}
	if len(commonPasswords) < 3000 {
		t.Errorf("common password list has %d entries; the embedded list did not load", len(commonPasswords))
	}
}

func TestHashAndCheckPassword(t *testing.T) {
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %q, want an argon2id PHC string", hash)
	}
	if !CheckPassword(hash, "correct horse battery") {
		t.Error("the right password does not match")
	}
	if CheckPassword(hash, "correct horse battery ") || CheckPassword(hash, "") {
		t.Error("a wrong password matches")
	}
	again, _ := HashPassword("correct horse battery")
	if again == hash {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=18$m=19456,t=2,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$"} {
		if CheckPassword(bad, "") || CheckPassword(bad, "plain") {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ada@example.com", "ada@example.com"},
		{"  Ada@Example.COM ", "ada@example.com"},
		{"", ""},
		{"ada", ""},
		{"Ada <ada@example.com>", ""},
		{"ada@example.com, bob@example.com", ""},
		{"ada@@example.com", ""},
		{strings.Repeat("a", 250) + "@example.com", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalidEmail) {
				t.Errorf("NormalizeEmail(%.30q) = %q, %v; want ErrInvalidEmail", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
