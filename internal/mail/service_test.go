package mail_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newService returns a mail service over db sending through transport,
// with retries 10 ms apart so tests need not wait.
func newService(t *testing.T, db *store.DB, transport mail.Transport, name string) *mail.Service {
	t.Helper()
	s, err := mail.NewService(db, mail.Config{
		From: "Acme Academy <learn@acme.example>", BaseURL: "https://learn.acme.example",
		Transport: transport, TransportName: name, RetryBase: 10 * time.Millisecond, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func smtpTransport(t *testing.T, sink *smtptest.Server) mail.Transport {
	t.Helper()
	transport, err := mail.NewSMTP(mail.SMTPConfig{URL: sink.URL(), TLSConfig: sink.ClientTLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	return transport
}

func startWorkers(t *testing.T, db *store.DB, s *mail.Service) *store.Jobs {
	workers := river.NewWorkers()
	s.AddWorkers(workers)
	return storetest.StartJobs(t, db, workers, mail.Queue)
}

// enqueue records and queues test emails to the given addresses in one
// transaction.
func enqueue(t *testing.T, db *store.DB, s *mail.Service, to ...string) []int64 {
	t.Helper()
	var ids []int64
	err := db.InTx(context.Background(), func(q *store.Queries) error {
		for _, addr := range to {
			id, err := s.Enqueue(context.Background(), q, mail.Email{Kind: mail.KindTest, To: addr})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func message(t *testing.T, db *store.DB, id int64) store.MailMessage {
	t.Helper()
	m, err := db.Read().MailMessageByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func waitStatus(t *testing.T, db *store.DB, id int64, status string) store.MailMessage {
	t.Helper()
	var m store.MailMessage
	storetest.Eventually(t, 15*time.Second, "email "+status, func() bool {
		m = message(t, db, id)
		return m.Status == status
	})
	return m
}

func TestOutboxStoresMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newService(t, db, mail.Outbox{}, "outbox")
		startWorkers(t, db, s)
		ids := enqueue(t, db, s, "ada@example.com")
		m := waitStatus(t, db, ids[0], store.MailStored)
		if m.Attempts != 1 || m.Transport != "outbox" || m.SentAt == nil || m.Subject != "mailschool test message" {
			t.Errorf("stored message = %+v", m)
		}
		if !strings.Contains(string(m.Raw), "Message-ID: <"+m.MessageID+">") || !strings.HasSuffix(m.MessageID, "@acme.example") {
			t.Errorf("raw source lacks its Message-ID %q", m.MessageID)
		}
	})
}

func TestNothingIsSentWhenTheTransactionRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sink := smtptest.Start(t, smtptest.Options{})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		startWorkers(t, db, s)
		boom := errors.New("boom")
		err := db.InTx(context.Background(), func(q *store.Queries) error {
			if _, err := s.Enqueue(context.Background(), q, mail.Email{Kind: mail.KindTest, To: "ada@example.com"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		ids := enqueue(t, db, s, "bob@example.com")
		waitStatus(t, db, ids[0], store.MailSent)
		msgs := sink.Messages()
		if len(msgs) != 1 || msgs[0].To[0] != "bob@example.com" {
			t.Errorf("sink got %d messages; want only bob's", len(msgs))
		}
		if list, _ := db.Read().ListMailMessages(context.Background(), 0, 10); len(list) != 1 {
			t.Errorf("%d messages recorded; the rolled-back one must leave no row", len(list))
		}
	})
}

func TestTemporaryFailureIsRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sink := smtptest.Start(t, smtptest.Options{
			STARTTLS: true, Username: "relay", Password: "s3cret",
			Reply: func(n int, _ smtptest.Message) error {
				if n == 1 {
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
				}
				return nil
			},
		})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		startWorkers(t, db, s)
		ids := enqueue(t, db, s, "ada@example.com")
		m := waitStatus(t, db, ids[0], store.MailSent)
		if m.Attempts != 2 || !strings.Contains(m.LastError, "try again later") || m.ProviderMessageID == "" {
			t.Errorf("after a 4xx and a success: %+v", m)
		}
		got := sink.Wait(t, 1, 5*time.Second)
		time.Sleep(200 * time.Millisecond)
		if n := len(sink.Messages()); n != 1 || !got[0].TLS || got[0].AuthUser != "relay" {
			t.Errorf("sink got %d messages (TLS %v, user %q); want exactly one over TLS as relay", n, got[0].TLS, got[0].AuthUser)
		}
		if !strings.Contains(string(got[0].Data), "Message-ID: <"+m.MessageID+">") {
			t.Error("the delivered message is not the recorded one")
		}
	})
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var tries atomic.Int32
		sink := smtptest.Start(t, smtptest.Options{
			Reply: func(int, smtptest.Message) error {
				tries.Add(1)
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
			},
		})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		startWorkers(t, db, s)
		ids := enqueue(t, db, s, "ghost@example.com")
		m := waitStatus(t, db, ids[0], store.MailFailed)
		time.Sleep(300 * time.Millisecond) // room for a wrong retry
		if m.Attempts != 1 || !strings.Contains(m.LastError, "no such user here") || tries.Load() != 1 {
			t.Errorf("after a 5xx: %+v, %d tries; want one try and the error recorded", m, tries.Load())
		}
		if n := len(sink.Messages()); n != 0 {
			t.Errorf("sink accepted %d messages", n)
		}
	})
}

func TestDroppedConnectionIsRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sink := smtptest.Start(t, smtptest.Options{DropAfterBytes: 100, DropOn: func(n int) bool { return n == 1 }})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		startWorkers(t, db, s)
		ids := enqueue(t, db, s, "ada@example.com")
		m := waitStatus(t, db, ids[0], store.MailSent)
		time.Sleep(200 * time.Millisecond)
		if m.Attempts != 2 || len(sink.Messages()) != 1 {
			t.Errorf("after a dropped connection: %+v, sink has %d; want 2 attempts, 1 message", m, len(sink.Messages()))
		}
	})
}

