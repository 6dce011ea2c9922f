package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// QueryPlan is how the database runs a query: the lines of EXPLAIN QUERY
// PLAN on SQLite, of EXPLAIN on PostgreSQL.
type QueryPlan struct {
	Name  string // which plan
	Lines []string
}

func (p QueryPlan) String() string {
	return p.Name + ":\n  " + strings.Join(p.Lines, "\n  ")
}

// DueDeliveriesPlans returns the plans of DueDeliveries' query with these
// arguments, for benchmarks and for the test that it reads
// deliveries_due_idx. SQLite gives one plan. PostgreSQL gives two: the
// plan for these values, and the generic plan that a statement prepared
// once and run many times can settle on (pgx prepares and caches
// statements, and PostgreSQL switches to the generic plan after five runs
// when it costs no more).
func (db *DB) DueDeliveriesPlans(ctx context.Context, t time.Time, from DueRef, limit int) ([]QueryPlan, error) {
	args := dueDeliveriesArgs(t, from, limit)
	if db.dialect == SQLite {
		lines, err := sqlitePlan(ctx, db.Read(), dueDeliveriesQuery, args)
		if err != nil {
			return nil, err
		}
		return []QueryPlan{{Name: "SQLite query plan", Lines: lines}}, nil
	}
	q := db.Read()
	custom, err := textPlan(ctx, q, "EXPLAIN "+q.rebind(dueDeliveriesQuery), args...)
	if err != nil {
		return nil, err
	}
	plans := []QueryPlan{{Name: "PostgreSQL plan for these values", Lines: custom}}
	generic, err := genericPlan(ctx, db, q.rebind(dueDeliveriesQuery), args)
	if err != nil {
		return nil, err
	}
	return append(plans, QueryPlan{Name: "PostgreSQL generic plan", Lines: generic}), nil
}

// AuditLogPlans returns the plans of FilteredAuditLog's query with these
// arguments, for the test that each filter reads an index: SQLite's plan,
// or PostgreSQL's plan for these values and its generic plan.
func (db *DB) AuditLogPlans(ctx context.Context, orgID int64, f AuditFilter, limit int) ([]QueryPlan, error) {
	q := db.Read()
	query, args := q.auditLogQuery(orgID, f, limit)
	if db.dialect == SQLite {
		lines, err := sqlitePlan(ctx, q, query, args)
		return []QueryPlan{{Name: "SQLite query plan", Lines: lines}}, err
	}
	custom, err := textPlan(ctx, q, "EXPLAIN "+q.rebind(query), args...)
	if err != nil {
		return nil, err
	}
	generic, err := genericPlan(ctx, db, q.rebind(query), args)
	if err != nil {
		return nil, err
	}
	return []QueryPlan{{Name: "PostgreSQL plan for these values", Lines: custom}, {Name: "PostgreSQL generic plan", Lines: generic}}, nil
}

// OrganizationMembersPlans returns the plans of OrganizationMembers' query
// for this page: SQLite's, or PostgreSQL's for these values and its
// generic one (see DueDeliveriesPlans).
func (db *DB) OrganizationMembersPlans(ctx context.Context, orgID int64, offset, limit int) ([]QueryPlan, error) {
	q := db.Read()
	args := []any{orgID, limit, offset}
	if db.dialect == SQLite {
		lines, err := sqlitePlan(ctx, q, q.organizationMembersQuery(), args)
		return []QueryPlan{{Name: "SQLite query plan", Lines: lines}}, err
	}
	custom, err := textPlan(ctx, q, "EXPLAIN "+q.rebind(q.organizationMembersQuery()), args...)
	if err != nil {
		return nil, err
	}
	generic, err := genericPlan(ctx, db, q.rebind(q.organizationMembersQuery()), args)
	if err != nil {
		return nil, err
	}
	return []QueryPlan{{Name: "PostgreSQL plan for these values", Lines: custom}, {Name: "PostgreSQL generic plan", Lines: generic}}, nil
}

