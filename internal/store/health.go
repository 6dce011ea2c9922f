package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// latestMigrations is the newest migration of each dialect that this
// build holds: its SQL files' numbers and those written in Go.
var latestMigrations = sync.OnceValue(func() map[Dialect]int64 {
	latest := map[Dialect]int64{}
	for _, d := range []Dialect{SQLite, Postgres} {
		entries, _ := fs.ReadDir(migrations, "migrations/"+string(d))
		for _, e := range entries {
			number, _, _ := strings.Cut(e.Name(), "_")
			if v, err := strconv.ParseInt(number, 10, 64); err == nil {
				latest[d] = max(latest[d], v)
			}
		}
		for _, m := range goMigrations(d, nil) {
			latest[d] = max(latest[d], m.Version)
		}
	}
	return latest
})

// LatestMigration is the number of the newest migration this build holds
// for the database's dialect: what Migrate brings it to.
func (db *DB) LatestMigration() int64 { return latestMigrations()[db.dialect] }

// AppliedMigration returns the number of the newest migration applied to
// the database, with one query on a table of a few rows: a readiness
// probe's proof that the database answers and its schema is current.
func (db *DB) AppliedMigration(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	if err := db.Read().queryRow(ctx, `SELECT max(version_id) FROM goose_db_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("applied migration: %w", err)
	}
	return v.Int64, nil
}

// QueueBacklog is the jobs of one job queue that are ready to run and
// wait for a worker.
type QueueBacklog struct {
	Queue     string
	Available int
	// OldestAge is how long the oldest of them has been ready.
	OldestAge time.Duration
}

// The available jobs per queue, read from the front of River's fetching
// index (state, queue, priority, scheduled_at, id), by the database's own
// clock, which River's times follow.
const (
	jobBacklogSQLite = `
		SELECT queue, count(*), (julianday('now') - julianday(min(scheduled_at))) * 86400.0
		FROM river_job WHERE state = 'available' GROUP BY queue`
	jobBacklogPostgres = `
		SELECT queue, count(*), EXTRACT(EPOCH FROM now() - min(scheduled_at))::float8
		FROM river_job WHERE state = 'available' GROUP BY queue`
)

func (db *DB) jobBacklogQuery() string {
	if db.dialect == Postgres {
		return jobBacklogPostgres
	}
	return jobBacklogSQLite
}

// JobBacklog returns, for each job queue with jobs ready to run, how many
// there are and how long the oldest has waited. Queues with none are left
// out.
func (db *DB) JobBacklog(ctx context.Context) ([]QueueBacklog, error) {
	rs, err := db.Read().query(ctx, db.jobBacklogQuery())
	if err != nil {
		return nil, fmt.Errorf("job backlog: %w", err)
	}
	defer rs.Close()
	var list []QueueBacklog
	for rs.Next() {
		var (
			b       QueueBacklog
			seconds sql.NullFloat64
		)
		if err := rs.Scan(&b.Queue, &b.Available, &seconds); err != nil {
			return nil, fmt.Errorf("job backlog: %w", err)
		}
		b.OldestAge = max(0, time.Duration(seconds.Float64*float64(time.Second)))
		list = append(list, b)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("job backlog: %w", err)
	}
	return list, nil
}

// DueCounts counts the scheduled deliveries whose time has come (Due),
// and among them those whose time came before a limit (Overdue).
type DueCounts struct {
	Due, Overdue int
}

// dueCountsQuery reads the part of deliveries_due_idx (status, due_at)
// that holds the scheduled deliveries due.
const dueCountsQuery = `
	SELECT count(*), count(CASE WHEN due_at <= ? THEN 1 END)
	FROM deliveries WHERE status = 'scheduled' AND due_at <= ?`

func dueCountsArgs(now, overdueBefore time.Time) []any {
	return []any{overdueBefore.UTC().Truncate(time.Microsecond), now.UTC().Truncate(time.Microsecond)}
}

// CountDueDeliveries counts the scheduled deliveries due at now, and those
// due at or before overdueBefore.
func (q *Queries) CountDueDeliveries(ctx context.Context, now, overdueBefore time.Time) (DueCounts, error) {
	var c DueCounts
	if err := q.queryRow(ctx, dueCountsQuery, dueCountsArgs(now, overdueBefore)...).Scan(&c.Due, &c.Overdue); err != nil {
		return DueCounts{}, fmt.Errorf("count due deliveries: %w", err)
	}
	return c, nil
}

// SQLPools returns the database/sql pools by name, for their statistics:
// on SQLite "read" and "write"; none on PostgreSQL, whose pool is pgx's
// (PostgresPoolStat).
func (db *DB) SQLPools() map[string]*sql.DB {
	if db.dialect != SQLite {
		return nil
	}
	return map[string]*sql.DB{"read": db.read, "write": db.write}
}

// PostgresPoolStat returns the statistics of the PostgreSQL pool; nil on
// SQLite.
func (db *DB) PostgresPoolStat() *pgxpool.Stat {
	if db.pg == nil {
		return nil
	}
	return db.pg.Stat()
}

// MetricsQueryPlans returns the plans of the queries JobBacklog and
// CountDueDeliveries run, for the test that they read an index. On
// PostgreSQL sequential scans are turned off for the plan: on the small
// tables of a test the planner would rightly prefer them, and the
// question is whether an index serves the query.
func (db *DB) MetricsQueryPlans(ctx context.Context) ([]QueryPlan, error) {
	now := time.Now()
	queries := []struct {
		name, query string
		args        []any
	}{
		{"job backlog", db.jobBacklogQuery(), nil},
		{"due deliveries", dueCountsQuery, dueCountsArgs(now, now.Add(-time.Minute))},
	}
	var plans []QueryPlan
	for _, query := range queries {
		var (
			lines []string
			err   error
		)
		if db.dialect == SQLite {
			lines, err = sqlitePlan(ctx, db.Read(), query.query, query.args)
		} else {
			lines, err = postgresPlanWithoutSeqScan(ctx, db, query.query, query.args)
		}
		if err != nil {
			return nil, fmt.Errorf("plan of %s: %w", query.name, err)
		}
		plans = append(plans, QueryPlan{Name: query.name, Lines: lines})
	}
	return plans, nil
}

func postgresPlanWithoutSeqScan(ctx context.Context, db *DB, query string, args []any) ([]string, error) {
	conn, err := db.pg.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer conn.Release()
	// Closed rather than put back, so the setting goes with it.
	defer conn.Conn().Close(context.WithoutCancel(ctx))
	q := &Queries{ex: pgxExecer{conn}, dialect: Postgres}
	if _, err := q.ex.exec(ctx, `SET enable_seqscan = off`); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	return textPlan(ctx, q, "EXPLAIN "+q.rebind(query), args...)
}
