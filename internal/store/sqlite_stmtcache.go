package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"sync"

	"modernc.org/sqlite"
)

// The SQLite driver compiles every statement anew each time it runs, and
// for the store's queries and River's (large ones, run for every job)
// compiling cost more than running. So each SQLite connection keeps its
// last statements compiled and reuses them: statements are cached per
// connection, by their text, and a statement still in use (its rows not
// closed yet) is not shared: the same query run meanwhile is compiled on
// its own, as without the cache. SQLite recompiles a kept statement by
// itself when the schema changes.

// stmtCacheSize is how many statements each connection keeps compiled.
const stmtCacheSize = 128

// sqliteConnector opens SQLite connections with a statement cache.
type sqliteConnector struct{ driver.Connector }

func newSQLiteConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sqliteConnector{c}, nil
}

func (c sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

// cachingConn is a driver connection that keeps its statements compiled.
// database/sql uses a connection from one goroutine at a time; the mutex
// is for a rows Close racing a connection Close.
type cachingConn struct {
	conn interface {
		driver.Conn
		driver.ConnBeginTx
		driver.ConnPrepareContext
		driver.ExecerContext
		driver.QueryerContext
		driver.Pinger
		driver.SessionResetter
		driver.Validator
	}
	mu      sync.Mutex
	order   *list.List // of *cachedStmt, most recently used first
	byQuery map[string]*list.Element
}

type cachedStmt struct {
	query string
	stmt  interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy bool // its rows are open
}

func newCachingConn(conn driver.Conn) (driver.Conn, error) {
	c := &cachingConn{order: list.New(), byQuery: map[string]*list.Element{}}
	var ok bool
	if c.conn, ok = conn.(interface {
		driver.Conn
		driver.ConnBeginTx
		driver.ConnPrepareContext
		driver.ExecerContext
		driver.QueryerContext
		driver.Pinger
		driver.SessionResetter
		driver.Validator
	}); !ok {
		conn.Close()
		return nil, errors.New("sqlite statement cache: the driver's connection lacks an interface")
	}
	return c, nil
}

// take returns the compiled statement for query, marked busy, compiling
// and caching it if needed; nil when the cached one is busy, or the query
// cannot be kept (several statements in one string), so the caller runs
// it without the cache.
func (c *cachingConn) take(ctx context.Context, query string) (*cachedStmt, error) {
	c.mu.Lock()
	if el, ok := c.byQuery[query]; ok {
		cs := el.Value.(*cachedStmt)
		if cs.busy {
			c.mu.Unlock()
			return nil, nil
		}
		cs.busy = true
		c.order.MoveToFront(el)
		c.mu.Unlock()
		return cs, nil
	}
	c.mu.Unlock()
	ds, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	stmt, ok := ds.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		ds.Close()
		return nil, nil
	}
	cs := &cachedStmt{query: query, stmt: stmt, busy: true}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byQuery[query] = c.order.PushFront(cs)
	for el := c.order.Back(); c.order.Len() > stmtCacheSize && el != nil; {
		prev := el.Prev()
		if old := el.Value.(*cachedStmt); !old.busy {
			c.order.Remove(el)
			delete(c.byQuery, old.query)
			old.stmt.Close()
		}
		el = prev
	}
	return cs, nil
}

func (c *cachingConn) release(cs *cachedStmt) {
	c.mu.Lock()
	cs.busy = false
	c.mu.Unlock()
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.ExecContext(ctx, query, args)
	}
	defer c.release(cs)
	return cs.stmt.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(cs)
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func() { c.release(cs) }}, nil
}

// Close closes the kept statements, then the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	var err error
	for el := c.order.Front(); el != nil; el = el.Next() {
		err = errors.Join(err, el.Value.(*cachedStmt).stmt.Close())
	}
	c.order.Init()
	clear(c.byQuery)
	c.mu.Unlock()
	return errors.Join(err, c.conn.Close())
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.conn.PrepareContext(ctx, query)
}
func (c *cachingConn) Begin() (driver.Tx, error) { return c.conn.Begin() } //nolint:staticcheck // the driver.Conn interface
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.conn.BeginTx(ctx, opts)
}
func (c *cachingConn) Ping(ctx context.Context) error         { return c.conn.Ping(ctx) }
func (c *cachingConn) ResetSession(ctx context.Context) error { return c.conn.ResetSession(ctx) }
func (c *cachingConn) IsValid() bool                          { return c.conn.IsValid() }

// cachedRows gives its statement back when closed; closing the driver's
// rows resets the statement for its next use.
type cachedRows struct {
	driver.Rows
	release func()
	closed  bool
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.release()
	return err
}
