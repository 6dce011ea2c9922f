package delivery_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
)

// benchSize is how many of how many active enrollments have an item due.
type benchSize struct{ due, total int }

func (s benchSize) String() string { return shortCount(s.due) + "_due_of_" + shortCount(s.total) }

func shortCount(n int) string {
	if n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// benchSizes reads MAILSCHOOL_BENCH_SIZES, a comma-separated list of
// "due" or "due/total" (total defaults to due): by default 10,000 due of
// 10,000, so that a plain -bench run stays short. The figures in
// docs/BENCHMARKS.md use "10000,10000/100000,100000".
func benchSizes(b *testing.B) []benchSize {
	spec := os.Getenv("MAILSCHOOL_BENCH_SIZES")
	if spec == "" {
		spec = "10000"
	}
	var sizes []benchSize
	for part := range strings.SplitSeq(spec, ",") {
		dueText, totalText, found := strings.Cut(strings.TrimSpace(part), "/")
		due, err := strconv.Atoi(dueText)
		total := due
		if err == nil && found {
			total, err = strconv.Atoi(totalText)
		}
		if err != nil || due <= 0 || total < due {
			b.Fatalf("MAILSCHOOL_BENCH_SIZES: %q is not due or due/total with 0 < due <= total", part)
		}
		sizes = append(sizes, benchSize{due, total})
	}
	return sizes
}

// BenchmarkDeliveryPass measures the whole way of due course content to
// the SMTP server: active enrollments with their first lesson due and no
// job (seeded in bulk, not timed), then, timed, the job queue as serve
// configures it (delivery and mail queues, fetch cooldown, 8 SMTP
// connections) working while Engine.Pass hands the due deliveries to jobs,
// until the server has accepted every lesson. Each iteration starts from a
// fresh database; run with -benchtime=1x.
//
// Metrics: msgs/s end to end; pass-s, how long Pass took (its transactions
// share the database with the workers); peak-MiB, the Go heap and stacks
// in use at their highest (the SMTP sink's record of the envelopes
// included: see the log); rss-MiB, the process's peak resident size during
// the timed part (SQLite's page cache lives outside the Go heap).
func BenchmarkDeliveryPass(b *testing.B) {
	sizes := benchSizes(b)
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			for _, size := range sizes {
				b.Run(size.String(), func(b *testing.B) { benchmarkDeliveryPass(b, dialect, size) })
			}
		})
	}
}

func benchmarkDeliveryPass(b *testing.B, dialect store.Dialect, size benchSize) {
	ctx := context.Background()
	var (
		pass      time.Duration
		peak, rss float64
		cpuSelf   time.Duration // this process's CPU time
		cpuServer time.Duration // PostgreSQL's
	)
	b.StopTimer()
	for i := range b.N {
		s := openSeedable(b, dialect)
		sink := smtptest.Start(b, smtptest.Options{Discard: true})
		transport, err := mail.NewSMTP(mail.SMTPConfig{URL: sink.URL(), MaxConns: 8})
		if err != nil {
			b.Fatal(err)
		}
		mailer, l, engine := s.services(b, transport, "smtp")
		s.createCourse(b, l)
		s.enroll(b, size.due, size.total)
		if i == 0 {
			logPlans(b, s.db)
		}
		workers := river.NewWorkers()
		mailer.AddWorkers(workers)
		engine.AddWorkers(workers)
		jobs, err := s.db.NewJobs(serveJobsConfig(workers))
		if err != nil {
			b.Fatal(err)
		}

		events, stopEvents := jobs.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
		stats := collectJobStats(events)

		memory := trackMemory()
		cpu := trackCPU(b, s)
		b.StartTimer()
		start := time.Now()
		if err := jobs.Start(ctx); err != nil {
			b.Fatal(err)
		}
		passStart := time.Now()
		res, err := engine.Pass(ctx)
		pass += time.Since(passStart)
		if err != nil {
			b.Fatal(err)
		}
		sink.Wait(b, size.due, 30*time.Minute)
		b.StopTimer()
		self, server := cpu()
		cpuSelf += self
		cpuServer += server
		heap, resident := memory()
		peak, rss = max(peak, heap), max(rss, resident)
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.Logf("Go heap live after the run, mostly the envelopes the SMTP sink keeps: %.1f MiB", float64(ms.HeapAlloc)/(1<<20))

		stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
		err = jobs.Stop(stopCtx)
		cancel()
		mailer.Close()
		stopEvents()
		b.Log(stats(start))
		if err != nil {
			b.Fatal(err)
		}
		if res.Due != size.due {
			b.Fatalf("pass: %+v, want %d due and enqueued", res, size.due)
		}
		if n := s.count(b, `SELECT COUNT(*) FROM deliveries WHERE status = 'sent' AND mail_message_id IS NOT NULL`); n != size.due {
			b.Fatalf("%d deliveries sent, want %d", n, size.due)
		}
	}
	b.ReportMetric(float64(size.due*b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(pass.Seconds()/float64(b.N), "pass-s")
	b.ReportMetric(float64(cpuSelf.Microseconds())/1000/float64(size.due*b.N), "cpu-ms/msg")
	if dialect == store.Postgres {
		b.ReportMetric(float64(cpuServer.Microseconds())/1000/float64(size.due*b.N), "pg-cpu-ms/msg")
	}
	b.ReportMetric(peak, "peak-MiB")
	if rss > 0 {
		b.ReportMetric(rss, "rss-MiB")
	}
}

// BenchmarkDueScan measures Engine.Pass alone, with no workers: the
// scheduling query, marking the deliveries sending and the job inserts.
// Its cost must follow the number of due deliveries, not the number of
// enrollments: compare 10k_due_of_10k with 10k_due_of_100k. Each
// iteration starts from a fresh database.
func BenchmarkDueScan(b *testing.B) {
	sizes := benchSizes(b)
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			for _, size := range sizes {
				b.Run(size.String(), func(b *testing.B) {
					ctx := context.Background()
					b.StopTimer()
					for range b.N {
						s := openSeedable(b, dialect)
						_, l, engine := s.services(b, mail.Outbox{}, "outbox")
						s.createCourse(b, l)
						s.enroll(b, size.due, size.total)
						if _, err := s.db.NewJobs(&river.Config{Logger: benchLogger}); err != nil {
							b.Fatal(err)
						}
						runtime.GC()
						b.StartTimer()
						res, err := engine.Pass(ctx)
						b.StopTimer()
						if err != nil || res.Due != size.due {
							b.Fatalf("pass: %+v, %v; want %d due", res, err, size.due)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(size.due*b.N), "µs/due")
				})
			}
		})
	}
}

