// Package auth holds the account rules of mailschool: password hashing and
// policy, login, password change and reset, platform admins, and the rate
// limits that protect them.
package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/mailschool/mailschool/internal/problem"
)

// Argon2id parameters: the OWASP recommendation for a server that hashes
// on login only (19 MiB, 2 passes, 1 lane), about 20 ms per hash here.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// Password length limits: at least 8 characters, and at most 256 bytes so
// that hashing cost stays bounded.
const (
	MinPasswordRunes = 8
	MaxPasswordBytes = 256
)

//go:embed common-passwords.txt
var commonPasswordList []byte

var commonPasswords = func() map[string]struct{} {
	set := make(map[string]struct{}, 4096)
	sc := bufio.NewScanner(bytes.NewReader(commonPasswordList))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
}()

// ValidatePassword applies the password policy: length limits and a list of
// common passwords shipped with the binary. There are no composition rules.
func ValidatePassword(password string) error {
	switch {
	case len(password) > MaxPasswordBytes:
		return problem.Field("password", "password_too_long", fmt.Sprintf("Password is too long: use at most %d bytes.", MaxPasswordBytes))
	case utf8.RuneCountInString(password) < MinPasswordRunes:
		return problem.Field("password", "password_too_short", fmt.Sprintf("Password is too short: use at least %d characters.", MinPasswordRunes))
	}
	if _, common := commonPasswords[strings.ToLower(strings.TrimSpace(password))]; common {
		return problem.Field("password", "password_too_common", "This password is too common. Choose one that is harder to guess.")
	}
	return nil
}

// NewPasswordHash checks a new password and its confirmation, typed twice
// in a form, and returns its hash.
func NewPasswordHash(ctx context.Context, password, confirm string) (string, error) {
	if password != confirm {
		return "", ErrPasswordMismatch
	}
	if err := ValidatePassword(password); err != nil {
		return "", err
	}
	return HashPassword(ctx, password)
}

// hashSlots bounds the argon2id computations running at once in the
// process: each takes 19 MiB, so a burst of logins or password forms
// would otherwise take as much memory as it has requests. Twice the CPUs
// keeps every CPU busy; more would only queue inside the runtime.
var hashSlots = make(chan struct{}, max(2, 2*runtime.GOMAXPROCS(0)))

// argonKey is argon2.IDKey; tests wrap it to watch how many run at once.
var argonKey = argon2.IDKey

// deriveKey runs argon2id once a slot is free, or gives up when ctx ends
// first (the client went away).
func deriveKey(ctx context.Context, password string, salt []byte, passes, memoryKiB uint32, threads uint8, keyLen uint32) ([]byte, error) {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to hash a password: %w", context.Cause(ctx))
	}
	defer func() { <-hashSlots }()
	return argonKey([]byte(password), salt, passes, memoryKiB, threads, keyLen), nil
}

// HashPassword returns the argon2id hash of password in the PHC string
// format, with a random salt.
func HashPassword(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key, err := deriveKey(ctx, password, salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches an encoded hash from
// HashPassword. An empty or malformed hash never matches. The error is
// only for a ctx that ended while waiting for a hashing slot.
func CheckPassword(ctx context.Context, encoded, password string) (bool, error) {
	var (
		version        int
		memory, passes uint32
		threads        uint8
	)
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, nil
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, nil
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil {
		return false, nil
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, nil
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, nil
	}
	got, err := deriveKey(ctx, password, salt, passes, memory, threads, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked against when no account matches a login, so that an
// unknown email costs as much time as a wrong password. It is made on first
// use, keeping start-up fast.
var dummyHash = sync.OnceValue(func() string {
	h, err := HashPassword(context.Background(), "mailschool dummy password")
	if err != nil {
		panic(err)
	}
	return h
})
