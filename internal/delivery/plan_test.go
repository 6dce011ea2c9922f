package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
)

// TestDueDeliveriesReadTheIndex checks that the pass's query reads
// deliveries_due_idx between the cursor and now, on a database that looks
// like a real one: 20,000 active enrollments, 2,000 of them due, the others
// with their next lesson tomorrow and one sent (on PostgreSQL after
// ANALYZE, as autovacuum leaves it; the planner is not forced). Reading
// from the cursor, not from the start of the index, keeps a pass linear in
// the deliveries due.
func TestDueDeliveriesReadTheIndex(t *testing.T) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			s := openSeedable(t, dialect)
			_, l, _ := s.services(t, mail.Outbox{}, "outbox")
			s.createCourse(t, l)
			s.enroll(t, 2000, 20000)
			from, err := s.db.Read().DueDeliveries(ctx, time.Now(), store.DueRef{}, delivery.PassBatch)
			if err != nil || len(from) != delivery.PassBatch {
				t.Fatalf("first batch: %d, %v", len(from), err)
			}
			// The plans of a later batch: they must start at the cursor.
			plans, err := s.db.DueDeliveriesPlans(ctx, time.Now(), from[len(from)-1], delivery.PassBatch)
			if err != nil {
				t.Fatal(err)
			}
			if dialect == store.Postgres && len(plans) != 2 {
				t.Fatalf("%d PostgreSQL plans, want the custom and the generic one", len(plans))
			}
			checkClaimPlan(t, s.db, from)
			for _, p := range plans {
				t.Log(p)
				text := strings.Join(p.Lines, "\n")
				switch dialect {
				case store.SQLite:
					// The index gives the order too: no sorting step.
					if !strings.Contains(text, "USING COVERING INDEX deliveries_due_idx (status=? AND due_at>? AND due_at<?)") ||
						strings.Contains(text, "TEMP B-TREE") {
						t.Errorf("%s: want a range of deliveries_due_idx from the cursor to now, without sorting", p.Name)
					}
				case store.Postgres:
					// An index scan, or a bitmap scan of the index and a
					// sort of what it found, both bounded by the cursor.
					fromCursor := false
					for _, line := range p.Lines {
						fromCursor = fromCursor || strings.Contains(line, "Index Cond:") && strings.Contains(line, "(due_at >= ")
					}
					if !strings.Contains(text, "deliveries_due_idx") || strings.Contains(text, "Seq Scan") || !fromCursor {
						t.Errorf("%s: want a scan of deliveries_due_idx from the cursor to now", p.Name)
					}
				}
			}
		})
	}
}

// checkClaimPlan checks that marking a batch of due deliveries sending
// looks them up by id, rather than reading every scheduled delivery from
// the due index, which made a pass cost the deliveries due times those
// scheduled.
func checkClaimPlan(t *testing.T, db *store.DB, batch []store.DueRef) {
	t.Helper()
	ids := make([]int64, len(batch))
	for i, d := range batch {
		ids[i] = d.ID
	}
	p, err := db.ClaimDeliveriesPlan(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(p)
	text := strings.Join(p.Lines, "\n")
	byID := strings.Contains(text, "USING INTEGER PRIMARY KEY (rowid=?)") || strings.Contains(text, "deliveries_pkey")
	if !byID || strings.Contains(text, "deliveries_due_idx") || strings.Contains(text, "Seq Scan") {
		t.Errorf("%s: want the deliveries looked up by id", p.Name)
	}
}
