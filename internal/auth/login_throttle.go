package auth

import (
	"context"
	"fmt"
	"sync"
	"time"
)

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

// LoginThrottle applies LoginLimits, with limiters and failure marks
// from one Limiters: in memory on each node, or shared by all of them.
type LoginThrottle struct {
	perIP, perAccountIP, perAccount RateLimiter
	// failed marks the addresses that failed at an account, for the
	// account limit's refill time.
	failed failureMarks
}

// NewLoginThrottle returns a throttle that applies limits in memory.
func NewLoginThrottle(limits LoginLimits) *LoginThrottle {
	return MemoryLimiters().LoginThrottle(limits)
}

// LoginThrottle returns a throttle that applies limits with ls's
// limiters.
func (ls Limiters) LoginThrottle(limits LoginLimits) *LoginThrottle {
	t := &LoginThrottle{
		perIP:        ls.New("login_per_ip", limits.PerIP),
		perAccountIP: ls.New("login_per_account_ip", limits.PerAccountIP),
		perAccount:   ls.New("login_per_account", limits.PerAccount),
	}
	failedFor := limits.PerAccount.refill()
	if ls.db != nil {
		t.failed = sharedMarks{ls: ls, name: "login_failed", failedFor: failedFor}
	} else {
		t.failed = &memoryMarks{failedFor: failedFor, now: ls.clock(), marks: make(map[string]time.Time)}
	}
	return t
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
// of parallel attempts within the limits too. An error (the database
// holding shared limits did not answer) refuses the attempt.
func (t *LoginThrottle) Begin(ctx context.Context, account, ip string) (*LoginAttempt, bool, error) {
	if ok, err := t.perIP.Allow(ctx, ip); !ok || err != nil {
		return nil, false, err
	}
	accountIP := account + "\x00" + ip
	if ok, err := t.perAccountIP.Allow(ctx, accountIP); !ok || err != nil {
		return nil, false, err
	}
	tookAccount, err := t.perAccount.Allow(ctx, account)
	if err != nil {
		return nil, false, err
	}
	if !tookAccount {
		failed, err := t.failed.marked(ctx, accountIP)
		if err != nil {
			return nil, false, err
		}
		if failed {
			return nil, false, t.perAccountIP.Return(ctx, accountIP)
		}
	}
	return &LoginAttempt{throttle: t, account: account, accountIP: accountIP, tookAccount: tookAccount}, true, nil
}

// Done ends the attempt. A failed one stays counted and marks its address
// as failing at the account; any other outcome (the right password, an
// error before any answer) gives back what Begin took from the account's
// limits.
func (a *LoginAttempt) Done(ctx context.Context, failed bool) error {
	t := a.throttle
	if failed {
		return t.failed.mark(ctx, a.accountIP)
	}
	if err := t.perAccountIP.Return(ctx, a.accountIP); err != nil {
		return err
	}
	if a.tookAccount {
		return t.perAccount.Return(ctx, a.account)
	}
	return nil
}

// failureMarks remember for a while which account and address pairs
// failed.
type failureMarks interface {
	mark(ctx context.Context, key string) error
	marked(ctx context.Context, key string) (bool, error)
}

// memoryMarks keeps the marks of one node.
type memoryMarks struct {
	failedFor time.Duration
	now       func() time.Time

	mu    sync.Mutex
	marks map[string]time.Time // key -> the last failure
	swept time.Time
}

func (m *memoryMarks) mark(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	m.marks[key] = now
	return nil
}

func (m *memoryMarks) marked(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	at, ok := m.marks[key]
	return ok && now.Sub(at) < m.failedFor, nil
}

// sweep forgets failures older than failedFor, so memory stays bounded
// by the failures of the last two such periods. m.mu is held.
func (m *memoryMarks) sweep(now time.Time) {
	if now.Sub(m.swept) < m.failedFor {
		return
	}
	for k, at := range m.marks {
		if now.Sub(at) >= m.failedFor {
			delete(m.marks, k)
		}
	}
	m.swept = now
}

// sharedMarks keeps the marks in the database, for every node.
type sharedMarks struct {
	ls        Limiters
	name      string
	failedFor time.Duration
}

func (m sharedMarks) mark(ctx context.Context, key string) error {
	if err := m.ls.db.RateLimits().MarkRateKey(ctx, m.name, limitKey(key), m.ls.clock()().Add(m.failedFor)); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	return nil
}

func (m sharedMarks) marked(ctx context.Context, key string) (bool, error) {
	ok, err := m.ls.db.RateLimits().RateKeyMarked(ctx, m.name, limitKey(key), m.ls.clock()())
	if err != nil {
		return false, fmt.Errorf("login throttle: %w", err)
	}
	return ok, nil
}
