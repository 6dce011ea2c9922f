package auth

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestLimiter(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(Limit{Every: time.Minute, Burst: 3})
	l.now = func() time.Time { return clock }

	for i := range 3 {
		if !l.Allow("a") {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	if l.Allow("a") {
		t.Fatal("fourth attempt allowed: the burst is 3")
	}
	if !l.Allow("b") {
		t.Fatal("another key is throttled by a's attempts")
	}
	clock = clock.Add(time.Minute)
	if !l.Allow("a") {
		t.Fatal("no token after one refill period")
	}
	if l.Allow("a") {
		t.Fatal("two tokens after one refill period")
	}

	// A token given back can be taken again, and a bucket never holds
	// more than its burst.
	l.Return("a")
	if !l.Allow("a") || l.Allow("a") {
		t.Fatal("a returned token is not there, once")
	}
	for range 5 {
		l.Return("b")
	}
	for i := range 4 {
		if got, want := l.Allow("b"), i < 3; got != want {
			t.Fatalf("after returns, attempt %d allowed = %v, want %v: the burst is 3", i+1, got, want)
		}
	}

	// Buckets that have refilled are forgotten, so memory stays bounded.
	clock = clock.Add(10 * time.Minute)
	l.Allow("c")
	if _, ok := l.buckets["a"]; ok || len(l.buckets) != 1 {
		t.Errorf("buckets after the sweep = %d, want only c", len(l.buckets))
	}
}

// TestLoginThrottle: failures count per account and address; the
// account-wide limit refuses only addresses that failed at the account,
// so an owner who has not failed logs in whatever others do. The same
// holds in memory and kept in the database, on either.
func TestLoginThrottle(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		th := testLoginThrottle(t, Limiters{})
		th.failed.(*memoryMarks).mu.Lock()
		n := len(th.failed.(*memoryMarks).marks)
		th.failed.(*memoryMarks).mu.Unlock()
		if n != 1 {
			t.Errorf("%d failing addresses remembered after the sweep, want 1", n)
		}
	})
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		testLoginThrottle(t, SharedLimiters(db))
	})
}

// testLoginThrottle runs TestLoginThrottle's scenario with ls's limiters
// and returns the throttle.
func testLoginThrottle(t *testing.T, ls Limiters) *LoginThrottle {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ls.now = func() time.Time { return clock }
	th := ls.LoginThrottle(LoginLimits{
		PerIP:        Limit{Every: time.Hour, Burst: 100},
		PerAccountIP: Limit{Every: time.Hour, Burst: 3},
		PerAccount:   Limit{Every: time.Hour, Burst: 5},
	})
	const account = "owner@example.com"
	try := func(ip string, failed bool) bool {
		t.Helper()
		a, ok, err := th.Begin(context.Background(), account, ip)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if err := a.Done(context.Background(), failed); err != nil {
				t.Fatal(err)
			}
		}
		return ok
	}

	for i := range 3 {
		if !try("192.0.2.1", true) {
			t.Fatalf("failure %d from A refused within its 3", i+1)
		}
	}
	if try("192.0.2.1", false) {
		t.Error("A tried a fourth time after its 3 failures")
	}
	if !try("198.51.100.7", false) {
		t.Error("the owner, at an address that never failed, is refused after A's failures")
	}

	// A second attacker spends what is left of the account's 5 failures.
	for i := range 2 {
		if !try("192.0.2.2", true) {
			t.Fatalf("failure %d from B refused", i+1)
		}
	}
	if try("192.0.2.2", true) {
		t.Error("B, which failed at the account, tried again after the account's 5 failures")
	}
	// A new address gets its try, and after failing, no more.
	if !try("192.0.2.3", true) {
		t.Error("an address that never failed is refused")
	}
	if try("192.0.2.3", false) {
		t.Error("C tried again after failing at an account out of failures")
	}
	if !try("198.51.100.7", false) || !try("198.51.100.7", false) {
		t.Error("the owner is refused while the account is out of failures")
	}

	// Successful logins do not count against the account's limits.
	for i := range 10 {
		if !try("203.0.113.9", false) {
			t.Fatalf("successful login %d refused", i+1)
		}
	}

	// After the account's refill time, the attackers are forgotten.
	clock = clock.Add(5 * time.Hour)
	if !try("192.0.2.2", true) {
		t.Error("B still refused after the account's refill time")
	}
	return th
}

// BenchmarkLimiterAllow measures one check of a limit kept in memory,
// for comparison with store.BenchmarkTakeRateToken.
func BenchmarkLimiterAllow(b *testing.B) {
	l := NewLimiter(Limit{Every: time.Microsecond, Burst: 1_000_000})
	keys := make([]string, 256)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	i := 0
	for b.Loop() {
		l.Allow(keys[i%len(keys)])
		i++
	}
}
