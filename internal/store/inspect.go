package store

import (
	"context"
	"fmt"
)

// RowsWith counts, in every table that has the given column, the rows
// where it equals value. Tests use it to prove that a delete left nothing
// behind, in tables that exist today or are added later.
func (db *DB) RowsWith(ctx context.Context, column string, value int64) (map[string]int, error) {
	q := db.Read()
	var tablesQuery string
	switch db.dialect {
	case SQLite:
		tablesQuery = `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
			WHERE m.type = 'table' AND c.name = ?`
	case Postgres:
		tablesQuery = `SELECT table_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND column_name = ?`
	}
	rs, err := q.query(ctx, tablesQuery, column)
	if err != nil {
		return nil, fmt.Errorf("tables with %s: %w", column, err)
	}
	var tables []string
	for rs.Next() {
		var t string
		if err := rs.Scan(&t); err != nil {
			rs.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, t := range tables {
		var n int
		// Names come from the catalog, not from input.
		if err := q.queryRow(ctx, `SELECT COUNT(*) FROM `+t+` WHERE `+column+` = ?`, value).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		counts[t] = n
	}
	return counts, nil
}
