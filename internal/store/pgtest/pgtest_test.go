package pgtest_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/mailschool/mailschool/internal/store/pgtest"
)

func TestMain(m *testing.M) {
	m.Run()
	pgtest.Stop()
}

func TestServer(t *testing.T) {
	url, err := pgtest.Server()
	if err != nil {
		if pgtest.Required() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	// Tests create a database each, which needs a superuser.
	for _, q := range []string{"CREATE DATABASE x", "DROP DATABASE x"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	again, err := pgtest.Server()
	if err != nil || again != url {
		t.Errorf("second Server() = %q, %v; want %q", again, err, url)
	}
}

func TestRequired(t *testing.T) {
	t.Setenv("CI", "true")
	if !pgtest.Required() {
		t.Error("Required() = false with CI=true")
	}
	t.Setenv("CI", "")
	if pgtest.Required() {
		t.Error("Required() = true without CI")
	}
}
