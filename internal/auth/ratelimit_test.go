package auth

import (
	"testing"
	"time"
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
	if l.Allow("a") || l.Available("a") {
		t.Fatal("fourth attempt allowed: the burst is 3")
	}
	if !l.Allow("b") {
		t.Fatal("another key is throttled by a's attempts")
	}
	clock = clock.Add(time.Minute)
	if !l.Available("a") || !l.Allow("a") {
		t.Fatal("no token after one refill period")
	}
	if l.Allow("a") {
		t.Fatal("two tokens after one refill period")
	}
	if !l.Available("never-seen") {
		t.Fatal("an unknown key is not available")
	}

	// Buckets that have refilled are forgotten, so memory stays bounded.
	clock = clock.Add(10 * time.Minute)
	l.Allow("c")
	if _, ok := l.buckets["a"]; ok || len(l.buckets) != 1 {
		t.Errorf("buckets after the sweep = %d, want only c", len(l.buckets))
	}
}
