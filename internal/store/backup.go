package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
)

// ErrNotSQLite is returned by the backup and restore of a database that is
// not a SQLite file: PostgreSQL has its own tools (pg_dump, pg_restore).
var ErrNotSQLite = errors.New("backup and restore copy SQLite databases; back up PostgreSQL with pg_dump and restore it with pg_restore")

// ErrInUse is returned by Restore while another connection, such as a
// running server, has the database open.
var ErrInUse = errors.New("the database is in use: stop every mailschool process that uses it (serve, deliver), then restore again")

// SQLitePath is the file of the SQLite database that Open would use for
// these settings, or ErrNotSQLite.
func SQLitePath(databaseURL, dataDir string) (string, error) {
	switch {
	case databaseURL == "":
		return filepath.Join(dataDir, "mailschool.db"), nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return strings.TrimPrefix(databaseURL, "sqlite:"), nil
	default:
		return "", ErrNotSQLite
	}
}

// Backup writes a consistent copy of the database, as it is at one moment,
// to a new file at path while others go on reading and writing it: SQLite's
// VACUUM INTO reads in one transaction, which in WAL mode blocks no one.
// The copy is checked before it takes its name, so a file at path is always
// a whole, sound database.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.dialect != SQLite {
		return ErrNotSQLite
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s already exists: choose a new file name", path)
	}
	partial := path + ".partial"
	os.Remove(partial)
	defer os.Remove(partial)
	// The copy holds session keys and password hashes: only the owner may
	// read it. SQLite would create it readable by everyone; it writes into
	// an empty file made first.
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", partial, err)
	}
	f.Close()
	// The single write connection does it: VACUUM INTO is refused on the
	// query-only readers.
	if _, err := db.write.ExecContext(ctx, `VACUUM INTO ?`, partial); err != nil {
		return fmt.Errorf("copy the database to %s: %w", partial, err)
	}
	if err := checkSQLiteFile(ctx, partial); err != nil {
		return err
	}
	if err := syncFile(partial); err != nil {
		return err
	}
	if err := os.Link(partial, path); err != nil {
		// Link, unlike Rename, never replaces a file created meanwhile.
		return fmt.Errorf("name the copy %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// Restore replaces the SQLite database at target with a copy of the backup
// at from, once it has checked that the backup is a sound database of this
// version or an earlier one, and that nothing has target open. The database
// it replaces is kept beside it; its name is returned ("" when there was
// none). Migrations still pending for the restored copy are left to the
// caller.
func Restore(ctx context.Context, from, target string, logger *slog.Logger) (kept string, err error) {
	if err := checkSQLiteFile(ctx, from); err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}
	incoming := target + ".restoring"
	os.Remove(incoming)
	defer os.Remove(incoming)
	if err := copyFile(from, incoming); err != nil {
		return "", err
	}
	if err := checkVersion(ctx, incoming, logger); err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}

	release, err := holdAlone(ctx, target)
	if err != nil {
		return "", err
	}
	defer release()
	if _, err := os.Stat(target); err == nil {
		kept = fmt.Sprintf("%s.before-restore-%s", target, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(target, kept); err != nil {
			return "", fmt.Errorf("keep the current database as %s: %w", kept, err)
		}
	}
	if err := os.Rename(incoming, target); err != nil {
		return kept, fmt.Errorf("put the backup in place at %s: %w", target, err)
	}
	return kept, syncDir(filepath.Dir(target))
}

// holdAlone makes sure no other connection has the database at path open,
// and keeps others out until release. Switching a database out of WAL mode
// needs every other connection closed, so a running server makes it fail;
// once switched, the file holds everything (no -wal file is left) and the
// exclusive lock keeps newcomers waiting.
func holdAlone(ctx context.Context, path string) (release func(), err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	conn, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(1000)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	conn.SetMaxOpenConns(1)
	var mode string
	if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode); err != nil || mode != "delete" {
		conn.Close()
		return nil, ErrInUse
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA locking_mode = EXCLUSIVE`); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		conn.Close()
		return nil, ErrInUse
	}
	return func() {
		conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		conn.Close()
	}, nil
}

// checkSQLiteFile opens the SQLite file at path read-only and runs SQLite's
// integrity check on it.
func checkSQLiteFile(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer conn.Close()
	var result string
	if err := conn.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&result); err != nil {
		return fmt.Errorf("not a SQLite database that can be read: %w", err)
	}
	if result != "ok" {
		return fmt.Errorf("the SQLite integrity check failed: %s", result)
	}
	return nil
}

// checkVersion refuses a database of mailschool's that a later version
// migrated, or a SQLite file that is not mailschool's.
func checkVersion(ctx context.Context, path string, logger *slog.Logger) error {
	db, err := openSQLite(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.withMigrations(logger, func(p *goose.Provider) error {
		have, err := p.GetDBVersion(ctx)
		if err != nil || have == 0 {
			return errors.New("not a mailschool database")
		}
		sources := p.ListSources()
		if want := sources[len(sources)-1].Version; have > want {
			return fmt.Errorf("a later version of mailschool wrote this database (migration %d; this one knows up to %d): restore it with that version", have, want)
		}
		return nil
	})
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return fmt.Errorf("write %s: %w", to, err)
	}
	return dst.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir makes a new name in dir last through a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write directory %s: %w", dir, err)
	}
	return nil
}