// serveJobsConfig is the job queue as serve runs it (cmd/mailschool's
// jobsConfig), without the periodic pass: the benchmark runs it itself.
func serveJobsConfig(workers *river.Workers) *river.Config {
	return &river.Config{Workers: workers, Logger: benchLogger, FetchCooldown: mail.FetchCooldown,
		Queues: map[string]river.QueueConfig{mail.Queue: mail.QueueConfig, delivery.Queue: delivery.QueueConfig}}
}

// logPlans logs the plans of the pass's query on the seeded database, for
// its second batch: reading from a cursor.
func logPlans(b *testing.B, db *store.DB) {
	ctx := context.Background()
	now := time.Now()
	first, err := db.Read().DueDeliveries(ctx, now, store.DueRef{}, delivery.PassBatch)
	if err != nil || len(first) == 0 {
		b.Fatalf("first batch: %d, %v", len(first), err)
	}
	plans, err := db.DueDeliveriesPlans(ctx, now, first[len(first)-1], delivery.PassBatch)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range plans {
		b.Log(p)
	}
}

// trackMemory samples the Go heap and stacks in use until the returned
// function is called, which reports their peak and the process's peak
// resident size (VmHWM, reset here when the kernel allows), in MiB.
func trackMemory() func() (heap, rss float64) {
	runtime.GC()
	debug.FreeOSMemory()
	resetRSS := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(5 * time.Millisecond)
		defer ticker.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if inUse := ms.HeapInuse + ms.StackInuse; inUse > peak.Load() {
				peak.Store(inUse)
			}
			select {
			case <-done:
				return
			case <-ticker.C:
			}
		}
	})
	return func() (float64, float64) {
		close(done)
		wg.Wait()
		var rss float64
		if status, err := os.ReadFile("/proc/self/status"); err == nil && resetRSS {
			for line := range strings.Lines(string(status)) {
				if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var n float64
					fmt.Sscanf(strings.TrimSpace(kb), "%f kB", &n)
					rss = n / 1024
				}
			}
		}
		return float64(peak.Load()) / (1 << 20), rss
	}
}

// collectJobStats sums up River's statistics of the jobs worked, by kind,
// until the returned function is called (after the channel is closed),
// which describes them.
func collectJobStats(events <-chan *river.Event) func(start time.Time) string {
	type kindStats struct {
		n, failed           int
		wait, run, complete time.Duration
		first, last         time.Time
	}
	byKind := map[string]*kindStats{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range events {
			k := byKind[e.Job.Kind]
			if k == nil {
				k = &kindStats{first: time.Now()}
				byKind[e.Job.Kind] = k
			}
			k.n++
			if e.Kind == river.EventKindJobFailed {
				k.failed++
			}
			k.wait += e.JobStats.QueueWaitDuration
			k.run += e.JobStats.RunDuration
			k.complete += e.JobStats.CompleteDuration
			k.last = time.Now()
		}
	}()
	return func(start time.Time) string {
		<-done
		var b strings.Builder
		for kind, k := range byKind {
			fmt.Fprintf(&b, "%s: %d jobs (%d failed), done %.2fs to %.2fs; per job: waited %v, ran %v, completion %v\n",
				kind, k.n, k.failed, k.first.Sub(start).Seconds(), k.last.Sub(start).Seconds(),
				k.wait/time.Duration(k.n), k.run/time.Duration(k.n), k.complete/time.Duration(k.n))
		}
		return b.String()
	}
}

// trackCPU measures the CPU time this process, and on PostgreSQL the
// server's processes, spend until the returned function is called. The
// machine may be busy with other work: the CPU time per message says what
// the throughput would be on idle cores.
func trackCPU(b *testing.B, s *seeded) func() (self, server time.Duration) {
	selfStart := processCPU()
	var serverStart map[int]time.Duration
	if s.dialect == store.Postgres {
		serverStart = serverCPU(b, s)
	}
	return func() (time.Duration, time.Duration) {
		self := processCPU() - selfStart
		if s.dialect != store.Postgres {
			return self, 0
		}
		var server time.Duration
		for pid, t := range serverCPU(b, s) {
			server += t - serverStart[pid] // a process started meanwhile counts whole
		}
		return self, server
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU returns the CPU time of each of the PostgreSQL server's
// processes (backends and background workers), read from /proc: the
// server runs on this machine in the benchmarks.
func serverCPU(b *testing.B, s *seeded) map[int]time.Duration {
	rows, err := s.raw.QueryContext(context.Background(), `SELECT pid FROM pg_stat_activity`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	times := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // on another machine, or gone
		}
		// Fields after the command name, which is in parentheses: utime
		// and stime are the 12th and 13th of them, in clock ticks (100 Hz).
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		utime, _ := strconv.Atoi(fields[11])
		stime, _ := strconv.Atoi(fields[12])
		times[pid] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return times
}
