package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// BenchmarkDispatcher measures the sending alone: an endpoint with a
// backlog of pending messages, each about its own enrollment (written in
// one transaction, not timed), sent by the job queue as serve runs it to
// a local receiver that answers 204 at once, until all are recorded
// delivered. MAILSCHOOL_BENCH_WEBHOOKS sets the backlog (10,000).
//
// Metrics: webhooks/s; cpu-ms/webhook, this process's CPU time per
// webhook, the receiver's included.
func BenchmarkDispatcher(b *testing.B) {
	size := storetest.BenchSize(b, "MAILSCHOOL_BENCH_WEBHOOKS", 10_000)
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(fmt.Sprintf("%s/%d", dialect, size), func(b *testing.B) {
			ctx := context.Background()
			var cpu time.Duration
			b.StopTimer()
			for range b.N {
				db := storetest.New(b, dialect)
				rc := newReceiver(b, "", false, func(received, int) int { return http.StatusNoContent })
				rc.verify = false
				orgID, _ := storetest.NewOrganization(b, db, "Acme")
				ep := newEndpoint(b, db, orgID, rc.srv.URL)
				subjects := make([]string, size)
				for i := range subjects {
					subjects[i] = "enrollment:" + strconv.Itoa(i)
				}
				addMessages(b, db, ep, time.Now(), nil, subjects...)
				round, _ := strconv.Atoi(os.Getenv("MAILSCHOOL_BENCH_ROUND")) // 0: the default
				d := webhooks.NewDispatcher(db, webhooks.Config{Guard: loopback(rc), Round: round, Logger: quietLog})
				workers := river.NewWorkers()
				d.AddWorkers(workers)
				jobs, err := db.NewJobs(&river.Config{Workers: workers, Logger: quietLog, FetchCooldown: 20 * time.Millisecond,
					Queues: map[string]river.QueueConfig{webhooks.Queue: webhooks.QueueConfig}, PeriodicJobs: d.PeriodicJobs()})
				if err != nil {
					b.Fatal(err)
				}
				cpuStart := processCPU()
				b.StartTimer()
				if err := jobs.Start(ctx); err != nil {
					b.Fatal(err)
				}
				err = db.InTx(ctx, func(q *store.Queries) error { return d.Kick(ctx, q, []int64{ep.ID}) })
				if err != nil {
					b.Fatal(err)
				}
				for deadline := time.Now().Add(30 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
					due, err := db.Read().DueWebhookEndpoints(ctx, time.Now().Add(time.Hour), 0, 1)
					if err != nil {
						b.Fatal(err)
					}
					if len(due) == 0 {
						break
					}
					if time.Now().After(deadline) {
						b.Fatal("not done")
					}
				}
				b.StopTimer()
				cpu += processCPU() - cpuStart
				stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
				jobs.Stop(stopCtx)
				cancel()
				if n := len(rc.requests()); n != size {
					b.Fatalf("%d requests for %d webhooks", n, size)
				}
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "webhooks/s")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(size*b.N), "cpu-ms/webhook")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
