package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// execer is what the query methods run on: database/sql for SQLite, pgx for
// PostgreSQL. Both report a missing row as sql.ErrNoRows.
type execer interface {
	exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	query(ctx context.Context, query string, args ...any) (rows, error)
	queryRow(ctx context.Context, query string, args ...any) row
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface {
	Scan(dest ...any) error
}

// sqlExecer runs queries on a *sql.DB or *sql.Tx.
type sqlExecer struct {
	ex interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (e sqlExecer) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := e.ex.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e sqlExecer) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := e.ex.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (e sqlExecer) queryRow(ctx context.Context, query string, args ...any) row {
	return e.ex.QueryRowContext(ctx, query, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// pgxExecer runs queries on a pgx pool or transaction.
type pgxExecer struct {
	ex interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (e pgxExecer) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := e.ex.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (e pgxExecer) query(ctx context.Context, query string, args ...any) (rows, error) {
	return e.ex.Query(ctx, query, args...)
}

func (e pgxExecer) queryRow(ctx context.Context, query string, args ...any) row {
	return pgxRow{e.ex.QueryRow(ctx, query, args...)}
}

type pgxRow struct{ pgx.Row }

func (r pgxRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}
