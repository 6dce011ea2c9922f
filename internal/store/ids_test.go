package store_test

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// A deleted row's id must never name another row: signed links and
// Message-IDs name rows by id, and SQLite without AUTOINCREMENT hands the
// id of a deleted newest row to the next one.
func TestIDsOfDeletedRowsAreNeverReused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		newOrg := func(name string) int64 {
			t.Helper()
			var id int64
			err := db.InTx(ctx, func(q *store.Queries) error {
				org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: name, NameKey: name, NameSkeleton: names.Key(name), Slug: name})
				id = org.ID
				return err
			})
			if err != nil {
				t.Fatalf("create organization %s: %v", name, err)
			}
			return id
		}
		newCourse := func(orgID int64, title string) int64 {
			t.Helper()
			var id int64
			err := db.InTx(ctx, func(q *store.Queries) error {
				var err error
				id, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: orgID, Title: title, TitleKey: title, TitleSkeleton: names.Key(title), Slug: title})
				return err
			})
			if err != nil {
				t.Fatalf("create course %s: %v", title, err)
			}
			return id
		}

		attacker := newOrg("attacker")
		course := newCourse(attacker, "newest")
		err := db.InTx(ctx, func(q *store.Queries) error { return q.DeleteOrganization(ctx, attacker) })
		if err != nil {
			t.Fatalf("delete organization: %v", err)
		}
		if next := newOrg("victim"); next <= attacker {
			t.Errorf("organization after deleting %d got id %d", attacker, next)
		}
		victim := newOrg("victim2")
		if next := newCourse(victim, "course"); next <= course {
			t.Errorf("course after deleting %d got id %d", course, next)
		}
	})
}

// Every table whose rows have an integer id keeps its ids for good on
// SQLite, including tables added later.
func TestSQLiteTablesUseAutoincrement(t *testing.T) {
	db := storetest.NewSQLite(t)
	ctx := context.Background()
	plainID := regexp.MustCompile(`(?m)^\s*"?id"?\s+INTEGER\s+PRIMARY\s+KEY\s*,`)
	all, err := db.QueryString(ctx, `SELECT group_concat(name || char(31) || sql, char(30)) FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, table := range strings.Split(all, "\x1e") {
		name, sql, _ := strings.Cut(table, "\x1f")
		if plainID.MatchString(sql) {
			t.Errorf("table %s has an id without AUTOINCREMENT:\n%s", name, sql)
		}
		if strings.Contains(sql, "AUTOINCREMENT") {
			checked++
		}
	}
	if checked < 15 {
		t.Errorf("%d tables with AUTOINCREMENT, want every table with an integer id", checked)
	}
}

// Upgrading an install rebuilds its tables with everything in them: rows,
// ids, indexes, and the foreign keys that cascade.
func TestSQLiteIDMigrationKeepsData(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.MigrateTo(ctx, quiet, 10); err != nil {
		t.Fatalf("migrate to 10: %v", err)
	}
	for _, stmt := range []string{
		`INSERT INTO organizations (id, name, name_key, slug, created_at, updated_at) VALUES (2, 'Kept', 'kept', 'kept', '2026-01-01 00:00:00', '2026-01-01 00:00:00')`,
		`INSERT INTO courses (id, organization_id, title, title_key, slug, created_at, updated_at) VALUES (7, 2, 'C', 'c', 'c', '2026-01-01 00:00:00', '2026-01-01 00:00:00')`,
		`INSERT INTO learners (id, organization_id, email, created_at, updated_at) VALUES (3, 2, 'a@example.com', '2026-01-01 00:00:00', '2026-01-01 00:00:00')`,
		`INSERT INTO enrollments (id, organization_id, course_id, learner_id, status, created_at, updated_at) VALUES (5, 2, 7, 3, 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00')`,
	} {
		if err := db.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Migrate(ctx, quiet); err != nil {
		t.Fatalf("migrate: %v", err)
	}

	count := func(query string) int64 {
		t.Helper()
		n, err := db.QueryInt(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM enrollments WHERE id = 5 AND course_id = 7 AND learner_id = 3`); n != 1 {
		t.Errorf("enrollment 5 not kept as it was")
	}
	if n := count(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'enrollments_learner_idx'`); n != 1 {
		t.Errorf("index enrollments_learner_idx lost")
	}
	if n := count(`SELECT count(*) FROM pragma_foreign_keys`); n != 1 {
		t.Errorf("foreign keys left off after the migration")
	}
	// Deleting the organization still cascades to what it owns.
	if err := db.Exec(ctx, `DELETE FROM organizations WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT (SELECT count(*) FROM courses) + (SELECT count(*) FROM learners) + (SELECT count(*) FROM enrollments)`); n != 0 {
		t.Errorf("%d rows of a deleted organization left", n)
	}
	// The next id is past the largest kept, even now that it is deleted.
	if err := db.Exec(ctx, `INSERT INTO organizations (name, name_key, slug, created_at, updated_at) VALUES ('New', 'new', 'new', '2026-01-02 00:00:00', '2026-01-02 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT max(id) FROM organizations`); n <= 2 {
		t.Errorf("new organization got id %d, the id of the deleted one or lower", n)
	}
}
