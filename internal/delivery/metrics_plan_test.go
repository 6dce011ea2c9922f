package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
)

// TestDueCountsAndJobBacklogReadIndexes: the queries a /metrics scrape
// runs count what they should and read an index, deliveries_due_idx for
// the deliveries due and River's fetching index for the jobs waiting, so
// that a scrape costs the size of the backlog, not of the tables.
func TestDueCountsAndJobBacklogReadIndexes(t *testing.T) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			s := openSeedable(t, dialect)
			_, l, _ := s.services(t, mail.Outbox{}, "outbox")
			s.createCourse(t, l)
			// 200 due at times spread over the last day, 1,800 due later.
			s.enroll(t, 200, 2000)
			now := time.Now()
			counts, err := s.db.Read().CountDueDeliveries(ctx, now, now.Add(-12*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if counts.Due != 200 || counts.Overdue < 50 || counts.Overdue > 150 {
				t.Errorf("due deliveries = %+v, want 200 due, about half of them due 12 hours ago", counts)
			}
			plans, err := s.db.MetricsQueryPlans(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range plans {
				t.Log(p)
				text := strings.Join(p.Lines, "\n")
				index := map[string]string{"job backlog": "river_job_prioritized_fetching_index", "due deliveries": "deliveries_due_idx"}[p.Name]
				if !strings.Contains(text, index) || strings.Contains(text, "SCAN river_job\n") || strings.Contains(text, "Seq Scan") {
					t.Errorf("%s: want a read of %s", p.Name, index)
				}
			}
		})
	}
}
