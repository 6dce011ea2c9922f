package store_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/mailschool/mailschool/internal/store"
)

// TestSQLiteSuspensionMigrationKeepsDeliveries: migration 00028 rebuilds
// the deliveries table on SQLite. The quiz attempts that reference a
// delivery stay, and the id of a deleted newest delivery is not handed out
// again; undoing it gives the held deliveries back to the pass.
func TestSQLiteSuspensionMigrationKeepsDeliveries(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.MigrateTo(ctx, quiet, 27); err != nil {
		t.Fatalf("migrate to 27: %v", err)
	}
	const at = `'2026-01-01 00:00:00'`
	for _, stmt := range []string{
		`INSERT INTO organizations (id, name, name_key, slug, created_at, updated_at) VALUES (2, 'Kept', 'kept', 'kept', ` + at + `, ` + at + `)`,
		`INSERT INTO courses (id, organization_id, title, title_key, slug, created_at, updated_at) VALUES (7, 2, 'C', 'c', 'c', ` + at + `, ` + at + `)`,
		`INSERT INTO content_items (id, organization_id, course_id, kind, title, position, created_at, updated_at) VALUES (4, 2, 7, 'quiz', 'Q', 1, ` + at + `, ` + at + `)`,
		`INSERT INTO learners (id, organization_id, email, created_at, updated_at) VALUES (3, 2, 'a@example.com', ` + at + `, ` + at + `)`,
		`INSERT INTO enrollments (id, organization_id, course_id, learner_id, status, link_key, created_at, updated_at) VALUES (5, 2, 7, 3, 'active', 'k', ` + at + `, ` + at + `)`,
		`INSERT INTO deliveries (id, organization_id, enrollment_id, content_id, attempt, due_at, status, created_at, updated_at) VALUES
			(8, 2, 5, 4, 1, ` + at + `, 'sent', ` + at + `, ` + at + `), (9, 2, 5, 4, 2, ` + at + `, 'scheduled', ` + at + `, ` + at + `)`,
		`INSERT INTO quiz_attempts (organization_id, enrollment_id, delivery_id, content_id, attempt, score, passed, answers, created_at)
			VALUES (2, 5, 8, 4, 1, 50, FALSE, '{}', ` + at + `)`,
		`DELETE FROM deliveries WHERE id = 9`,
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
	if n := count(`SELECT count(*) FROM quiz_attempts WHERE delivery_id = 8`); n != 1 {
		t.Errorf("%d quiz attempts of delivery 8 after the migration, want 1", n)
	}
	if n := count(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'deliveries_due_idx'`); n != 1 {
		t.Errorf("index deliveries_due_idx lost")
	}
	if err := db.Exec(ctx, `INSERT INTO deliveries (organization_id, enrollment_id, content_id, attempt, due_at, status, created_at, updated_at)
		VALUES (2, 5, 4, 3, `+at+`, 'held', `+at+`, `+at+`)`); err != nil {
		t.Fatalf("a held delivery: %v", err)
	}
	if n := count(`SELECT max(id) FROM deliveries`); n != 10 {
		t.Errorf("new delivery got id %d, want 10 (9 was used before)", n)
	}
	// Deleting the delivery still cascades to its attempt.
	if err := db.Exec(ctx, `DELETE FROM deliveries WHERE id = 8`); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM quiz_attempts`); n != 0 {
		t.Errorf("%d quiz attempts of a deleted delivery left", n)
	}
	if err := db.MigrateDownTo(ctx, 27); err != nil {
		t.Fatalf("migrate down to 27: %v", err)
	}
	if n := count(`SELECT count(*) FROM deliveries WHERE id = 10 AND status = 'scheduled'`); n != 1 {
		t.Errorf("the held delivery is not scheduled again after undoing the migration")
	}
}
