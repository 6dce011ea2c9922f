package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"
)

// MigrateTo applies the application's migrations up to version, for tests
// of a migration on the data of the ones before it.
func (db *DB) MigrateTo(ctx context.Context, logger *slog.Logger, version int64) error {
	return db.migrateTo(ctx, logger, version)
}

// MigrateDownTo undoes the application's migrations after version, so that
// a test can write rows as they were before a migration and apply it again.
func (db *DB) MigrateDownTo(ctx context.Context, version int64) error {
	return db.withMigrations(slog.New(slog.DiscardHandler), func(provider *goose.Provider) error {
		_, err := provider.DownTo(ctx, version)
		return err
	})
}

// NameSkeletonsVersion is the migration that adds name skeletons.
const NameSkeletonsVersion = nameSkeletonsVersion

// Exec runs a statement in a transaction, for tests that write what the
// query methods of an older schema would have.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	return db.InTx(ctx, func(q *Queries) error {
		_, err := q.exec(ctx, query, args...)
		return err
	})
}

// QueryInt returns the one integer that a query answers.
func (db *DB) QueryInt(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := db.Read().queryRow(ctx, query, args...).Scan(&n)
	return n, err
}

// QueryString returns the one text that a query answers.
func (db *DB) QueryString(ctx context.Context, query string, args ...any) (string, error) {
	var s string
	err := db.Read().queryRow(ctx, query, args...).Scan(&s)
	return s, err
}

// ExportPlans returns the plans of the statements that read a page of the
// enrollments export (for these enrollment ids) and of the learners
// export: SQLite's, or PostgreSQL's for these values.
func (db *DB) ExportPlans(ctx context.Context, orgID, courseID int64, ids []int64) ([]QueryPlan, error) {
	q := db.Read()
	in, arg := q.idIn("enrollment_id", ids)
	statements := []struct {
		name, query string
		args        []any
	}{
		{"enrollments", q.enrollmentExportQuery(), []any{orgID, courseID, int64(0), int64(0), 1000}},
		{"quiz results", quizResultsQuery(in), []any{orgID, arg}},
		{"learners", q.learnerExportQuery(), []any{orgID, "", 1000}},
	}
	var plans []QueryPlan
	for _, st := range statements {
		var (
			lines []string
			err   error
		)
		if db.dialect == SQLite {
			lines, err = sqlitePlan(ctx, q, st.query, st.args)
		} else {
			lines, err = textPlan(ctx, q, "EXPLAIN "+q.rebind(st.query), st.args...)
		}
		if err != nil {
			return nil, fmt.Errorf("plan of %s: %w", st.name, err)
		}
		plans = append(plans, QueryPlan{Name: st.name, Lines: lines})
	}
	return plans, nil
}

// Vacuum runs VACUUM ANALYZE on PostgreSQL (outside a transaction, as it
// must be), so that the visibility map allows index-only scans as
// autovacuum would on a live install; ANALYZE on SQLite.
func (db *DB) Vacuum(ctx context.Context) error {
	if db.dialect == SQLite {
		return db.Exec(ctx, `ANALYZE`)
	}
	_, err := db.pg.Exec(ctx, `VACUUM ANALYZE`)
	return err
}

// AnalyzedEnrollmentExportPage runs a page of the enrollments export
// under PostgreSQL's EXPLAIN ANALYZE and returns the plan with the rows
// each step read.
func (db *DB) AnalyzedEnrollmentExportPage(ctx context.Context, orgID, courseID, afterLearner int64, limit int) ([]string, error) {
	q := db.Read()
	return textPlan(ctx, q, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "+q.rebind(q.enrollmentExportQuery()),
		orgID, courseID, afterLearner, afterLearner, limit)
}
