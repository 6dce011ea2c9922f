package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RateLimitStore keeps rate limits in the database, so that every node of
// an install counts against the same limit. Each check is one statement
// outside any transaction. Times are microseconds since 1970 UTC, so the
// arithmetic is the same in both dialects.
type RateLimitStore struct {
	db *DB
}

// RateLimits returns the rate limit store of db.
func (db *DB) RateLimits() *RateLimitStore { return &RateLimitStore{db: db} }

// writer runs single statements outside a transaction: on the pool on
// PostgreSQL, on the write connection on SQLite.
func (s *RateLimitStore) writer() *Queries {
	if s.db.pg != nil {
		return s.db.Read()
	}
	return &Queries{ex: sqlExecer{s.db.write}, dialect: SQLite}
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// TakeRateToken applies the generic cell rate algorithm to the key of a
// limit of burst attempts at once and one more every interval: the row
// holds the key's theoretical arrival time (TAT); an attempt at time at
// is allowed when the TAT is at most (burst-1) intervals ahead of it,
// and then moves the TAT one interval past the later of the TAT and at.
// A refused attempt changes nothing. It reports whether the attempt is
// allowed.
func (s *RateLimitStore) TakeRateToken(ctx context.Context, name, key string, every time.Duration, burst int, at time.Time) (bool, error) {
	now, step := micros(at), every.Microseconds()
	tolerance := step * int64(burst-1)
	// ON CONFLICT ... WHERE returns no row when the condition is false,
	// so the row's absence is the refusal; the conflicting row is locked
	// while the condition is checked, so racing nodes are counted one
	// after the other.
	var tat int64
	err := s.writer().queryRow(ctx, `
		INSERT INTO rate_limits (name, key, tat) VALUES (?, ?, ?)
		ON CONFLICT (name, key) DO UPDATE
		SET tat = CASE WHEN rate_limits.tat > ? THEN rate_limits.tat ELSE ? END + ?
		WHERE rate_limits.tat <= ?
		RETURNING tat`,
		name, key, now+step, now, now, step, now+tolerance).Scan(&tat)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take rate token %s: %w", name, err)
	}
	return true, nil
}

// ReturnRateToken gives back an attempt TakeRateToken allowed: the TAT
// moves one interval back. A TAT in the past counts as now, so giving back
// more than was taken never lets more than the burst through.
func (s *RateLimitStore) ReturnRateToken(ctx context.Context, name, key string, every time.Duration) error {
	if _, err := s.writer().exec(ctx, `UPDATE rate_limits SET tat = tat - ? WHERE name = ? AND key = ?`,
		every.Microseconds(), name, key); err != nil {
		return fmt.Errorf("return rate token %s: %w", name, err)
	}
	return nil
}

// MarkRateKey records that key holds under name until the time until
// (an address that failed at an account, say), replacing an earlier mark.
func (s *RateLimitStore) MarkRateKey(ctx context.Context, name, key string, until time.Time) error {
	if _, err := s.writer().exec(ctx, `
		INSERT INTO rate_limits (name, key, tat) VALUES (?, ?, ?)
		ON CONFLICT (name, key) DO UPDATE SET tat = excluded.tat`,
		name, key, micros(until)); err != nil {
		return fmt.Errorf("mark %s: %w", name, err)
	}
	return nil
}

// RateKeyMarked reports whether key holds a mark under name that has not
// ended at the time at.
func (s *RateLimitStore) RateKeyMarked(ctx context.Context, name, key string, at time.Time) (bool, error) {
	var one int
	err := s.writer().queryRow(ctx, `SELECT 1 FROM rate_limits WHERE name = ? AND key = ? AND tat > ?`,
		name, key, micros(at)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read mark %s: %w", name, err)
	}
	return true, nil
}

// DeleteExpiredRateLimits removes the rows whose TAT or mark has passed
// by the time at (a full bucket, an ended mark: the same as no row) and
// reports how many.
func (s *RateLimitStore) DeleteExpiredRateLimits(ctx context.Context, at time.Time) (int64, error) {
	n, err := s.writer().exec(ctx, `DELETE FROM rate_limits WHERE tat <= ?`, micros(at))
	if err != nil {
		return 0, fmt.Errorf("delete expired rate limits: %w", err)
	}
	return n, nil
}
