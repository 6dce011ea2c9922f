package auth

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

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
	ctx := t.Context()
	hash, err := HashPassword(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %q, want an argon2id PHC string", hash)
	}
	matches := func(encoded, password string) bool {
		t.Helper()
		ok, err := CheckPassword(ctx, encoded, password)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !matches(hash, "correct horse battery") {
		t.Error("the right password does not match")
	}
	if matches(hash, "correct horse battery ") || matches(hash, "") {
		t.Error("a wrong password matches")
	}
	again, _ := HashPassword(ctx, "correct horse battery")
	if again == hash {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=18$m=19456,t=2,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$"} {
		if matches(bad, "") || matches(bad, "plain") {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
}

// TestHashingIsBounded sends a burst of hashes and checks at once: no
// more than the slots run argon2id at the same time, whatever the burst,
// so 19 MiB each cannot add up to the burst's size. A caller whose context
// ends while it waits gives up with an error.
func TestHashingIsBounded(t *testing.T) {
	hash := dummyHash()
	var running, peak atomic.Int32
	release := make(chan struct{})
	argonKey = func(password, salt []byte, passes, memory uint32, threads uint8, keyLen uint32) []byte {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		return make([]byte, keyLen) // the count is the point, not the key
	}
	t.Cleanup(func() { argonKey = argon2.IDKey })

	burst := 3 * cap(hashSlots)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			if i%2 == 0 {
				HashPassword(t.Context(), "correct horse battery")
			} else {
				CheckPassword(t.Context(), hash, "wrong password")
			}
		})
	}
	// Every slot taken, the rest of the burst waiting.
	deadline := time.Now().Add(10 * time.Second)
	for running.Load() < int32(cap(hashSlots)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)

	// A caller whose request ends while it waits gives up.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	gaveUp := make(chan error, 2)
	go func() { _, err := CheckPassword(ctx, hash, "wrong password"); gaveUp <- err }()
	go func() { _, err := HashPassword(ctx, "correct horse battery"); gaveUp <- err }()
	for range 2 {
		select {
		case err := <-gaveUp:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("a hash whose request ended while it waited: %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("a hash whose request ended did not give up waiting")
		}
	}

	close(release)
	wg.Wait()
	if got := peak.Load(); got != int32(cap(hashSlots)) {
		t.Errorf("%d hashes ran at once out of a burst of %d, want %d (the slots)", got, burst, cap(hashSlots))
	}
	if cap(hashSlots) < 2 || cap(hashSlots) > 2*max(1, runtime.GOMAXPROCS(0)) {
		t.Errorf("%d slots for %d CPUs", cap(hashSlots), runtime.GOMAXPROCS(0))
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

func TestMailboxKey(t *testing.T) {
	for in, want := range map[string]string{
		"ada@example.com":          "ada@example.com",
		"ada+1@example.com":        "ada@example.com",
		"ada+news+2@example.com":   "ada@example.com",
		"ada.l+x@mail.example.com": "ada.l@mail.example.com",
		"+x@example.com":           "@example.com",
		"no-at-sign":               "no-at-sign",
	} {
		if got := MailboxKey(in); got != want {
			t.Errorf("MailboxKey(%q) = %q, want %q", in, got, want)
		}
	}
}
