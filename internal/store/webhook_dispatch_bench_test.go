package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// BenchmarkNextWebhookMessagesBehindABacklog reads a round for an endpoint
// that was down: MAILSCHOOL_BENCH_WEBHOOK_BACKLOG (100,000) pending
// messages of 600 bytes waiting for their retry, each about its own
// enrollment, in front of a round of new ones due now, which the round
// must find behind them.
func BenchmarkNextWebhookMessagesBehindABacklog(b *testing.B) {
	n := storetest.BenchSize(b, "MAILSCHOOL_BENCH_WEBHOOK_BACKLOG", 100_000)
	const round = 250
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(fmt.Sprintf("%s/%d_waiting", dialect, n), func(b *testing.B) {
			db := storetest.New(b, dialect)
			ctx := context.Background()
			org, _ := storetest.NewOrganization(b, db, "Webhook Bench")
			ep := addEndpoint(b, db, org, true)
			now := time.Now().UTC()
			at := func(t time.Time) string { return "'" + t.Format("2006-01-02 15:04:05.999999999-07:00") + "'" } // as the driver writes times
			insert := func(count int, subject string, next time.Time) {
				b.Helper()
				err := db.Exec(ctx, fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
					INSERT INTO webhook_messages (endpoint_id, organization_id, event_id, event_type, subject, payload, status, next_attempt_at, created_at)
					SELECT %d, %d, 'msg_%s' || i, 'enrollment.completed', '%s' || i, ?, 'pending', %s, %s FROM n`,
					count, ep, org, subject, subject, at(next), at(now)), strings.Repeat("x", 600))
				if err != nil {
					b.Fatal(err)
				}
			}
			insert(n, "enrollment:", now.Add(time.Hour))
			insert(round, "enrollment:new", now.Add(-time.Second))
			if err := db.Exec(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				next, err := db.Read().NextWebhookMessages(ctx, ep, now, round)
				if err != nil {
					b.Fatal(err)
				}
				if len(next) != round {
					b.Fatalf("a round of %d, want %d", len(next), round)
				}
			}
			b.ReportMetric(float64(b.Elapsed())/float64(time.Millisecond)/float64(b.N), "ms/round")
		})
	}
}