// TestRestartWithPendingJobs stops the job queue while emails are still
// queued, starts a new one, and checks that every email reaches the sink
// exactly once.
func TestRestartWithPendingJobs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sink := smtptest.Start(t, smtptest.Options{
			// A slow server, so that the stop finds work left.
			Reply: func(int, smtptest.Message) error { time.Sleep(15 * time.Millisecond); return nil },
		})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		const total = 40
		var to []string
		for i := range total {
			to = append(to, fmt.Sprintf("learner%02d@example.com", i))
		}

		first := startWorkers(t, db, s)
		ids := enqueue(t, db, s, to...)
		sink.Wait(t, 3, 10*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := first.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		stoppedAt := len(sink.Messages())
		if stoppedAt >= total {
			t.Fatalf("all %d emails went out before the stop; the test proves nothing", total)
		}

		startWorkers(t, db, s)
		for _, id := range ids {
			waitStatus(t, db, id, store.MailSent)
		}
		time.Sleep(200 * time.Millisecond)
		seen := map[string]int{}
		for _, m := range sink.Messages() {
			seen[m.To[0]]++
		}
		for _, addr := range to {
			if seen[addr] != 1 {
				t.Errorf("%s received %d copies, want 1", addr, seen[addr])
			}
		}
		t.Logf("%d of %d sent before the restart", stoppedAt, total)
	})
}

func TestSendNow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sink := smtptest.Start(t, smtptest.Options{})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		m, err := s.SendNow(context.Background(), mail.Email{Kind: mail.KindTest, To: "ada@example.com"})
		if err != nil || m.Status != store.MailSent || m.ProviderMessageID == "" {
			t.Fatalf("SendNow = %+v, %v", m, err)
		}
		if n := len(sink.Messages()); n != 1 {
			t.Errorf("sink has %d messages", n)
		}
	})
}

func TestSendRateLimitsThisNode(t *testing.T) {
	db := storetest.NewSQLite(t)
	sink := smtptest.Start(t, smtptest.Options{})
	s, err := mail.NewService(db, mail.Config{
		From: "Acme Academy <learn@acme.example>", BaseURL: "https://learn.acme.example",
		Transport: smtpTransport(t, sink), TransportName: "smtp", SendRate: 5, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 10 {
		if _, err := s.SendNow(context.Background(), mail.Email{Kind: mail.KindTest, To: fmt.Sprintf("l%d@example.com", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of 5, then one every 200 ms: the last of 10 leaves after 1 s.
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Errorf("10 messages at 5 per second took %v; the rate limit did not hold", elapsed)
	}
}
