package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Migrate applies every pending migration, the application's and then the
// job queue's. On PostgreSQL a session lock makes nodes that start at the
// same time take turns.
func (db *DB) Migrate(ctx context.Context, logger *slog.Logger) error {
	if err := db.migrateTo(ctx, logger, math.MaxInt64); err != nil {
		return err
	}
	return db.migrateJobs(ctx, logger)
}

// migrateTo applies the application's pending migrations up to version.
func (db *DB) migrateTo(ctx context.Context, logger *slog.Logger, version int64) error {
	return db.withMigrations(logger, func(provider *goose.Provider) error {
		results, err := provider.UpTo(ctx, version)
		if err != nil {
			return fmt.Errorf("apply migrations: %w", err)
		}
		for _, r := range results {
			logger.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
		return nil
	})
}

// withMigrations runs fn with the application's migrations for the
// database: the SQL files of its dialect and those written in Go.
func (db *DB) withMigrations(logger *slog.Logger, fn func(*goose.Provider) error) error {
	dir := "migrations/" + string(db.dialect)
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations %s: %w", dir, err)
	}
	var (
		dialect goose.Dialect
		opts    []goose.ProviderOption
	)
	switch db.dialect {
	case SQLite:
		dialect = goose.DialectSQLite3
	case Postgres:
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	opts = append(opts, goose.WithGoMigrations(goMigrations(db.dialect, logger)...))
	pool := db.read // PostgreSQL: database/sql over pgx
	if db.dialect == SQLite {
		// goose holds a connection for the whole run and a migration
		// written in Go takes another, so SQLite's migrations get a pool
		// of two write connections, which take turns on the lock.
		pool = sql.OpenDB(db.writeConnector)
		pool.SetMaxOpenConns(2)
		defer pool.Close()
	}
	provider, err := goose.NewProvider(dialect, pool, fsys, opts...)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	return fn(provider)
}

// isUniqueViolation reports whether err is a broken UNIQUE or PRIMARY KEY
// constraint, which the store turns into ErrConflict.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		code := sqliteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isInvalidValue reports whether err is a value a column refuses: a CHECK
// constraint, or on PostgreSQL a value its type cannot hold.
func isInvalidValue(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23514" || strings.HasPrefix(pgErr.Code, "22")
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_CHECK
	}
	return false
}

// isNotNullViolation reports whether err is a NULL written into a NOT
// NULL column.
func isNotNullViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23502"
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_NOTNULL
	}
	return false
}
