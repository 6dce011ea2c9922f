package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/pressly/goose/v3"
)

// idsNeverReusedVersion is the migration after which no table hands out
// an id twice. Signed links, Message-IDs and anything else that names a
// row by id must never come to name another row after the first is
// deleted. PostgreSQL's identity columns never reuse a value, so there
// the migration only records its version; SQLite picks max(id)+1 for an
// INTEGER PRIMARY KEY, which reuses the id of a deleted newest row, and
// only AUTOINCREMENT (the largest id ever used, kept in sqlite_sequence)
// prevents that. SQLite cannot add AUTOINCREMENT to a table, so the
// migration rebuilds every table of the application with an integer id
// (the job queue's tables are River's to migrate).
const idsNeverReusedVersion = 11

// goMigrations are the migrations written in Go, for a dialect; logger
// hears what they report.
func goMigrations(d Dialect, logger *slog.Logger) []*goose.Migration {
	ids := goose.NewGoMigration(idsNeverReusedVersion,
		&goose.GoFunc{RunDB: sqliteAutoincrementIDs}, &goose.GoFunc{Mode: goose.TransactionDisabled})
	if d == Postgres {
		ids = goose.NewGoMigration(idsNeverReusedVersion, &goose.GoFunc{}, &goose.GoFunc{})
	}
	if d == Postgres {
		return []*goose.Migration{ids, nameSkeletonsMigration(d, logger)}
	}
	return []*goose.Migration{ids, nameSkeletonsMigration(d, logger), sqliteSuspensionsMigration()}
}

// integerID matches the id column of a table created without
// AUTOINCREMENT.
var integerID = regexp.MustCompile(`(?m)^(\s*id\s+INTEGER\s+PRIMARY\s+KEY)(\s*,)`)

// sqliteAutoincrementIDs rebuilds each table whose id is a plain INTEGER
// PRIMARY KEY with AUTOINCREMENT, keeping its rows, ids, indexes and the
// foreign keys pointing at it (SQLite's "generalized ALTER TABLE"
// procedure). Foreign keys are off while it runs, or dropping the old
// table would delete the rows that reference it; they are checked before
// it commits. Copying the rows with their ids starts each table's
// sequence at its largest id.
func sqliteAutoincrementIDs(ctx context.Context, db *sql.DB) error {
	return withoutForeignKeys(ctx, db, func(tx *sql.Tx) error {
		type table struct{ name, sql string }
		var tables []table
		rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE 'river\_%' ESCAPE '\' AND name <> 'goose_db_version'
		ORDER BY name`)
		if err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		for rows.Next() {
			var t table
			if err := rows.Scan(&t.name, &t.sql); err != nil {
				rows.Close()
				return err
			}
			if integerID.MatchString(t.sql) {
				tables = append(tables, t)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, t := range tables {
			if err := rebuildWithAutoincrement(ctx, tx, t.name, t.sql); err != nil {
				return fmt.Errorf("table %s: %w", t.name, err)
			}
		}
		return nil
	})
}

func rebuildWithAutoincrement(ctx context.Context, tx *sql.Tx, name, createSQL string) error {
	header := "CREATE TABLE " + name + " ("
	if !strings.HasPrefix(createSQL, header) {
		return fmt.Errorf("unexpected definition %.60q", createSQL)
	}
	tmp := name + "_rebuilt"
	newSQL := "CREATE TABLE " + tmp + " (" + strings.TrimPrefix(integerID.ReplaceAllString(createSQL, "$1 AUTOINCREMENT$2"), header)

	var indexes []string
	rows, err := tx.QueryContext(ctx, `SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = ? AND sql IS NOT NULL`, name)
	if err != nil {
		return err
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		indexes = append(indexes, s)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, stmt := range append([]string{newSQL,
		`INSERT INTO ` + tmp + ` SELECT * FROM ` + name,
		`DROP TABLE ` + name,
		`ALTER TABLE ` + tmp + ` RENAME TO ` + name,
	}, indexes...) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%.60s: %w", stmt, err)
		}
	}
	return nil
}
