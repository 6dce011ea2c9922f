package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var created store.User
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			created, err = q.CreateUser(ctx, store.NewUser{Email: "ada@example.com", Name: "Ada", PasswordHash: "h1"})
			return err
		})
		if err != nil {
			t.Fatalf("create user: %v", err)
		}
		if created.ID == 0 || !created.IsActive || created.IsPlatformAdmin || created.SessionEpoch != 1 {
			t.Fatalf("created user = %+v", created)
		}
		if created.CreatedAt.Location() != time.UTC || time.Since(created.CreatedAt) > time.Minute {
			t.Errorf("created_at = %v, want a recent UTC time", created.CreatedAt)
		}

		got, err := db.Read().UserByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatalf("user by email: %v", err)
		}
		if got.ID != created.ID || got.Name != "Ada" || !got.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("user by email = %+v, want %+v", got, created)
		}
		if _, err := db.Read().UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown email: err = %v, want ErrNotFound", err)
		}
		if _, err := db.Read().UserByID(ctx, created.ID+1000); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown id: err = %v, want ErrNotFound", err)
		}

		err = db.InTx(ctx, func(q *store.Queries) error {
			_, err := q.CreateUser(ctx, store.NewUser{Email: "ada@example.com"})
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate email: err = %v, want ErrConflict", err)
		}

		var epoch int64
		err = db.InTx(ctx, func(q *store.Queries) error {
			if err := q.SetPlatformAdmin(ctx, created.ID, true); err != nil {
				return err
			}
			if err := q.RecordLogin(ctx, created.ID); err != nil {
				return err
			}
			epoch, err = q.SetPassword(ctx, created.ID, "h2")
			return err
		})
		if err != nil {
			t.Fatalf("update user: %v", err)
		}
		got, err = db.Read().UserByID(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if epoch != 2 || got.SessionEpoch != 2 || got.PasswordHash != "h2" || !got.IsPlatformAdmin || got.LastLoginAt == nil {
			t.Errorf("after updates: epoch %d, user %+v", epoch, got)
		}
		if n, err := db.Read().CountPlatformAdmins(ctx); err != nil || n != 1 {
			t.Errorf("platform admins = %d, %v; want 1", n, err)
		}
		if err := db.InTx(ctx, func(q *store.Queries) error { return q.SetPlatformAdmin(ctx, 987654, true) }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("promote unknown user: err = %v, want ErrNotFound", err)
		}
	})
}

func TestInTxRollsBackOnError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(q *store.Queries) error {
			if _, err := q.CreateUser(ctx, store.NewUser{Email: "gone@example.com"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		if _, err := db.Read().UserByEmail(ctx, "gone@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("user of a rolled-back transaction exists (err = %v)", err)
		}
	})
}

// A transaction whose work panics is rolled back, and the next one can
// write: on SQLite the one write connection must not stay inside it.
func TestInTxRollsBackOnPanic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the panic did not reach the caller")
				}
			}()
			db.InTx(ctx, func(q *store.Queries) error {
				if _, err := q.CreateUser(ctx, store.NewUser{Email: "gone@example.com"}); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		next, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := db.InTx(next, func(q *store.Queries) error {
			_, err := q.CreateUser(next, store.NewUser{Email: "next@example.com"})
			return err
		})
		if err != nil {
			t.Fatalf("the transaction after the panic: %v", err)
		}
		if _, err := db.Read().UserByEmail(ctx, "gone@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("user of the panicked transaction exists (err = %v)", err)
		}
	})
}

