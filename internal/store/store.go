// Package store holds every SQL statement of mailschool. It runs the same
// queries on SQLite (the embedded default) and PostgreSQL (for installs with
// several nodes): queries are written with ? placeholders and rebound for
// PostgreSQL, and only SQL that both databases understand is used, but
// for the few places where they differ (row locks, lists of ids).
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect names the database behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write breaks a uniqueness rule.
var ErrConflict = errors.New("conflict")

// DB is the application's database. On SQLite reads use a pool of
// connections and writes a separate single connection, so writers queue in
// Go instead of failing on the database lock. On PostgreSQL one pgx pool
// serves both, used natively so that background jobs (River's pgx driver)
// can be enqueued inside the store's own transactions.
type DB struct {
	dialect Dialect
	read    *sql.DB // SQLite: read pool; PostgreSQL: database/sql view of pg, for migrations
	write   *sql.DB // SQLite only: the single writer
	// writeConnector opens SQLite write connections; migrations make a
	// pool of their own with it.
	writeConnector driver.Connector
	// stopCheckpoints ends SQLite's checkpoints, and closes their connection.
	stopCheckpoints func() error
	pg              *pgxpool.Pool // PostgreSQL only
	jobs            *Jobs         // set by NewJobs; where Queries.Enqueue inserts
}

// Open connects to the database named by databaseURL: empty means a SQLite
// file mailschool.db in dataDir, "postgres://" or "postgresql://" a
// PostgreSQL server, and "sqlite:PATH" an explicit SQLite file.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	switch {
	case databaseURL == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		return openSQLite(ctx, filepath.Join(dataDir, "mailschool.db"))
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(databaseURL, "sqlite:"))
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(ctx, databaseURL)
	default:
		return nil, fmt.Errorf("unsupported database URL %q: use postgres://... or leave it empty for SQLite", redactURL(databaseURL))
	}
}

// sqliteReadMmapSize is how much of the database file a read connection
// maps; beyond it, pages are read with read calls.
const sqliteReadMmapSize = 1 << 30

func openSQLite(ctx context.Context, path string) (*DB, error) {
	// busy_timeout comes first so that the other pragmas wait for a lock
	// held by another process (a CLI command next to a running server).
	params := url.Values{}
	params.Add("_pragma", "busy_timeout(10000)")
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(NORMAL)")
	params.Add("_pragma", "foreign_keys(ON)")
	params.Set("_time_format", "sqlite")
	base := "file:" + path + "?" + params.Encode()

	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// fails half-way when it turns from reading to writing. The writer
	// leaves checkpoints to a connection of their own (startCheckpoints),
	// but for a WAL that outgrows it.
	writeConnector, err := newSQLiteConnector(base + "&_txlock=immediate&_pragma=wal_autocheckpoint(" + strconv.Itoa(sqliteWriterCheckpointPages) + ")")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write := sql.OpenDB(writeConnector)
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	// The write connection creates the file and switches it to WAL before
	// any reader connects.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	// Readers map the file (up to sqliteReadMmapSize) rather than copy each
	// page they need with a read call: the database outgrows SQLite's page
	// cache of a few MB per connection quickly, and then a long read such
	// as an export spent about a sixth of its time in those calls. The
	// mapped pages are the kernel's page cache, shared by all the
	// connections, so this adds no memory of its own.
	readConnector, err := newSQLiteConnector(base + "&_pragma=query_only(1)" + fmt.Sprintf("&_pragma=mmap_size(%d)", sqliteReadMmapSize))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read := sql.OpenDB(readConnector)
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	read.SetConnMaxIdleTime(5 * time.Minute)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db := &DB{dialect: SQLite, read: read, write: write, writeConnector: writeConnector}
	db.startCheckpoints()
	return db, nil
}

const (
	// sqliteCheckpointInterval is how often a connection of its own copies
	// the WAL's new pages into the database file. SQLite would do it in
	// the commit that takes the WAL past 1,000 pages, while the committing
	// connection, the only writer, makes every other write wait: copying
	// and syncing held the writer for a sixth of a delivery run.
	sqliteCheckpointInterval = 200 * time.Millisecond
	// sqliteWriterCheckpointPages is how large the WAL grows (4 KiB pages)
	// before the writer checkpoints after all: the checkpoints of its own
	// connection copy what they can, but the WAL starts again from its
	// beginning only once a checkpoint copied all of it before the next
	// write, which a busy writer leaves no time for.
	sqliteWriterCheckpointPages = 10000
)

