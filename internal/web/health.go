package web

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mailschool/mailschool/internal/store"
)

// health says that the process is alive and serving requests, for
// liveness probes: it reads nothing, so a database outage does not get
// every node restarted (readiness, /readyz, takes the node out of the
// load balancer instead).
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ready answers 200 when this node can serve: its database answers
// within readyTimeout, its schema is the one this build migrates to, and
// on a node with workers the job queue runs. Otherwise 503, naming the
// check that failed. A result is served again for readyCacheTime, so
// probes every second from several balancers cost the database one
// trivial query a second.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	res := s.readiness.check(r.Context())
	status := http.StatusOK
	if res.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, res)
}

const (
	readyTimeout   = time.Second
	readyCacheTime = time.Second
)

// readyResult is /readyz's answer: the overall status and each check's.
type readyResult struct {
	Status     string `json:"status"`     // "ok" or "unavailable"
	Database   string `json:"database"`   // "ok" or "unreachable"
	Migrations string `json:"migrations"` // "ok", "pending" or "unknown" (database unreachable)
	Jobs       string `json:"jobs"`       // "ok", "stopped", or "none" on a node without workers
}

type readiness struct {
	db          *store.DB
	jobsRunning func() bool // nil: no workers on this node

	mu      sync.Mutex
	at      time.Time
	checked readyResult
}

func (rd *readiness) check(ctx context.Context) readyResult {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if !rd.at.IsZero() && time.Since(rd.at) < readyCacheTime {
		return rd.checked
	}
	// The probe's own request may end first; the check still runs to the
	// end, so the next probe gets its answer.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	res := readyResult{Status: "ok", Database: "ok", Migrations: "ok", Jobs: "none"}
	// One query proves both that the database answers and that it holds
	// the schema this build expects.
	switch applied, err := rd.db.AppliedMigration(ctx); {
	case err != nil:
		res.Status, res.Database, res.Migrations = "unavailable", "unreachable", "unknown"
	case applied < rd.db.LatestMigration():
		res.Status, res.Migrations = "unavailable", "pending"
	}
	if rd.jobsRunning != nil {
		res.Jobs = "ok"
		if !rd.jobsRunning() {
			res.Status, res.Jobs = "unavailable", "stopped"
		}
	}
	rd.at, rd.checked = time.Now(), res
	return res
}

// metricsPath is where the metrics are served.
const metricsPath = "/metrics"

// serveMetrics serves the Prometheus metrics when they are on: to anyone,
// or, with a token configured, to requests bearing it (401 otherwise).
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		s.notFound(w, r)
		return
	}
	if s.metricsToken != "" && !bearerMatches(r, s.metricsToken) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
		writeJSONError(w, http.StatusUnauthorized, "not_authenticated", "The metrics need their bearer token.")
		return
	}
	s.metrics.Handler().ServeHTTP(w, r)
}

// bearerMatches reports whether r carries token as its bearer token,
// compared in constant time so that the time taken tells nothing of it.
func bearerMatches(r *http.Request, token string) bool {
	scheme, given, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(given)), []byte(token)) == 1
}
