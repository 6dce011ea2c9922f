package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
)

// TestBackupAndRestore takes a backup while serve runs and another process
// writes as fast as it can, then restores it with everything stopped: the
// backup holds every row committed before it began and passes SQLite's
// integrity check, and the restored database is that backup, migrated and
// served. A restore refuses to replace a database in use, and refuses files
// that are not mailschool databases.
func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"MAILSCHOOL_DATA_DIR": filepath.Join(dir, "data")}
	base, stop := startServer(t, env)
	ctx := context.Background()

	writer, err := store.Open(ctx, "", env["MAILSCHOOL_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	var (
		mu        sync.Mutex
		committed []string
		done      = make(chan struct{})
		stopped   = make(chan error, 1)
	)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				stopped <- nil
				return
			default:
			}
			email := fmt.Sprintf("learner%d@example.com", i)
			if err := writer.InTx(ctx, func(q *store.Queries) error {
				_, err := q.CreateUser(ctx, store.NewUser{Email: email, PasswordHash: "x"})
				return err
			}); err != nil {
				stopped <- err
				return
			}
			mu.Lock()
			committed = append(committed, email)
			mu.Unlock()
		}
	}()
	for n := 0; n < 100; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n = len(committed)
		mu.Unlock()
	}
	mu.Lock()
	before := slices.Clone(committed)
	mu.Unlock()

	file := filepath.Join(dir, "backup.db")
	r := runCommand(t, env, "", "backup", "--to", file)
	if r.code != 0 || !strings.Contains(r.stdout, "Backed up to "+file) || !strings.Contains(r.stdout, "integrity check passed") {
		t.Fatalf("backup: %+v", r)
	}
	close(done)
	if err := <-stopped; err != nil {
		t.Fatalf("the writer failed during the backup: %v", err)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the backup's mode is %v (%v), want 0600: it holds session keys", info.Mode().Perm(), err)
	}
	inBackup := usersIn(t, file)
	for _, email := range before {
		if !inBackup[email] {
			t.Fatalf("%s was committed before the backup began but is not in it (%d of %d rows)", email, len(inBackup), len(before))
		}
	}
	if got := integrity(t, file); got != "ok" {
		t.Fatalf("integrity check of the backup: %s", got)
	}
	t.Logf("backup under load: %d rows committed before it began, %d in it", len(before), len(inBackup))

	if r := runCommand(t, env, "", "backup", "--to", file); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("a backup over an existing file: %+v", r)
	}
	if r := runCommand(t, env, "", "restore", "--from", file); r.code != 1 || !strings.Contains(r.stderr, "the database is in use") {
		t.Errorf("a restore while serve runs: %+v", r)
	}
	if res, err := http.Get(base + "/healthz"); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("after the refused restore, serve answers %v, %v", res, err)
	} else {
		res.Body.Close()
	}
	stop()
	writer.Close()

	r = runCommand(t, env, "", "restore", "--from", file)
	if r.code != 0 || !strings.Contains(r.stdout, "Restored "+file) || !strings.Contains(r.stdout, "is kept as ") {
		t.Fatalf("restore: %+v", r)
	}
	path := filepath.Join(env["MAILSCHOOL_DATA_DIR"], "mailschool.db")
	restored := usersIn(t, path)
	if len(restored) != len(inBackup) {
		t.Errorf("the restored database has %d users, the backup %d", len(restored), len(inBackup))
	}
	kept, _ := filepath.Glob(path + ".before-restore-*")
	if len(kept) != 1 || len(usersIn(t, kept[0])) <= len(inBackup) {
		t.Errorf("the replaced database is not kept whole beside it: %v", kept)
	}
	_, stop = startServer(t, env)
	stop()

	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600)
	if r := runCommand(t, env, "", "restore", "--from", garbage); r.code != 1 || !strings.Contains(r.stderr, "not a SQLite database") {
		t.Errorf("restore of a file that is not a database: %+v", r)
	}
	other := filepath.Join(dir, "other.db")
	if db, err := sql.Open("sqlite", other); err != nil {
		t.Fatal(err)
	} else {
		db.Exec(`CREATE TABLE notes (body TEXT)`)
		db.Close()
	}
	if r := runCommand(t, env, "", "restore", "--from", other); r.code != 1 || !strings.Contains(r.stderr, "not a mailschool database") {
		t.Errorf("restore of another program's database: %+v", r)
	}
	if got := usersIn(t, path); len(got) != len(inBackup) {
		t.Errorf("a refused restore changed the database: %d users, want %d", len(got), len(inBackup))
	}

	pg := map[string]string{"MAILSCHOOL_DATABASE_URL": "postgres://mailschool@localhost/mailschool", "MAILSCHOOL_DATA_DIR": filepath.Join(dir, "pg")}
	for _, args := range [][]string{{"backup", "--to", filepath.Join(dir, "pg.db")}, {"restore", "--from", file}} {
		if r := runCommand(t, pg, "", args...); r.code != 1 || !strings.Contains(r.stderr, "pg_dump") {
			t.Errorf("%s of PostgreSQL: %+v", args[0], r)
		}
	}
}

// usersIn reads the users' addresses of a SQLite file without changing it.
func usersIn(t *testing.T, path string) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT email FROM users`)
	if err != nil {
		t.Fatalf("read users of %s: %v", path, err)
	}
	defer rows.Close()
	users := map[string]bool{}
	for rows.Next() {
		var email string
		rows.Scan(&email)
		users[email] = true
	}
	return users
}

func integrity(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&result); err != nil {
		t.Fatal(err)
	}
	return result
}
