package auth

import (
	"sync"
	"time"
)

// Limit is a token bucket: Burst attempts at once, refilled at one every
// Every.
type Limit struct {
	Every time.Duration
	Burst int
}

// refill is how long an empty bucket takes to fill up again.
func (l Limit) refill() time.Duration { return l.Every * time.Duration(l.Burst) }

// Limiter throttles attempts per key (an IP address, an email address).
// It lives in memory, so each node of a cluster counts on its own.
type Limiter struct {
	limit Limit
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

// bucket holds the tokens a key had at the time last.
type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter that applies limit to each key.
func NewLimiter(limit Limit) *Limiter {
	return &Limiter{limit: limit, now: time.Now, buckets: make(map[string]*bucket)}
}

// tokensAt is what b holds at t, refilled since b.last.
func (l *Limiter) tokensAt(b *bucket, t time.Time) float64 {
	return min(float64(l.limit.Burst), b.tokens+float64(t.Sub(b.last))/float64(l.limit.Every))
}

// Allow takes one token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	l.sweep(t)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.limit.Burst), last: t}
		l.buckets[key] = b
	}
	b.tokens, b.last = l.tokensAt(b, t), t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Return puts back a token that Allow took for an attempt that turned out
// not to count (a login that succeeded, say). The bucket never holds more
// than its burst.
func (l *Limiter) Return(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return
	}
	t := l.now()
	b.tokens, b.last = min(float64(l.limit.Burst), l.tokensAt(b, t)+1), t
}

// sweep forgets buckets that have refilled completely, so memory stays
// bounded by the keys active in the last refill period.
func (l *Limiter) sweep(t time.Time) {
	if t.Sub(l.swept) < l.limit.refill() {
		return
	}
	for key, b := range l.buckets {
		if l.tokensAt(b, t) >= float64(l.limit.Burst) {
			delete(l.buckets, key)
		}
	}
	l.swept = t
}
