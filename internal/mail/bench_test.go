package mail_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// BenchmarkRenderAndSend renders b.N messages and hands them to a local
// SMTP server over 8 reused connections, 8 at a time, as the send workers
// do. Run with -benchtime=10000x for the figure in docs/BENCHMARKS.md.
func BenchmarkRenderAndSend(b *testing.B) {
	sink := smtptest.Start(b, smtptest.Options{Discard: true})
	transport, err := mail.NewSMTP(mail.SMTPConfig{URL: sink.URL(), MaxConns: 8})
	if err != nil {
		b.Fatal(err)
	}
	defer transport.Close()
	r, err := mail.NewRenderer("Acme Academy <learn@acme.example>", "https://learn.acme.example")
	if err != nil {
		b.Fatal(err)
	}
	peak := trackPeakMemory(b)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				to := "learner" + strconv.FormatInt(i, 10) + "@example.com"
				msg, err := r.Render(mail.Email{Kind: mail.KindTest, To: to,
					Organization: &mail.Branding{Name: "Acme Academy", LogoURL: "https://learn.acme.example/logo.png"},
					Unsubscribe:  &mail.Unsubscribe{URL: "https://learn.acme.example/u/" + to}},
					fmt.Sprintf("bench-%d@acme.example", i), time.Now())
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := transport.Send(ctx, mail.Envelope{From: "learn@acme.example", To: []string{to}}, msg.Bytes()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if got := len(sink.Messages()); got != b.N {
		b.Fatalf("sink accepted %d of %d messages", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(peak(), "peak-MiB")
}

// BenchmarkQueueToSMTP records and enqueues b.N emails in one transaction
// per 500, then measures the job queue sending them all to a local SMTP
// server: the whole path an email takes, database included.
func BenchmarkQueueToSMTP(b *testing.B) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			db := storetest.New(b, dialect)
			sink := smtptest.Start(b, smtptest.Options{Discard: true})
			transport, err := mail.NewSMTP(mail.SMTPConfig{URL: sink.URL(), MaxConns: 8})
			if err != nil {
				b.Fatal(err)
			}
			s, err := mail.NewService(db, mail.Config{From: "Acme Academy <learn@acme.example>", BaseURL: "https://learn.acme.example",
				Transport: transport, TransportName: "smtp", Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			workers := river.NewWorkers()
			s.AddWorkers(workers)
			if _, err := db.NewJobs(&river.Config{Workers: workers}); err != nil {
				b.Fatal(err)
			}
			for start := 0; start < b.N; start += 500 {
				err := db.InTx(ctx, func(q *store.Queries) error {
					for i := start; i < min(start+500, b.N); i++ {
						if _, err := s.Enqueue(ctx, q, mail.Email{Kind: mail.KindTest, To: fmt.Sprintf("learner%d@example.com", i)}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			peak := trackPeakMemory(b)
			b.ResetTimer()
			jobs, err := db.NewJobs(&river.Config{Workers: workers, Logger: quiet,
				FetchCooldown: mail.FetchCooldown, Queues: map[string]river.QueueConfig{mail.Queue: mail.QueueConfig}})
			if err != nil {
				b.Fatal(err)
			}
			if err := jobs.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer jobs.Stop(ctx)
			sink.Wait(b, b.N, 10*time.Minute)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(peak(), "peak-MiB")
		})
	}
}

// trackPeakMemory samples the memory the Go runtime holds from the OS
// until the returned function is called, which reports the peak in MiB.
// The process's peak resident size (VmHWM) is logged too.
func trackPeakMemory(b *testing.B) func() float64 {
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
	var once sync.Once
	return func() float64 {
		once.Do(func() { close(done); wg.Wait() })
		if status, err := os.ReadFile("/proc/self/status"); err == nil {
			for line := range strings.Lines(string(status)) {
				if strings.HasPrefix(line, "VmHWM:") {
					b.Logf("process peak resident size: %s", strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
				}
			}
		}
		return float64(peak.Load()) / (1 << 20)
	}
}
