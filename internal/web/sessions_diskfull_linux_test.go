package web

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of the given size (as mount's size= option) on
// a temporary directory, unmounted when the test ends. Without the right
// to mount (not root, or a container without the capability) the test is
// skipped.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system is full.
func fillDisk(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			return f
		}
	}
}

// With the disk full, requests that change something answer either
// success with the change stored, or an error with nothing stored; the
// session's own writes, which fail too, change no answer. SQLite appends
// each transaction to the write-ahead log, so the log is emptied first
// and the disk then filled: every transaction must grow the log, and
// freeing a few pages at a time lets through now a whole change, now only
// part of one.
func TestDiskFullAnswers(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	db, raw := sqliteIn(t, dir)
	app := newTestApp(t, db)
	admin := app.loggedIn(adminEmail, adminPassword)

	var busy, logFrames, checkpointed int
	if err := raw.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil || busy != 0 {
		t.Fatalf("empty the write-ahead log: busy %d, %v", busy, err)
	}
	filler := fillDisk(t, dir)
	size, err := filler.Seek(0, 1)
	if err != nil {
		t.Fatal(err)
	}

	type attempt struct {
		name, kind string
		status     int
		body       string
	}
	var attempts []attempt
	for i := range 60 {
		// Room for a few more pages of the log, from 1 to 12, so that
		// some changes fit whole, some not at all and some only in part
		// (before or after the session's write, say).
		size -= int64(i%12+1) * 4096
		if err := filler.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			name := fmt.Sprintf("API %d", i)
			res, _ := admin.api(http.MethodPost, "/api/v1/organizations", map[string]string{"name": name})
			attempts = append(attempts, attempt{name, "api", res.status, res.body})
		} else {
			// A form whose answer puts a message in the session.
			name := fmt.Sprintf("Form %d", i)
			res := admin.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": name})
			attempts = append(attempts, attempt{name, "form", res.status, res.body})
		}
	}
	// Room again, for checking and for the cleanup.
	if err := filler.Truncate(0); err != nil {
		t.Fatal(err)
	}

	counts := map[string]int{}
	for _, a := range attempts {
		stored := countRows(t, raw, `SELECT count(*) FROM organizations WHERE name = ?`, a.name) == 1
		counts[fmt.Sprintf("%s %d stored=%v", a.kind, a.status, stored)]++
		if a.kind == "api" {
			if why := oneJSONDocument(a.body); why != "" {
				t.Errorf("%s: %d, body is not one JSON document (%s):\n%s", a.name, a.status, why, a.body)
			}
		}
		switch {
		case a.status >= 500 && stored:
			t.Errorf("%s: %d, but the organization was stored\n%s", a.name, a.status, a.body)
		case a.status < 400 && !stored:
			t.Errorf("%s: %d, but the organization was not stored\n%s", a.name, a.status, a.body)
		case a.status >= 400 && a.status < 500:
			t.Errorf("%s: %d\n%s", a.name, a.status, a.body)
		}
	}
	t.Logf("answers: %v", counts)
	if counts["api 201 stored=true"] == 0 || counts["api 500 stored=false"] == 0 ||
		counts["form 303 stored=true"] == 0 || counts["form 500 stored=false"] == 0 {
		t.Errorf("the disk never let through some changes and refused others: %v", counts)
	}
	if res := admin.get("/api/v1/me"); res.status != http.StatusOK || !strings.Contains(res.body, adminEmail) {
		t.Errorf("after the disk filled, GET /api/v1/me: %d\n%s", res.status, res.body)
	}
}