// What a transaction hands to AfterCommit, from its work or from its
// BeforeCommit work, runs once it has committed, in order, and sees its
// work from outside it; a transaction that fails or panics runs none of
// it, and outside a transaction, as once committed, nothing is taken.
func TestAfterCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var ran []string
		after := func(name string) func(context.Context) {
			return func(ctx context.Context) {
				_, err := db.Read().UserByEmail(ctx, name+"@example.com")
				ran = append(ran, fmt.Sprintf("%s: %v", name, err))
			}
		}
		var tx *store.Queries
		err := db.InTx(ctx, func(q *store.Queries) error {
			tx = q
			for _, name := range []string{"ada", "grace"} {
				if _, err := q.CreateUser(ctx, store.NewUser{Email: name + "@example.com"}); err != nil {
					return err
				}
				if !q.AfterCommit(after(name)) {
					t.Error("AfterCommit refused inside a transaction")
				}
			}
			q.BeforeCommit(func(ctx context.Context) error {
				q.AfterCommit(after("linus"))
				_, err := q.CreateUser(ctx, store.NewUser{Email: "linus@example.com"})
				return err
			})
			q.SetTxValue("kept", true)
			q.AfterCommit(func(ctx context.Context) {
				if tx.AfterCommit(after("late")) {
					t.Error("AfterCommit took work after the commit")
				}
				if tx.TxValue("kept") != nil {
					t.Error("the transaction's values outlived its commit")
				}
			})
			if len(ran) > 0 {
				t.Error("AfterCommit ran before the commit")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"ada: <nil>", "grace: <nil>", "linus: <nil>"}; !slices.Equal(ran, want) {
			t.Errorf("after the commit ran %q, want %q", ran, want)
		}

		ran = nil
		db.InTx(ctx, func(q *store.Queries) error {
			q.AfterCommit(after("failed"))
			return errors.New("boom")
		})
		func() {
			defer func() { recover() }()
			db.InTx(ctx, func(q *store.Queries) error {
				q.AfterCommit(after("panicked"))
				panic("boom")
			})
		}()
		if db.Read().AfterCommit(after("outside")) {
			t.Error("AfterCommit took work outside a transaction")
		}
		if len(ran) > 0 {
			t.Errorf("ran %q for transactions that did not commit", ran)
		}
	})
}

func TestDefaultOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		orgs, err := db.Read().AllOrganizations(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(orgs) != 1 || orgs[0].Name != "My Organization" || orgs[0].Slug != "my-organization" || !orgs[0].IsActive {
			t.Fatalf("organizations after migration = %+v, want the default one", orgs)
		}
		if time.Since(orgs[0].CreatedAt) > time.Hour {
			t.Errorf("created_at = %v", orgs[0].CreatedAt)
		}
	})
}

func TestSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Sessions()
		if err := s.CommitCtx(ctx, "live", []byte("one"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitCtx(ctx, "live", []byte("two"), time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("replace session: %v", err)
		}
		if err := s.CommitCtx(ctx, "old", []byte("x"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		data, ok, err := s.FindCtx(ctx, "live")
		if err != nil || !ok || string(data) != "two" {
			t.Errorf("find live = %q, %v, %v; want two", data, ok, err)
		}
		if _, ok, err := s.FindCtx(ctx, "old"); err != nil || ok {
			t.Errorf("find expired = %v, %v; want not found", ok, err)
		}
		if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
			t.Errorf("delete expired = %d, %v; want 1", n, err)
		}
		if err := s.DeleteCtx(ctx, "live"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.FindCtx(ctx, "live"); ok {
			t.Error("deleted session still found")
		}
	})
}

func TestReadPoolRefusesWrites(t *testing.T) {
	db := storetest.NewSQLite(t)
	ctx := context.Background()
	if _, err := db.Read().CreateUser(ctx, store.NewUser{Email: "w@example.com"}); err == nil {
		t.Fatal("a write through the SQLite read pool succeeded; writes must go through InTx")
	}
}

// SQLite's readers map the file rather than copy its pages with a read
// call each.
func TestReadPoolMapsTheFile(t *testing.T) {
	db := storetest.NewSQLite(t)
	n, err := db.QueryInt(context.Background(), `PRAGMA mmap_size`)
	if err != nil || n != 1<<30 {
		t.Errorf("a read connection maps %d bytes (%v), want 1 GiB", n, err)
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://user:secret@host/db", t.TempDir())
	if err == nil {
		t.Fatal("mysql URL accepted")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Errorf("error leaks the password: %s", got)
	}
}

// TestSQLiteCheckpointsBesideTheWriter: what the writer commits reaches
// the database file without the writer checkpointing (its own checkpoint
// waits for a WAL of sqliteWriterCheckpointPages), so that no write waits
// for a checkpoint's copying and syncing.
func TestSQLiteCheckpointsBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(ctx, `CREATE TABLE filler (body TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	// About 2 MiB in 20 commits: fewer pages than SQLite's own checkpoint
	// waits for (1,000).
	for range 20 {
		if err := db.Exec(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
			INSERT INTO filler (body) SELECT printf('%.1000c', 'x') FROM n`); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "mailschool.db")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() >= 2_000_000 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d bytes after 10 s, want the 2 MB committed: nothing checkpoints beside the writer", info.Size())
		}
	}
}
