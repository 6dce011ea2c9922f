package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/pressly/goose/v3"
)

// suspensionsVersion is the migration that lets platform admins suspend
// an organization: organizations gain suspended_at, suspended_by and
// suspension_reason, and deliveries the status 'held' (an organization's
// pending deliveries while it is suspended). On PostgreSQL it is the SQL
// file of that number. SQLite cannot change a CHECK constraint, so there
// the deliveries table is rebuilt, which takes foreign keys off (or
// dropping the old table would delete the quiz attempts that reference
// it): a Go migration on a connection of its own, as for idsNeverReusedVersion.
const suspensionsVersion = 28

func sqliteSuspensionsMigration() *goose.Migration {
	return goose.NewGoMigration(suspensionsVersion,
		&goose.GoFunc{RunDB: sqliteSuspensionsUp, Mode: goose.TransactionDisabled},
		&goose.GoFunc{RunDB: sqliteSuspensionsDown, Mode: goose.TransactionDisabled})
}

const (
	deliveryStatusesBefore = `'scheduled', 'sending', 'sent', 'failed', 'cancelled'`
	deliveryStatusesHeld   = `'scheduled', 'sending', 'sent', 'failed', 'cancelled', 'held'`
)

func sqliteSuspensionsUp(ctx context.Context, db *sql.DB) error {
	return withoutForeignKeys(ctx, db, func(tx *sql.Tx) error {
		for _, stmt := range []string{
			`ALTER TABLE organizations ADD COLUMN suspended_at DATETIME`,
			`ALTER TABLE organizations ADD COLUMN suspended_by INTEGER REFERENCES users (id) ON DELETE SET NULL`,
			`ALTER TABLE organizations ADD COLUMN suspension_reason TEXT NOT NULL DEFAULT ''`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("add suspension columns: %w", err)
			}
		}
		return rebuildDeliveryStatuses(ctx, tx, deliveryStatusesBefore, deliveryStatusesHeld)
	})
}

func sqliteSuspensionsDown(ctx context.Context, db *sql.DB) error {
	return withoutForeignKeys(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'scheduled' WHERE status = 'held'`); err != nil {
			return fmt.Errorf("release held deliveries: %w", err)
		}
		if err := rebuildDeliveryStatuses(ctx, tx, deliveryStatusesHeld, deliveryStatusesBefore); err != nil {
			return err
		}
		for _, stmt := range []string{
			`ALTER TABLE organizations DROP COLUMN suspension_reason`,
			`ALTER TABLE organizations DROP COLUMN suspended_by`,
			`ALTER TABLE organizations DROP COLUMN suspended_at`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("drop suspension columns: %w", err)
			}
		}
		return nil
	})
}

// withoutForeignKeys runs fn in a transaction on one connection with
// foreign keys off (the pragma does nothing inside a transaction), and
// checks them before committing.
func withoutForeignKeys(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return fmt.Errorf("foreign keys off: %w", err)
	}
	defer func() {
		if _, onErr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); onErr != nil && err == nil {
			err = fmt.Errorf("foreign keys on: %w", onErr)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	var violations int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&violations); err != nil {
		return fmt.Errorf("check foreign keys: %w", err)
	}
	if violations > 0 {
		return fmt.Errorf("%d rows break a foreign key after rebuilding a table", violations)
	}
	return tx.Commit()
}

var deliveriesHeader = regexp.MustCompile(`^CREATE TABLE (?:"deliveries"|deliveries) \(`)

// rebuildDeliveryStatuses rebuilds the deliveries table with another list
// of statuses in its CHECK constraint, keeping its rows, its indexes and
// its AUTOINCREMENT sequence (so that no id is handed out twice).
func rebuildDeliveryStatuses(ctx context.Context, tx *sql.Tx, from, to string) error {
	var createSQL string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'`).Scan(&createSQL); err != nil {
		return fmt.Errorf("read the deliveries table: %w", err)
	}
	check := "CHECK (status IN (" + from + "))"
	if !deliveriesHeader.MatchString(createSQL) || strings.Count(createSQL, check) != 1 {
		return fmt.Errorf("unexpected definition of deliveries %.80q", createSQL)
	}
	newSQL := deliveriesHeader.ReplaceAllString(strings.Replace(createSQL, check, "CHECK (status IN ("+to+"))", 1),
		"CREATE TABLE deliveries_rebuilt (")

	var indexes []string
	rows, err := tx.QueryContext(ctx, `SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = 'deliveries' AND sql IS NOT NULL`)
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
		`INSERT INTO deliveries_rebuilt SELECT * FROM deliveries`,
		`DELETE FROM sqlite_sequence WHERE name = 'deliveries_rebuilt'`,
		`INSERT INTO sqlite_sequence (name, seq) SELECT 'deliveries_rebuilt', seq FROM sqlite_sequence WHERE name = 'deliveries'`,
		`DROP TABLE deliveries`,
		`ALTER TABLE deliveries_rebuilt RENAME TO deliveries`,
	}, indexes...) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("rebuild deliveries: %.60s: %w", stmt, err)
		}
	}
	return nil
}
