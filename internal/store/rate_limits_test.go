package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestRateTokens: a key gets its burst at once and then one attempt per
// interval; a refused attempt costs nothing; a returned one can be taken
// again; keys and limits count apart; the sweep removes only full buckets
// and ended marks.
func TestRateTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rl := db.RateLimits()
		start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		take := func(name, key string, at time.Time) bool {
			t.Helper()
			ok, err := rl.TakeRateToken(ctx, name, key, time.Second, 3, at)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		for i := range 3 {
			if !take("login", "a", start) {
				t.Fatalf("attempt %d of the burst refused", i+1)
			}
		}
		for range 5 {
			if take("login", "a", start.Add(500*time.Millisecond)) {
				t.Fatal("attempt over the burst allowed")
			}
		}
		if !take("login", "a", start.Add(time.Second)) {
			t.Fatal("attempt after one interval refused: refusals must not cost tokens")
		}
		if take("login", "a", start.Add(time.Second)) {
			t.Fatal("second attempt within the interval allowed")
		}
		if !take("login", "b", start) || !take("reset", "a", start) {
			t.Fatal("another key or limit was counted with the first")
		}
		if err := rl.ReturnRateToken(ctx, "login", "a", time.Second); err != nil {
			t.Fatal(err)
		}
		if !take("login", "a", start.Add(time.Second)) {
			t.Fatal("returned token could not be taken again")
		}
		// Long idle: the bucket is full again, but holds no more than the burst.
		later := start.Add(time.Hour)
		for range 3 {
			if !take("login", "a", later) {
				t.Fatal("refill after an hour refused")
			}
		}
		if take("login", "a", later) {
			t.Fatal("an idle key got more than its burst")
		}

		if err := rl.MarkRateKey(ctx, "failed", "a", start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for at, want := range map[time.Time]bool{start: true, start.Add(time.Minute): false} {
			if got, err := rl.RateKeyMarked(ctx, "failed", "a", at); err != nil || got != want {
				t.Errorf("marked at %v = %v, %v; want %v", at, got, err, want)
			}
		}
		if got, _ := rl.RateKeyMarked(ctx, "failed", "b", start); got {
			t.Error("an unmarked key counts as marked")
		}

		// At later+4s, login/a (TAT later+3s) is full again; login/b,
		// reset/a and the mark ended long ago.
		n, err := rl.DeleteExpiredRateLimits(ctx, later.Add(2*time.Second))
		if err != nil || n != 3 {
			t.Errorf("swept %d rows (%v), want 3", n, err)
		}
		// Two seconds refilled two of the three tokens: a swept bucket
		// would have three.
		for range 2 {
			take("login", "a", later.Add(2*time.Second))
		}
		if take("login", "a", later.Add(2*time.Second)) {
			t.Error("the sweep removed a bucket that was not full")
		}
	})
}

// TestRateTokensConcurrent: nodes taking tokens of one key at once are
// counted one after the other, so exactly the burst gets through.
func TestRateTokensConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Now()
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				ok, err := db.RateLimits().TakeRateToken(ctx, "enroll", "10.0.0.1", time.Hour, 10, at)
				if err != nil {
					t.Error(err)
				}
				if ok {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != 10 {
			t.Errorf("%d of 40 concurrent attempts allowed, want the burst of 10", got)
		}
	})
}

// BenchmarkTakeRateToken measures one limit check: a few hundred keys
// (client addresses) taking tokens of a limit they stay within.
func BenchmarkTakeRateToken(b *testing.B) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			db := storetest.New(b, dialect)
			ctx := context.Background()
			keys := make([]string, 256)
			for i := range keys {
				keys[i] = fmt.Sprintf("%064x", i)
			}
			i := 0
			for b.Loop() {
				if _, err := db.RateLimits().TakeRateToken(ctx, "bench", keys[i%len(keys)], time.Nanosecond*1000, 1_000_000, time.Now()); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
