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

// LoginLimits are the limits on login attempts.
type LoginLimits struct {
	// PerIP counts every attempt from one client address.
	PerIP Limit
	// PerAccountIP counts the failed attempts at one account from one
	// client address; when they run out, that address may not try the
	// account for a while.
	PerAccountIP Limit
	// PerAccount counts the failed attempts at one account from every
	// address. When they run out, it refuses only the addresses that
	// failed at the account within its refill time (Every × Burst): one
	// that has not still gets in with the right password, so failures
	// from elsewhere cannot lock the account's owner out.
	PerAccount Limit
}

// LoginThrottle applies LoginLimits. It lives in memory, so each node
// counts on its own.
type LoginThrottle struct {
	perIP, perAccountIP, perAccount *Limiter
	// failedFor is how long an address that failed at an account counts
	// as failing there: the account limit's refill time.
	failedFor time.Duration
	now       func() time.Time

	mu     sync.Mutex
	failed map[string]time.Time // accountIP key -> the last failure
	swept  time.Time
}

// NewLoginThrottle returns a throttle that applies limits.
func NewLoginThrottle(limits LoginLimits) *LoginThrottle {
	return &LoginThrottle{
		perIP:        NewLimiter(limits.PerIP),
		perAccountIP: NewLimiter(limits.PerAccountIP),
		perAccount:   NewLimiter(limits.PerAccount),
		failedFor:    limits.PerAccount.refill(),
		now:          time.Now,
		failed:       make(map[string]time.Time),
	}
}

// LoginAttempt is an attempt the throttle let through. Its caller tells it
// how the attempt ended with Done.
type LoginAttempt struct {
	throttle    *LoginThrottle
	account     string
	accountIP   string
	tookAccount bool
}

// Begin reports whether an attempt to log in to account (a normalized
// address) from ip may go ahead. It counts the attempt against ip at once,
// and against the account's limits until Done tells that the password was
// right; taking those tokens before the password is checked keeps a burst
// of parallel attempts within the limits too.
func (t *LoginThrottle) Begin(account, ip string) (*LoginAttempt, bool) {
	if !t.perIP.Allow(ip) {
		return nil, false
	}
	accountIP := account + "\x00" + ip
	if !t.perAccountIP.Allow(accountIP) {
		return nil, false
	}
	tookAccount := t.perAccount.Allow(account)
	if !tookAccount && t.failedLately(accountIP) {
		t.perAccountIP.Return(accountIP)
		return nil, false
	}
	return &LoginAttempt{throttle: t, account: account, accountIP: accountIP, tookAccount: tookAccount}, true
}

// Done ends the attempt. A failed one stays counted and marks its address
// as failing at the account; any other outcome (the right password, an
// error before any answer) gives back what Begin took from the account's
// limits.
func (a *LoginAttempt) Done(failed bool) {
	t := a.throttle
	if failed {
		t.mu.Lock()
		defer t.mu.Unlock()
		now := t.now()
		t.sweepFailed(now)
		t.failed[a.accountIP] = now
		return
	}
	t.perAccountIP.Return(a.accountIP)
	if a.tookAccount {
		t.perAccount.Return(a.account)
	}
}

// failedLately reports whether the account and address of key had a
// failed attempt within failedFor.
func (t *LoginThrottle) failedLately(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.sweepFailed(now)
	at, ok := t.failed[key]
	return ok && now.Sub(at) < t.failedFor
}

// sweepFailed forgets failures older than failedFor, so memory stays
// bounded by the failures of the last two such periods. t.mu is held.
func (t *LoginThrottle) sweepFailed(now time.Time) {
	if now.Sub(t.swept) < t.failedFor {
		return
	}
	for k, at := range t.failed {
		if now.Sub(at) >= t.failedFor {
			delete(t.failed, k)
		}
	}
	t.swept = now
}