// startCheckpoints runs SQLite's checkpoints on a connection of their own
// until Close. A passive checkpoint takes no write lock: writers go on
// while it copies and syncs.
func (db *DB) startCheckpoints() {
	conn := sql.OpenDB(db.writeConnector)
	conn.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(sqliteCheckpointInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// A failed checkpoint leaves the pages in the WAL, for the
			// next one or the writer's.
			_, _ = conn.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}()
	db.stopCheckpoints = func() error {
		cancel()
		<-done
		return conn.Close()
	}
}

func openPostgres(ctx context.Context, databaseURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres URL %s: %w", redactURL(databaseURL), err)
	}
	if cfg.MaxConns < 25 {
		cfg.MaxConns = 25
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redactURL(databaseURL), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w", redactURL(databaseURL), err)
	}
	return &DB{dialect: Postgres, pg: pool, read: stdlib.OpenDBFromPool(pool)}, nil
}

// redactURL hides the password of a database URL so it can be logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes every connection.
func (db *DB) Close() error {
	err := db.read.Close()
	if db.stopCheckpoints != nil {
		err = errors.Join(err, db.stopCheckpoints())
	}
	if db.write != nil {
		err = errors.Join(err, db.write.Close())
	}
	if db.pg != nil {
		db.pg.Close()
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var err error
	if db.pg != nil {
		err = db.pg.Ping(ctx)
	} else {
		err = db.read.PingContext(ctx)
	}
	if err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Read returns queries that run outside a transaction. Writing through
// them fails on SQLite: writes belong in InTx.
func (db *DB) Read() *Queries {
	if db.pg != nil {
		return &Queries{ex: pgxExecer{db.pg}, dialect: Postgres}
	}
	return &Queries{ex: sqlExecer{db.read}, dialect: SQLite}
}

// InTx runs fn inside one transaction, committing when fn returns nil and
// rolling back otherwise. Once it has committed, what fn handed to
// AfterCommit runs.
func (db *DB) InTx(ctx context.Context, fn func(q *Queries) error) error {
	q, err := db.inTx(ctx, fn)
	if err != nil {
		return err
	}
	// Committed: q is a transaction no more, keeps nothing of it (a
	// kick kept with it would be gathered and never sent), and takes
	// nothing more for after the commit.
	afterCommit := q.afterCommit
	q.sqlTx, q.pgTx, q.afterCommit, q.beforeCommit, q.values = nil, nil, nil, nil, nil
	for _, after := range afterCommit {
		after(ctx)
	}
	return nil
}

func (db *DB) inTx(ctx context.Context, fn func(q *Queries) error) (*Queries, error) {
	if db.pg != nil {
		var q *Queries
		err := pgx.BeginFunc(ctx, db.pg, func(tx pgx.Tx) error {
			q = &Queries{ex: pgxExecer{tx}, dialect: Postgres, pgTx: tx, jobs: db.jobs}
			if err := fn(q); err != nil {
				return err
			}
			return q.runBeforeCommit(ctx)
		})
		if err != nil {
			return nil, fmt.Errorf("transaction: %w", err)
		}
		return q, nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	// Should fn panic, the write connection must not stay in its
	// transaction; once committed or rolled back this does nothing.
	defer rollback(tx)
	q := &Queries{ex: sqlExecer{tx}, dialect: SQLite, sqlTx: tx, jobs: db.jobs}
	if err := fn(q); err != nil {
		return nil, errors.Join(err, rollback(tx))
	}
	if err := q.runBeforeCommit(ctx); err != nil {
		return nil, errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit transaction: %w", err)
	}
	return q, nil
}

func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("roll back transaction: %w", err)
	}
	return nil
}

// Queries runs the store's queries on a pool or inside a transaction. The
// query methods live in one file per aggregate (users.go, sessions.go, ...).
type Queries struct {
	ex      execer
	dialect Dialect
	sqlTx   *sql.Tx // the transaction, on SQLite inside InTx
	pgTx    pgx.Tx  // the transaction, on PostgreSQL inside InTx
	jobs    *Jobs
	values  map[any]any // TxValue's
	// beforeCommit runs once the transaction's work is done: BeforeCommit.
	beforeCommit []func(context.Context) error
	counts       *counts // CountDaily's and CountItem's, written last
	// afterCommit runs once the transaction has committed: AfterCommit.
	afterCommit []func(context.Context)
}

// BeforeCommit has fn run in q's transaction once the transaction's own
// work is done, just before it commits, after those added before it; its
// error rolls the transaction back. It reports false, and does nothing,
// outside a transaction.
func (q *Queries) BeforeCommit(fn func(ctx context.Context) error) bool {
	if q.sqlTx == nil && q.pgTx == nil {
		return false
	}
	q.beforeCommit = append(q.beforeCommit, fn)
	return true
}

// AfterCommit has fn run once q's transaction has committed, after those
// added before it, and not at all if it rolls back. fn runs outside the
// transaction, with InTx's context, which may have ended by then, and
// with its own errors to handle: the change is made whatever fn does (a
// panic in fn reaches InTx's caller after the commit, and the functions
// after it do not run). It reports false, and does nothing, outside a
// transaction, and so once the transaction has committed.
func (q *Queries) AfterCommit(fn func(ctx context.Context)) bool {
	if q.sqlTx == nil && q.pgTx == nil {
		return false
	}
	q.afterCommit = append(q.afterCommit, fn)
	return true
}

func (q *Queries) runBeforeCommit(ctx context.Context) error {
	for i := 0; i < len(q.beforeCommit); i++ { // one may add another
		if err := q.beforeCommit[i](ctx); err != nil {
			return err
		}
	}
	return q.writeCounts(ctx)
}

// TxValue is the value kept under key in q's transaction by SetTxValue,
// or nil.
func (q *Queries) TxValue(key any) any { return q.values[key] }

// SetTxValue keeps v under key until q's transaction ends; outside a
// transaction it keeps nothing.
func (q *Queries) SetTxValue(key, v any) {
	if q.sqlTx == nil && q.pgTx == nil {
		return
	}
	if q.values == nil {
		q.values = map[any]any{}
	}
	q.values[key] = v
}

func (q *Queries) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return q.ex.exec(ctx, q.rebind(query), args...)
}

