package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"

	"github.com/mailschool/mailschool/internal/names"
)

// nameSkeletonsVersion is the migration that compares organization names
// and course titles for likeness. It is written in Go, for both
// databases, because SQL cannot compute a TR39 skeleton.
const nameSkeletonsVersion = 15

// nameSkeletonsMigration adds organizations.name_skeleton and
// courses.title_skeleton (names.Key of the name or title), fills them for
// the rows there are, and makes them unique, as name_key and title_key
// are. Rows that already look alike must not stop the upgrade: the oldest
// keeps its skeleton unique, and the others are marked shared
// (name_skeleton_shared, title_skeleton_shared), which leaves them out of
// the unique index, and are logged, for an admin to rename them. Whatever
// is named anew is compared with all of them.
func nameSkeletonsMigration(dialect Dialect, logger *slog.Logger) *goose.Migration {
	up := func(ctx context.Context, tx *sql.Tx) error {
		for _, stmt := range []string{
			`ALTER TABLE organizations ADD COLUMN name_skeleton TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE organizations ADD COLUMN name_skeleton_shared BOOLEAN NOT NULL DEFAULT FALSE`,
			`ALTER TABLE courses ADD COLUMN title_skeleton TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE courses ADD COLUMN title_skeleton_shared BOOLEAN NOT NULL DEFAULT FALSE`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("add skeleton columns: %w", err)
			}
		}
		q := &Queries{ex: sqlExecer{tx}, dialect: dialect}
		if err := q.recomputeNameSkeletons(ctx, logger); err != nil {
			return err
		}
		for _, stmt := range []string{
			`CREATE UNIQUE INDEX organizations_name_skeleton_idx ON organizations (name_skeleton) WHERE NOT name_skeleton_shared`,
			`CREATE UNIQUE INDEX courses_title_skeleton_idx ON courses (organization_id, title_skeleton) WHERE NOT title_skeleton_shared`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("index skeletons: %w", err)
			}
		}
		return nil
	}
	down := func(ctx context.Context, tx *sql.Tx) error {
		for _, stmt := range []string{
			`DROP INDEX courses_title_skeleton_idx`,
			`DROP INDEX organizations_name_skeleton_idx`,
			`ALTER TABLE courses DROP COLUMN title_skeleton_shared`,
			`ALTER TABLE courses DROP COLUMN title_skeleton`,
			`ALTER TABLE organizations DROP COLUMN name_skeleton_shared`,
			`ALTER TABLE organizations DROP COLUMN name_skeleton`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("drop skeletons: %w", err)
			}
		}
		return nil
	}
	return goose.NewGoMigration(nameSkeletonsVersion, &goose.GoFunc{RunTx: up}, &goose.GoFunc{RunTx: down})
}

// recomputeNameSkeletons sets the skeleton of every organization name and
// course title from names.Key, oldest row first, marking shared the
// skeletons an older row of the same scope (all organizations; the
// courses of one organization) already has, and logging each of those.
// The migration that adds the skeletons runs it; a later one runs it
// again when the confusables data that names.Key uses changes. Every row
// is marked shared first, so that no row meets a skeleton another row
// has not given up yet.
func (q *Queries) recomputeNameSkeletons(ctx context.Context, logger *slog.Logger) error {
	type named struct {
		id, scope int64
		name      string
	}
	load := func(query string) ([]named, error) {
		rs, err := q.query(ctx, query)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		var list []named
		for rs.Next() {
			var n named
			if err := rs.Scan(&n.id, &n.scope, &n.name); err != nil {
				return nil, err
			}
			list = append(list, n)
		}
		return list, rs.Err()
	}
	for _, t := range []struct {
		what, load, share, update string
	}{
		{"organization", `SELECT id, 0, name FROM organizations ORDER BY id`,
			`UPDATE organizations SET name_skeleton_shared = TRUE`,
			`UPDATE organizations SET name_skeleton = ?, name_skeleton_shared = ? WHERE id = ?`},
		{"course", `SELECT id, organization_id, title FROM courses ORDER BY id`,
			`UPDATE courses SET title_skeleton_shared = TRUE`,
			`UPDATE courses SET title_skeleton = ?, title_skeleton_shared = ? WHERE id = ?`},
	} {
		if _, err := q.exec(ctx, t.share); err != nil {
			return fmt.Errorf("recompute %s skeletons: %w", t.what, err)
		}
		list, err := load(t.load)
		if err != nil {
			return fmt.Errorf("read %s names: %w", t.what, err)
		}
		type scoped struct {
			scope    int64
			skeleton string
		}
		first := map[scoped]named{}
		for _, n := range list {
			key := scoped{n.scope, names.Key(n.name)}
			older, shared := first[key]
			if shared {
				logger.Warn("a name looks like an older one: rename one of them", "kind", t.what,
					"id", n.id, "name", n.name, "older_id", older.id, "older_name", older.name)
			} else {
				first[key] = n
			}
			if _, err := q.exec(ctx, t.update, key.skeleton, shared, n.id); err != nil {
				return fmt.Errorf("set the skeleton of %s %d: %w", t.what, n.id, err)
			}
		}
	}
	return nil
}
