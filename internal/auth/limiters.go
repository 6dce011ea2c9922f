package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/mailschool/mailschool/internal/store"
)

// RateLimiter counts attempts per key (an address, an account, an API
// key) against one Limit.
type RateLimiter interface {
	// Allow takes a token from key's bucket and reports whether there
	// was one.
	Allow(ctx context.Context, key string) (bool, error)
	// Return gives back a token Allow took, for an attempt that turned
	// out not to count.
	Return(ctx context.Context, key string) error
}

// Limiters makes the rate limiters of a server: in memory, each node
// counting on its own (SQLite, where there is one node), or kept in the
// database, so that every node of an install counts against the same
// limit (PostgreSQL).
type Limiters struct {
	db  *store.DB // nil: in memory
	now func() time.Time
}

// MemoryLimiters makes limiters that live in memory.
func MemoryLimiters() Limiters { return Limiters{} }

// SharedLimiters makes limiters kept in db, shared by every node that
// uses it. Each check is one statement (store.TakeRateToken).
func SharedLimiters(db *store.DB) Limiters { return Limiters{db: db} }

// Shared reports whether the limiters are kept in the database.
func (ls Limiters) Shared() bool { return ls.db != nil }

func (ls Limiters) clock() func() time.Time {
	if ls.now != nil {
		return ls.now
	}
	return time.Now
}

// New returns a limiter that applies limit to each key. name tells the
// limits apart in the database; every limit needs its own.
func (ls Limiters) New(name string, limit Limit) RateLimiter {
	if ls.db != nil {
		return sharedLimiter{rl: ls.db.RateLimits(), name: name, limit: limit, now: ls.clock()}
	}
	l := NewLimiter(limit)
	l.now = ls.clock()
	return memoryLimiter{l}
}

// memoryLimiter is a Limiter as a RateLimiter.
type memoryLimiter struct{ l *Limiter }

func (m memoryLimiter) Allow(_ context.Context, key string) (bool, error) { return m.l.Allow(key), nil }

func (m memoryLimiter) Return(_ context.Context, key string) error {
	m.l.Return(key)
	return nil
}

// sharedLimiter keeps its buckets in the database.
type sharedLimiter struct {
	rl    *store.RateLimitStore
	name  string
	limit Limit
	now   func() time.Time
}

func (s sharedLimiter) Allow(ctx context.Context, key string) (bool, error) {
	return s.rl.TakeRateToken(ctx, s.name, limitKey(key), s.limit.Every, s.limit.Burst, s.now())
}

func (s sharedLimiter) Return(ctx context.Context, key string) error {
	return s.rl.ReturnRateToken(ctx, s.name, limitKey(key), s.limit.Every)
}

// limitKey is how a key is stored: its SHA-256, so that the table holds
// no addresses and every key has the same size (and no NUL byte, which
// PostgreSQL's text refuses).
func limitKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}