// ClaimDeliveriesPlan returns the plan of ClaimDeliveries' statement for
// these ids, which does not change them.
func (db *DB) ClaimDeliveriesPlan(ctx context.Context, ids []int64) (QueryPlan, error) {
	q := db.Read()
	query, args := q.claimDeliveries(ids)
	if db.dialect == SQLite {
		lines, err := sqlitePlan(ctx, q, query, args)
		return QueryPlan{Name: "SQLite query plan", Lines: lines}, err
	}
	lines, err := textPlan(ctx, q, "EXPLAIN "+q.rebind(query), args...)
	return QueryPlan{Name: "PostgreSQL plan for these values", Lines: lines}, err
}

// CourseQuizAttemptsPlans returns the plans of CourseQuizAttempts' query
// with this filter: SQLite's, or PostgreSQL's for these values and its
// generic one (see DueDeliveriesPlans).
func (db *DB) CourseQuizAttemptsPlans(ctx context.Context, f QuizAttemptFilter) ([]QueryPlan, error) {
	query, args := courseQuizAttempts(f)
	q := db.Read()
	if db.dialect == SQLite {
		lines, err := sqlitePlan(ctx, q, query, args)
		return []QueryPlan{{Name: "SQLite query plan", Lines: lines}}, err
	}
	custom, err := textPlan(ctx, q, "EXPLAIN "+q.rebind(query), args...)
	if err != nil {
		return nil, err
	}
	generic, err := genericPlan(ctx, db, q.rebind(query), args)
	if err != nil {
		return nil, err
	}
	return []QueryPlan{{Name: "PostgreSQL plan for these values", Lines: custom}, {Name: "PostgreSQL generic plan", Lines: generic}}, nil
}

// genericPlan prepares query on a connection of its own and explains its
// generic plan. The connection is closed afterwards rather than put back,
// so the setting and the prepared statement go with it.
func genericPlan(ctx context.Context, db *DB, query string, args []any) ([]string, error) {
	literals := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			literals[i] = "'" + v.UTC().Format("2006-01-02 15:04:05.999999Z07:00") + "'"
		case int:
			literals[i] = strconv.Itoa(v)
		case int64:
			literals[i] = strconv.FormatInt(v, 10)
		case string:
			literals[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			return nil, fmt.Errorf("explain: argument %d of type %T", i, a)
		}
	}
	conn, err := db.pg.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer conn.Release()
	defer conn.Conn().Close(context.WithoutCancel(ctx))
	q := &Queries{ex: pgxExecer{conn}, dialect: Postgres}
	for _, stmt := range []string{`SET plan_cache_mode = force_generic_plan`, `PREPARE mailschool_explain AS ` + query} {
		if _, err := q.ex.exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("explain: %w", err)
		}
	}
	return textPlan(ctx, q, `EXPLAIN EXECUTE mailschool_explain (`+strings.Join(literals, ", ")+`)`)
}

// textPlan runs a PostgreSQL EXPLAIN and returns its lines.
func textPlan(ctx context.Context, q *Queries, explain string, args ...any) ([]string, error) {
	rs, err := q.ex.query(ctx, explain, args...)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer rs.Close()
	var lines []string
	for rs.Next() {
		var line string
		if err := rs.Scan(&line); err != nil {
			return nil, fmt.Errorf("explain: %w", err)
		}
		lines = append(lines, line)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	return lines, nil
}

// sqlitePlan runs EXPLAIN QUERY PLAN and returns its steps, indented
// under their parents.
func sqlitePlan(ctx context.Context, q *Queries, query string, args []any) ([]string, error) {
	rs, err := q.ex.query(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer rs.Close()
	depth := map[int64]int{}
	var lines []string
	for rs.Next() {
		var (
			id, parent, unused int64
			detail             string
		)
		if err := rs.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, fmt.Errorf("explain: %w", err)
		}
		depth[id] = depth[parent] + 1
		lines = append(lines, strings.Repeat("  ", depth[id]-1)+detail)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	return lines, nil
}
