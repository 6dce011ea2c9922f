package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a token bucket: Burst attempts at once, refilled at one every
// Every.
type Limit struct {
	Every time.Duration
	Burst int
}

// Limiter throttles attempts per key (an IP address, an email address).
// It lives in memory, so each node of a cluster counts on its own.
type Limiter struct {
	limit Limit
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	limiter *rate.Limiter
	seen    time.Time
}

// NewLimiter returns a limiter that applies limit to each key.
func NewLimiter(limit Limit) *Limiter {
	return &Limiter{limit: limit, now: time.Now, buckets: make(map[string]*bucket)}
}

// Allow takes one token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	l.sweep(t)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{limiter: rate.NewLimiter(rate.Every(l.limit.Every), l.limit.Burst)}
		l.buckets[key] = b
	}
	b.seen = t
	return b.limiter.AllowN(t, 1)
}

// sweep forgets buckets that have refilled completely, so memory stays
// bounded by the keys active in the last refill period.
func (l *Limiter) sweep(t time.Time) {
	full := l.limit.Every * time.Duration(l.limit.Burst)
	if t.Sub(l.swept) < full {
		return
	}
	for key, b := range l.buckets {
		if t.Sub(b.seen) >= full {
			delete(l.buckets, key)
		}
	}
	l.swept = t
}

// Available reports whether key's bucket holds a token, without taking it.
func (l *Limiter) Available(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	return !ok || b.limiter.TokensAt(l.now()) >= 1
}
