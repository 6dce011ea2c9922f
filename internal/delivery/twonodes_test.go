package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestTwoNodesShareDeliveries runs two nodes on one PostgreSQL database,
// each with its own connections, engine, mail service and River client,
// sending through one SMTP server: they work the same due deliveries at
// once, each is sent once, and both nodes take part.
func TestTwoNodesShareDeliveries(t *testing.T) {
	t.Parallel() // with the periodic pass test, after the crash tests
	t.Run("sqlite", func(t *testing.T) {
		t.Skip("a SQLite database is one file with one writer: an install on SQLite runs one node")
	})
	t.Run("postgres", func(t *testing.T) {
		const learners, lessons = 300, 2
		dsn := storetest.NewPostgresURL(t)
		s := newSchool(t, dsn, lessons, learners)
		sink, receipts := recordingSink(t, nil)

		start := time.Now()
		var nodes []*node
		for _, name := range []string{"node-a", "node-b"} {
			n, err := startNode(context.Background(), name, dsn, sink.URL(), nodeTimes{})
			if err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, n)
		}
		if !s.waitDone(t, nodes[0].db, 30*time.Second) {
			t.Fatal("not done after 30s")
		}
		elapsed := time.Since(start)
		for _, n := range nodes {
			n.stop(t)
		}

		got := s.check(t, receipts())
		if got.duplicates > 0 {
			t.Errorf("%d duplicate emails:\n%s", got.duplicates, got.duplicateList())
		}
		a, b := nodes[0], nodes[1]
		t.Logf("%d learners × %d lessons in %v: %s sent %d emails and worked %d deliveries, %s sent %d and worked %d",
			learners, lessons, elapsed.Round(time.Millisecond), a.name, a.sent.Load(), a.delivered.Load(), b.name, b.sent.Load(), b.delivered.Load())
		// Each learner's lessons and the completion email with the certificate.
		if total := a.sent.Load() + b.sent.Load(); total != learners*(lessons+1) {
			t.Errorf("the nodes sent %d emails in all, want %d", total, learners*(lessons+1))
		}
		for _, n := range nodes {
			if n.sent.Load() == 0 || n.delivered.Load() == 0 {
				t.Errorf("%s sent %d emails and worked %d deliveries: the nodes did not share the work", n.name, n.sent.Load(), n.delivered.Load())
			}
		}
	})
}
