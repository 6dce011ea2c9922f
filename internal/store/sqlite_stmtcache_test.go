package store

import (
	"context"
	"fmt"
	"testing"
)

// TestSQLiteStatementCache runs the cases where a kept statement could
// give a wrong answer: the same query again while its rows are still
// open, a statement that failed, RETURNING through Exec, more queries
// than the cache keeps, and a connection closed with statements kept.
func TestSQLiteStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.write.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	mustExec(`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`)
	for i := range 3 {
		mustExec(`INSERT INTO t (name) VALUES (?)`, fmt.Sprintf("n%d", i))
	}

	// The same query inside its own open rows: the inner run must not
	// disturb the outer one.
	const list = `SELECT id, name FROM t WHERE id >= ? ORDER BY id`
	err = db.InTx(ctx, func(q *Queries) error {
		rs, err := q.query(ctx, list, 1)
		if err != nil {
			return err
		}
		defer rs.Close()
		var outer []string
		for rs.Next() {
			var (
				id   int64
				name string
			)
			if err := rs.Scan(&id, &name); err != nil {
				return err
			}
			outer = append(outer, name)
			inner, err := q.query(ctx, list, id)
			if err != nil {
				return err
			}
			n := 0
			for inner.Next() {
				n++
			}
			inner.Close()
			if n != 4-int(id) {
				return fmt.Errorf("inner query from %d: %d rows", id, n)
			}
		}
		if fmt.Sprint(outer) != "[n0 n1 n2]" {
			return fmt.Errorf("outer query: %v", outer)
		}
		return rs.Err()
	})
	if err != nil {
		t.Fatal(err)
	}

	// A statement that fails keeps working afterwards.
	const insert = `INSERT INTO t (name) VALUES (?) RETURNING id`
	for i, c := range []struct {
		name string
		dup  bool
	}{{"n0", true}, {"n3", false}, {"n3", true}, {"n4", false}} {
		var id int64
		err := db.InTx(ctx, func(q *Queries) error { return q.queryRow(ctx, insert, c.name).Scan(&id) })
		if c.dup && !isUniqueViolation(err) || !c.dup && (err != nil || id == 0) {
			t.Errorf("insert %d (%s): id %d, %v", i, c.name, id, err)
		}
	}
	var n int
	if err := db.Read().queryRow(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 5 {
		t.Errorf("%d rows, %v; want 5", n, err)
	}
	// RETURNING through Exec runs the statement to its end.
	mustExec(`UPDATE t SET name = name || '!' RETURNING id`)
	if err := db.Read().queryRow(ctx, `SELECT COUNT(*) FROM t WHERE name LIKE '%!'`).Scan(&n); err != nil || n != 5 {
		t.Errorf("%d rows updated, %v; want 5", n, err)
	}

	// More distinct queries than the cache keeps, then the first again.
	for i := range stmtCacheSize + 10 {
		var got int
		if err := db.Read().queryRow(ctx, fmt.Sprintf(`SELECT %d + ?`, i), 1).Scan(&got); err != nil || got != i+1 {
			t.Fatalf("query %d: %d, %v", i, got, err)
		}
	}
	if err := db.Read().queryRow(ctx, list, 5).Scan(&n, new(string)); err != nil || n != 5 {
		t.Errorf("after evictions: %d, %v", n, err)
	}
}
