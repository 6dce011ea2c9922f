package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/netguard"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// BenchmarkDeliveryPassWithWebhooks is BenchmarkDeliveryPass without and
// with an endpoint subscribed to every event, at a local receiver that
// answers 204 at once: the course has one published lesson, so each delivery
// completes its enrollment, which writes two events (enrollment.completed,
// certificate.issued) as messages and kicks the endpoint in the delivery's
// transaction. The job queue is serve's, webhook queue and pass included.
//
// Each completion also emails the learner the certificate it issued, in
// the batch of its lesson: the run waits for both emails of every
// delivery. (Waiting for as many emails as deliveries, as
// BenchmarkDeliveryPass does, stopped the clock where a first half of the
// deliveries had sent both, or, where the emails fell behind, where every
// delivery was worked but half of the emails were still to go.)
//
// Metrics: emails/s, the messages the SMTP server accepted per second
// until it had every email of every delivery (BenchmarkDeliveryPass's
// msgs/s), and completions/s, the lessons delivered, half of them;
// webhooks/s, the webhooks the receiver got per second, from the start
// until the last; webhook-lag-s, how long after the last email the last
// webhook came; cpu-ms/completion (and pg-cpu-ms/completion), the CPU
// time per lesson,
// receiver's included, which says more than the rates on a busy machine.
func BenchmarkDeliveryPassWithWebhooks(b *testing.B) {
	sizes := benchSizes(b)
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			for _, size := range sizes {
				for _, endpoint := range []bool{false, true} {
					name := size.String() + "/no_endpoint"
					if endpoint {
						name = size.String() + "/endpoint_for_every_event"
					}
					b.Run(name, func(b *testing.B) { benchmarkDeliveryPassWithWebhooks(b, dialect, size, endpoint) })
				}
			}
		})
	}
}

func benchmarkDeliveryPassWithWebhooks(b *testing.B, dialect store.Dialect, size benchSize, endpoint bool) {
	if size.due != size.total {
		b.Skip("every enrollment has its lesson due here")
	}
	ctx := context.Background()
	var (
		mailTime, hookTime, lag time.Duration
		hooks                   int
		cpuSelf, cpuServer      time.Duration
	)
	b.StopTimer()
	for range b.N {
		s := openSeedable(b, dialect)
		sink := smtptest.Start(b, smtptest.Options{Discard: true})
		transport, err := mail.NewSMTP(mail.SMTPConfig{URL: sink.URL(), MaxConns: 8})
		if err != nil {
			b.Fatal(err)
		}
		mailer, l, engine := s.services(b, transport, "smtp")
		s.createCourse(b, l)
		// One lesson: delivering it completes the enrollment.
		if _, err := l.UpdateContent(ctx, s.editor, s.org, s.course, s.lessons[1].ID, learningUnpublished()); err != nil {
			b.Fatal(err)
		}
		s.enroll(b, size.due, size.total)

		var received atomic.Int64
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			received.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		dispatcher := webhooks.NewDispatcher(s.db, webhooks.Config{
			Guard:  netguard.New(netguard.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}),
			Mail:   mailer,
			Logger: benchLogger,
		})
		service := webhooks.NewService(s.db, webhooks.Options{Learning: l})
		service.Attach(nil, l)
		service.SetKick(dispatcher.Kick)
		err = s.db.InTx(ctx, func(q *store.Queries) error {
			if !endpoint {
				return nil
			}
			_, err := q.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{OrganizationID: s.org, URL: receiver.URL + "/hooks",
				Events: []string{"*"}, Secret: webhooks.NewSecret()})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}

		workers := river.NewWorkers()
		mailer.AddWorkers(workers)
		engine.AddWorkers(workers)
		dispatcher.AddWorkers(workers)
		config := serveJobsConfig(workers)
		config.Queues[webhooks.Queue] = webhooks.QueueConfig
		config.PeriodicJobs = dispatcher.PeriodicJobs()
		jobs, err := s.db.NewJobs(config)
		if err != nil {
			b.Fatal(err)
		}
		cpu := trackCPU(b, s)
		b.StartTimer()
		start := time.Now()
		if err := jobs.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := engine.Pass(ctx); err != nil {
			b.Fatal(err)
		}
		sink.Wait(b, emailsPerDelivery*size.due, 30*time.Minute)
		mailDone := time.Now()
		want := int64(2 * size.due)
		if !endpoint {
			want = 0
		}
		for deadline := time.Now().Add(30 * time.Minute); received.Load() < want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d webhooks received, want %d", received.Load(), want)
			}
		}
		hooksDone := time.Now()
		b.StopTimer()
		self, server := cpu()
		cpuSelf += self
		cpuServer += server
		mailTime += mailDone.Sub(start)
		hookTime += hooksDone.Sub(start)
		lag += hooksDone.Sub(mailDone)
		hooks += int(want)

		stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
		err = jobs.Stop(stopCtx)
		cancel()
		mailer.Close()
		receiver.Close()
		if err != nil {
			b.Fatal(err)
		}
		if n := s.count(b, `SELECT COUNT(*) FROM webhook_messages WHERE status = 'delivered'`); n != int(want) {
			b.Fatalf("%d webhooks delivered, want %d", n, want)
		}
		if n := received.Load(); n != want {
			b.Errorf("the receiver got %d requests for %d webhooks", n, want)
		}
	}
	b.ReportMetric(float64(size.due*b.N)/mailTime.Seconds(), "completions/s")
	b.ReportMetric(float64(emailsPerDelivery*size.due*b.N)/mailTime.Seconds(), "emails/s")
	b.ReportMetric(float64(cpuSelf.Microseconds())/1000/float64(size.due*b.N), "cpu-ms/completion")
	if dialect == store.Postgres {
		b.ReportMetric(float64(cpuServer.Microseconds())/1000/float64(size.due*b.N), "pg-cpu-ms/completion")
	}
	if endpoint {
		b.ReportMetric(float64(hooks)/hookTime.Seconds(), "webhooks/s")
		b.ReportMetric(lag.Seconds()/float64(b.N), "webhook-lag-s")
	}
}

// emailsPerDelivery is what a delivery that completes the course emails:
// the lesson and the certificate.
const emailsPerDelivery = 2

func learningUnpublished() learning.ContentFields {
	return learning.ContentFields{Published: ptr(false)}
}
