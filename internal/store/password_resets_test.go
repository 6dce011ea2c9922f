package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestPasswordResets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Nanoseconds and a zone other than UTC: the store must round and
		// convert, or SQLite would compare text in two layouts.
		created := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
		var user store.User
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			if user, err = q.CreateUser(ctx, store.NewUser{Email: "ada@example.com"}); err != nil {
				return err
			}
			for _, h := range []string{"h1", "h2", "h3"} {
				if _, err := q.CreatePasswordReset(ctx, store.NewPasswordReset{UserID: user.ID, TokenHash: h,
					CreatedAt: created, ExpiresAt: created.Add(time.Hour)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		pr, err := db.Read().PasswordResetByTokenHash(ctx, "h1")
		if err != nil || pr.UserID != user.ID || pr.UsedAt != nil || !pr.ExpiresAt.Equal(created.Add(time.Hour).Truncate(time.Microsecond)) {
			t.Fatalf("reset = %+v, %v", pr, err)
		}
		if _, err := db.Read().PasswordResetByTokenHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown hash: err = %v, want ErrNotFound", err)
		}
		err = db.InTx(ctx, func(q *store.Queries) error {
			_, err := q.CreatePasswordReset(ctx, store.NewPasswordReset{UserID: user.ID, TokenHash: "h1", CreatedAt: created, ExpiresAt: created})
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate hash: err = %v, want ErrConflict", err)
		}

		use := func(hash string, at time.Time) bool {
			t.Helper()
			var ok bool
			if err := db.InTx(ctx, func(q *store.Queries) error {
				var err error
				ok, err = q.UsePasswordReset(ctx, hash, at)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if use("h1", created.Add(time.Hour)) {
			t.Error("used at the moment it expires")
		}
		if use("nope", created) {
			t.Error("used an unknown hash")
		}

		// Two uses at once: exactly one wins.
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
		)
		for range 4 {
			wg.Go(func() {
				if use("h1", created.Add(time.Minute)) {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d concurrent uses succeeded, want 1", wins)
		}

		var ended int64
		if err := db.InTx(ctx, func(q *store.Queries) error {
			ended, err = q.EndPasswordResets(ctx, user.ID, created.Add(time.Minute))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if ended != 2 {
			t.Errorf("ended %d links, want the 2 unused ones", ended)
		}
		if use("h2", created.Add(time.Minute)) {
			t.Error("an ended link was used")
		}
		if pr, _ := db.Read().PasswordResetByTokenHash(ctx, "h3"); pr.UsedAt == nil {
			t.Error("an ended link has no used_at")
		}
	})
}
