package web

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func readyz(t *testing.T, app *testApp) (int, readyResult) {
	t.Helper()
	res := app.client().get("/readyz")
	var r readyResult
	if err := json.Unmarshal([]byte(res.body), &r); err != nil {
		t.Fatalf("/readyz: %d %q: %v", res.status, res.body, err)
	}
	return res.status, r
}

// /readyz answers 200 while the database answers with the current schema
// and the node's job queue runs, and 503 naming the check that failed.
func TestReadyz(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var running atomic.Bool
		running.Store(true)
		app := newTestApp(t, db, func(o *Options) { o.JobsRunning = running.Load })
		if status, r := readyz(t, app); status != http.StatusOK || r != (readyResult{"ok", "ok", "ok", "ok"}) {
			t.Errorf("ready node: %d %+v", status, r)
		}
		running.Store(false)
		time.Sleep(readyCacheTime)
		if status, r := readyz(t, app); status != http.StatusServiceUnavailable || r != (readyResult{"unavailable", "ok", "ok", "stopped"}) {
			t.Errorf("job queue stopped: %d %+v", status, r)
		}
	})
}

// A node without workers has no job queue to check.
func TestReadyzWithoutWorkers(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	if status, r := readyz(t, app); status != http.StatusOK || r != (readyResult{"ok", "ok", "ok", "none"}) {
		t.Errorf("web-only node: %d %+v", status, r)
	}
}

// With its database gone the node is not ready, yet alive: /healthz
// reads nothing, so a database outage does not have every node
// restarted.
func TestReadyzDatabaseGone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		if status, _ := readyz(t, app); status != http.StatusOK {
			t.Fatalf("before: %d", status)
		}
		db.Close()
		time.Sleep(readyCacheTime)
		start := time.Now()
		status, r := readyz(t, app)
		if status != http.StatusServiceUnavailable || r != (readyResult{"unavailable", "unreachable", "unknown", "none"}) {
			t.Errorf("database closed: %d %+v", status, r)
		}
		if took := time.Since(start); took > 2*readyTimeout {
			t.Errorf("/readyz took %v with the database gone", took)
		}
		if res := app.client().get("/healthz"); res.status != http.StatusOK || res.body != "{\"status\":\"ok\"}\n" {
			t.Errorf("/healthz with the database closed: %d %s", res.status, res.body)
		}
	})
}