func (q *Queries) query(ctx context.Context, query string, args ...any) (rows, error) {
	return q.ex.query(ctx, q.rebind(query), args...)
}

func (q *Queries) queryRow(ctx context.Context, query string, args ...any) row {
	return q.ex.queryRow(ctx, q.rebind(query), args...)
}

// idIn is the condition that column holds one of ids, and its one
// argument: a statement's text is the same for any number of ids, so it is
// compiled (SQLite) or prepared (PostgreSQL) once.
func (q *Queries) idIn(column string, ids []int64) (string, any) {
	if q.dialect == Postgres {
		return column + " = ANY(?)", ids
	}
	list, _ := json.Marshal(ids) // cannot fail for integers
	return column + " IN (SELECT value FROM json_each(?))", string(list)
}

var rebound sync.Map // query with ? placeholders -> query with $n placeholders

// rebind turns ? placeholders into PostgreSQL's $1, $2, ...; queries are
// constants, so each is rewritten once and remembered.
func (q *Queries) rebind(query string) string {
	if q.dialect != Postgres {
		return query
	}
	if s, ok := rebound.Load(query); ok {
		return s.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	inString := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inString = !inString
			b.WriteByte(c)
		case c == '?' && !inString:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	s := b.String()
	rebound.Store(query, s)
	return s
}

// now is the current time as both databases store it: UTC, microseconds.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// maxOffset is the largest OFFSET a list query is given: far past the end
// of any table, and within every dialect's range.
const maxOffset = math.MaxInt32

// Offset is where page number page (from 1) of a list starts, with size
// rows a page. A page below 1 is the first. A page so far out that the
// offset would overflow starts past the end of any list, rather than wrap
// to a negative OFFSET that the database refuses.
func Offset(page, size int) int {
	page = max(page, 1)
	if size <= 0 || page-1 > maxOffset/size {
		return maxOffset
	}
	return (page - 1) * size
}
