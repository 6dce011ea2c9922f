// Package storetest gives each test a fresh, migrated database: SQLite
// always, and PostgreSQL when a server can be had (see pgtest). With CI=true
// a missing PostgreSQL fails the test instead of skipping it.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/pgtest"
)

// Main runs a package's tests and then stops the throwaway PostgreSQL
// cluster. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	cleanupPostgres()
	pgtest.Stop()
	os.Exit(code)
}

// Each runs fn as a subtest once per database, each with a fresh one.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, NewSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, NewPostgres(t)) })
}

// New returns a fresh database of the given dialect.
func New(t testing.TB, dialect store.Dialect) *store.DB {
	t.Helper()
	if dialect == store.Postgres {
		return NewPostgres(t)
	}
	return NewSQLite(t)
}

// NewSQLite returns a fresh, migrated SQLite database in a temporary
// directory, closed when the test ends.
func NewSQLite(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, quietLogger); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// NewPostgres returns a fresh PostgreSQL database cloned from a migrated
// template, dropped when the test ends. Without PostgreSQL the test is
// skipped, or fails when CI=true.
func NewPostgres(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), NewPostgresURL(t), "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// NewPostgresURL creates a fresh, migrated PostgreSQL database like
// NewPostgres and returns its URL, for tests that connect by themselves.
func NewPostgresURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := postgresTemplate()
	if err != nil {
		if pgtest.Required() {
			t.Fatalf("PostgreSQL is required when CI=true: %v", err)
		}
		t.Skipf("PostgreSQL not available: %v", err)
	}
	name := fmt.Sprintf("mailschool_test_%d_%d", os.Getpid(), dbCounter.Add(1))
	if _, err := admin.db.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE `+admin.template); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	// Registered first, so it runs after the cleanups that close connections.
	t.Cleanup(func() {
		if _, err := admin.db.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return withDatabase(admin.url, name)
}

var (
	quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
	dbCounter   atomic.Int64

	templateOnce sync.Once
	templateDB   *postgresAdmin
	templateErr  error
)

type postgresAdmin struct {
	url      string  // the server's maintenance database
	db       *sql.DB // connection to it, for CREATE/DROP DATABASE
	template string  // migrated database that tests clone
}

// postgresTemplate migrates one template database per test process; cloning
// it is much faster than migrating a database for every test.
func postgresTemplate() (*postgresAdmin, error) {
	templateOnce.Do(func() {
		templateDB, templateErr = newPostgresTemplate()
	})
	return templateDB, templateErr
}

func newPostgresTemplate() (*postgresAdmin, error) {
	ctx := context.Background()
	serverURL, err := pgtest.Server()
	if err != nil {
		return nil, err
	}
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	name := fmt.Sprintf("mailschool_template_%d", os.Getpid())
	if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		admin.Close()
		return nil, fmt.Errorf("drop old template: %w", err)
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create template: %w", err)
	}
	db, err := store.Open(ctx, withDatabase(serverURL, name), "")
	if err != nil {
		admin.Close()
		return nil, err
	}
	// The template must have no open connections when it is cloned.
	defer db.Close()
	if err := db.Migrate(ctx, quietLogger); err != nil {
		admin.Close()
		return nil, fmt.Errorf("migrate template: %w", err)
	}
	return &postgresAdmin{url: serverURL, db: admin, template: name}, nil
}

func cleanupPostgres() {
	if templateDB == nil {
		return
	}
	templateDB.db.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+templateDB.template+` WITH (FORCE)`)
	templateDB.db.Close()
}

func withDatabase(serverURL, name string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		panic(fmt.Sprintf("storetest: bad postgres URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}
