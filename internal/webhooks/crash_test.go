package webhooks_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// eachReopenable runs fn with the address of a fresh, migrated database
// of each dialect, which fn may open as often as it likes.
func eachReopenable(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "mailschool.db")
		db, err := store.Open(context.Background(), dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		err = db.Migrate(context.Background(), quietLog)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		fn(t, dsn)
	})
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.NewPostgresURL(t)) })
}

// quickRetry runs a cancelled job again at once, as the delivery crash
// tests do.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(20 * time.Millisecond)
}

// webhookNode is one process as far as webhooks go: its own connections,
// dispatcher and River client working the webhook queue with its pass.
type webhookNode struct {
	db   *store.DB
	jobs *store.Jobs
}

func startWebhookNode(t *testing.T, name, dsn string, rc *receiver) *webhookNode {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	d := webhooks.NewDispatcher(db, webhooks.Config{Guard: loopback(rc), NoJitter: true, Backoff: []time.Duration{50 * time.Millisecond},
		PassInterval: 100 * time.Millisecond, Round: 20, Concurrency: 8, Logger: quietLog})
	workers := river.NewWorkers()
	d.AddWorkers(workers)
	jobs, err := db.NewJobs(&river.Config{ID: name, Workers: workers, Logger: quietLog, TestOnly: true,
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond, RetryPolicy: quickRetry{},
		Queues: map[string]river.QueueConfig{webhooks.Queue: webhooks.QueueConfig}, PeriodicJobs: d.PeriodicJobs()})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	if err := jobs.Start(context.Background()); err != nil {
		db.Close()
		t.Fatal(err)
	}
	return &webhookNode{db: db, jobs: jobs}
}

// crash cancels the running jobs mid-way, requests in flight with them,
// and closes the connections, as a crash would.
func (n *webhookNode) crash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := n.jobs.StopAndCancel(ctx)
	n.db.Close()
	if err != nil {
		t.Fatalf("StopAndCancel: %v", err)
	}
}

// TestDispatcherCrashAndRestart writes messages for two endpoints and
// sends them with a node crashed at random moments, requests in flight,
// and started afresh until every message is delivered. Every event must
// arrive, the first arrivals of each subject's events in order, and an
// event may arrive twice only when a crash cut its round off between the
// request and the recording of its outcome, with the same webhook-id:
// at most a round per endpoint and crash.
func TestDispatcherCrashAndRestart(t *testing.T) {
	eachReopenable(t, func(t *testing.T, dsn string) {
		seed := uint64(time.Now().UnixNano())
		if s := os.Getenv("MAILSCHOOL_CRASH_SEED"); s != "" {
			seed, _ = strconv.ParseUint(s, 10, 64)
		}
		t.Logf("crash moments from seed %d (MAILSCHOOL_CRASH_SEED replays them)", seed)
		rng := rand.New(rand.NewPCG(seed, 5))
		db, err := store.Open(context.Background(), dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.NewJobs(&river.Config{Logger: quietLog}); err != nil {
			t.Fatal(err)
		}
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		rc := newReceiver(t, "", true, func(r received, seen int) int {
			time.Sleep(time.Duration(r.at.UnixNano()%5) * time.Millisecond) // in flight a while
			return http.StatusOK
		})
		var eps []store.WebhookEndpoint
		rc.secrets = map[string]string{}
		for i := range 2 {
			path := fmt.Sprintf("/endpoint-%d", i+1)
			ep := newEndpoint(t, db, orgID, rc.srv.URL+path)
			rc.secrets[path] = ep.Secret
			eps = append(eps, ep)
		}
		const subjects, perSubject = 30, 4
		var list []string
		for i := range subjects * perSubject {
			list = append(list, fmt.Sprintf("enrollment:%d", i%subjects))
		}
		written := map[int64][]string{}
		subjectOf := map[string]string{}
		for _, ep := range eps {
			ids := addMessages(t, db, ep, time.Now(), nil, list...)
			written[ep.ID] = ids
			for i, id := range ids {
				subjectOf[id] = list[i]
			}
		}

		start := time.Now()
		crashes := 0
		for i := 1; ; i++ {
			n := startWebhookNode(t, fmt.Sprintf("node-%d", i), dsn, rc)
			// A node lives until a few more requests came, or for a while,
			// whichever is first: a fast one would otherwise send everything
			// before its time is up and never crash.
			life := time.Duration(20+rng.IntN(200)) * time.Millisecond
			until := len(rc.requests()) + 1 + rng.IntN(50)
			if crashes == 8 {
				life, until = time.Minute, math.MaxInt
			}
			done := false
			for deadline := time.Now().Add(life); time.Now().Before(deadline) && !done && len(rc.requests()) < until; time.Sleep(2 * time.Millisecond) {
				done = pending(t, db, orgID, eps) == 0
			}
			n.crash(t)
			if done {
				break
			}
			if crashes == 8 {
				t.Fatalf("not done a minute after the last crash: %d pending", pending(t, db, orgID, eps))
			}
			crashes++
			t.Logf("crash %d after %v: %d requests received", crashes, life, len(rc.requests()))
		}

		got := rc.requests()
		received := map[string]int{}
		firstOrder := map[string][]string{} // subject -> event ids in first-arrival order
		for _, r := range got {
			received[r.id]++
			if received[r.id] == 1 {
				firstOrder[subjectOf[r.id]] = append(firstOrder[subjectOf[r.id]], r.id)
			}
		}
		duplicates := len(got) - len(received)
		// Both endpoints share the events' subjects, and the event ids are
		// their own per endpoint: each endpoint's events of a subject
		// must have arrived in the order written.
		for _, ep := range eps {
			for s := range subjects {
				subject := fmt.Sprintf("enrollment:%d", s)
				var want, order []string
				for i, id := range written[ep.ID] {
					if list[i] == subject {
						want = append(want, id)
					}
				}
				for _, id := range firstOrder[subject] {
					if slices.Contains(want, id) {
						order = append(order, id)
					}
				}
				if !slices.Equal(order, want) {
					t.Errorf("endpoint %d, %s: arrived %v, want %v", ep.ID, subject, order, want)
				}
			}
		}
		if len(received) != 2*len(list) {
			t.Errorf("%d events arrived, want %d", len(received), 2*len(list))
		}
		if bound := crashes * 20 * len(eps); duplicates > bound {
			t.Errorf("%d duplicates after %d crashes, more than a round per endpoint and crash (%d)", duplicates, crashes, bound)
		}
		t.Logf("%d crashes in %v: %d requests, %d events, %d sent again with the same webhook-id",
			crashes, time.Since(start).Round(time.Millisecond), len(got), len(received), duplicates)
		if crashes == 0 {
			t.Error("the node never crashed: the test proved nothing")
		}
	})
}

// pending counts the messages of the endpoints not yet delivered.
func pending(t *testing.T, db *store.DB, orgID int64, eps []store.WebhookEndpoint) int {
	t.Helper()
	n := 0
	for _, ep := range eps {
		msgs, err := db.Read().WebhookMessages(context.Background(), orgID, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Status != store.WebhookDelivered {
				n++
			}
		}
	}
	return n
}
