package mail_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBatchSendsEachOnce sends a batch larger than the emails it sends at
// once: every email goes out once, one refused for now gets a send job of
// its own for its retry, one refused for good is not retried, and the
// batch's job run again (as after a crash) tries none of them again.
func TestBatchSendsEachOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var (
			mu    sync.Mutex
			tries = map[string]int{}
		)
		sink := smtptest.Start(t, smtptest.Options{
			Reply: func(_ int, m smtptest.Message) error {
				to := m.To[0]
				mu.Lock()
				tries[to]++
				mu.Unlock()
				switch to {
				case "later@example.com":
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
				case "ghost@example.com":
					return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
				}
				return nil
			},
		})
		// The retry waits an hour: it must not come within the test.
		s, err := mail.NewService(db, mail.Config{From: "Acme Academy <learn@acme.example>", BaseURL: "https://learn.acme.example",
			Transport: smtpTransport(t, sink), TransportName: "smtp", RetryBase: time.Hour, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		startWorkers(t, db, s)
		to := []string{"later@example.com", "ghost@example.com"}
		for i := range 12 {
			to = append(to, fmt.Sprintf("learner%d@example.com", i))
		}
		ids := recordBatch(t, db, s, to...)
		waitBatchJobs := func() {
			t.Helper()
			storetest.Eventually(t, 10*time.Second, "the batch's job done", func() bool {
				n, err := db.UnfinishedJobs(ctx, mail.SendBatchArgs{}.Kind())
				return err == nil && n == 0
			})
		}
		waitBatchJobs()
		for i, id := range ids[2:] {
			if m := message(t, db, id); m.Status != store.MailSent || m.Attempts != 1 {
				t.Errorf("email %d: %+v; want sent at once", i, m)
			}
		}
		if m := message(t, db, ids[1]); m.Status != store.MailFailed || m.Attempts != 1 {
			t.Errorf("the email refused for good: %+v; want failed after one attempt", m)
		}
		if m := message(t, db, ids[0]); m.Status != store.MailQueued || m.Attempts != 1 || !strings.Contains(m.LastError, "try again later") {
			t.Errorf("the email refused for now: %+v; want queued after one attempt", m)
		}
		if n, err := db.UnfinishedJobs(ctx, mail.SendArgs{}.Kind()); err != nil || n != 1 {
			t.Errorf("%d send jobs waiting, %v; want the retry of the refused email", n, err)
		}

		err = db.InTx(ctx, func(q *store.Queries) error {
			_, err := q.Enqueue(ctx, mail.SendBatchArgs{MessageIDs: ids}, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		waitBatchJobs()
		received := map[string]int{}
		for _, m := range sink.Messages() {
			received[m.To[0]]++
		}
		mu.Lock()
		defer mu.Unlock()
		for _, addr := range to {
			if tries[addr] != 1 {
				t.Errorf("%s was tried %d times, want once", addr, tries[addr])
			}
			want := 0 // the refused ones
			if strings.HasPrefix(addr, "learner") {
				want = 1
			}
			if received[addr] != want {
				t.Errorf("%s received %d emails, want %d", addr, received[addr], want)
			}
		}
	})
}

// TestBatchKeepsEachRecipientsOrder: a batch sends the emails to one
// recipient one after the other, in the order they were recorded, even
// when the first is slow to be taken.
func TestBatchKeepsEachRecipientsOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var (
			mu   sync.Mutex
			seen = map[string]bool{}
		)
		sink := smtptest.Start(t, smtptest.Options{
			Reply: func(_ int, m smtptest.Message) error {
				mu.Lock()
				first := !seen[m.To[0]]
				seen[m.To[0]] = true
				mu.Unlock()
				if first {
					time.Sleep(100 * time.Millisecond)
				}
				return nil
			},
		})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		startWorkers(t, db, s)
		to := []string{"ada@example.com", "bob@example.com", "ada@example.com", "bob@example.com", "ada@example.com"}
		ids := recordBatch(t, db, s, to...)
		received := sink.Wait(t, len(ids), 10*time.Second)
		position := map[string]int{} // Message-ID header -> place of receipt
		for i, m := range received {
			for _, id := range ids {
				if header := "Message-ID: <" + message(t, db, id).MessageID + ">"; strings.Contains(string(m.Data), header) {
					position[header] = i
				}
			}
		}
		last := map[string]int{}
		for i, id := range ids {
			at, ok := position["Message-ID: <"+message(t, db, id).MessageID+">"]
			if !ok {
				t.Fatalf("email %d never arrived", id)
			}
			if prev, ok := last[to[i]]; ok && at < prev {
				t.Errorf("%s got email %d before the one recorded ahead of it", to[i], id)
			}
			last[to[i]] = at
		}
	})
}

// recordBatch records test emails to the given addresses in one
// transaction, to be sent by one batch job.
func recordBatch(t *testing.T, db *store.DB, s *mail.Service, to ...string) []int64 {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	err := db.InTx(ctx, func(q *store.Queries) error {
		batch := s.NewBatch()
		for _, addr := range to {
			id, err := batch.Add(ctx, q, mail.Email{Kind: mail.KindTest, To: addr})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return batch.Enqueue(ctx, q)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestStoppedBatchHandsItsEmailsOn stops the node while a batch is being
// sent: the emails it never tried get a send job each, rather than wait
// for the batch's job (which, out of attempts, would leave them queued
// for good), and a new node sends each of them once.
func TestStoppedBatchHandsItsEmailsOn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sink := smtptest.Start(t, smtptest.Options{
			Reply: func(int, smtptest.Message) error { time.Sleep(200 * time.Millisecond); return nil },
		})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		jobs := startWorkers(t, db, s)
		var to []string
		for i := range 20 {
			to = append(to, fmt.Sprintf("learner%d@example.com", i))
		}
		ids := recordBatch(t, db, s, to...)
		sink.Wait(t, 1, 10*time.Second)
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := jobs.StopAndCancel(stopCtx); err != nil {
			t.Fatal(err)
		}

		// Every email still queued has a job: those never tried, and those
		// the stop cut off before the end of DATA, waiting for a retry.
		untried, queued := 0, 0
		for _, id := range ids {
			if m := message(t, db, id); m.Status == store.MailQueued {
				queued++
				if m.Attempts == 0 {
					untried++
				}
			}
		}
		if untried == 0 {
			t.Fatal("every email was tried before the stop: the test proved nothing")
		}
		if n, err := db.UnfinishedJobs(ctx, mail.SendArgs{}.Kind()); err != nil || n != queued {
			t.Errorf("%d send jobs, %v; want one for each of the %d emails queued", n, err, queued)
		}
		if n, err := db.UnfinishedJobs(ctx, mail.SendBatchArgs{}.Kind()); err != nil || n != 0 {
			t.Errorf("%d batch jobs left, %v; want none", n, err)
		}

		startWorkers(t, db, s)
		for _, id := range ids {
			waitStatus(t, db, id, store.MailSent)
		}
		received := map[string]int{}
		for _, m := range sink.Messages() {
			received[m.To[0]]++
		}
		for _, addr := range to {
			if received[addr] != 1 {
				t.Errorf("%s received %d emails, want 1", addr, received[addr])
			}
		}
	})
}

// TestBatchRunAgainHandsItsEmailsOn: a batch's job run again (after a
// failure, or rescued from a dead node) sends nothing itself: the emails
// not tried yet get a send job each, once however often it runs.
func TestBatchRunAgainHandsItsEmailsOn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sink := smtptest.Start(t, smtptest.Options{})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		if _, err := db.NewJobs(&river.Config{}); err != nil { // records jobs only
			t.Fatal(err)
		}
		ids := recordBatch(t, db, s, "ada@example.com", "bob@example.com", "cy@example.com")
		for range 2 {
			if err := s.WorkSendBatch(ctx, mail.SendBatchArgs{MessageIDs: ids}, 2); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(sink.Messages()); n != 0 {
			t.Errorf("the job run again sent %d emails itself, want none", n)
		}
		if n, err := db.UnfinishedJobs(ctx, mail.SendArgs{}.Kind()); err != nil || n != len(ids) {
			t.Errorf("%d send jobs, %v; want one per email", n, err)
		}
		for _, id := range ids {
			if m := message(t, db, id); m.Status != store.MailQueued || m.Attempts != 0 {
				t.Errorf("email %d: %+v; want still queued, untried", id, m)
			}
		}
	})
}

// TestEnrollmentEmailsKeepTheirOrder: the emails of an enrollment reach
// the server in the order they were recorded, whether they share a batch
// or each has its own, while the server refuses for a while (421 to
// everything, then a 451 to each enrollment's first email): an email that
// waits for a retry holds back the later ones of its enrollment, and only
// those.
func TestEnrollmentEmailsKeepTheirOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var (
			mu       sync.Mutex
			refused  = map[string]bool{}
			outage   = time.Now().Add(300 * time.Millisecond)
			arrivals = map[string][]string{} // recipient -> Message-ID keys in order of receipt
		)
		sink := smtptest.Start(t, smtptest.Options{
			Reply: func(_ int, m smtptest.Message) error {
				if time.Now().Before(outage) {
					return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "closing for a moment"}
				}
				key := messageKey(m.Data)
				mu.Lock()
				defer mu.Unlock()
				if strings.HasSuffix(key, "-0") && !refused[key] {
					refused[key] = true
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
				}
				arrivals[m.To[0]] = append(arrivals[m.To[0]], key)
				return nil
			},
		})
		s := newService(t, db, smtpTransport(t, sink), "smtp")
		startWorkers(t, db, s)

		const enrollments, each = 6, 4
		var ids []int64
		for e := range enrollments {
			if e%2 == 0 {
				// The enrollment's emails in one batch, as a pass records
				// lessons due together.
				ids = append(ids, recordSequence(t, db, s, int64(e+1), 0, each)...)
				continue
			}
			// Each in a batch of its own, as lessons a minute apart.
			for i := range each {
				ids = append(ids, recordSequence(t, db, s, int64(e+1), i, 1)...)
			}
		}
		// A retry, or a look again at an email that waits, comes with
		// River's scheduler, every few seconds.
		storetest.Eventually(t, time.Minute, "every email sent", func() bool {
			for _, id := range ids {
				if message(t, db, id).Status != store.MailSent {
					return false
				}
			}
			return true
		})
		mu.Lock()
		defer mu.Unlock()
		for e := range enrollments {
			to := fmt.Sprintf("learner%d@example.com", e+1)
			var want []string
			for i := range each {
				want = append(want, fmt.Sprintf("seq-%d-%d", e+1, i))
			}
			if got := arrivals[to]; !slices.Equal(got, want) {
				t.Errorf("%s received %v, want %v", to, got, want)
			}
		}
	})
}

// recordSequence records emails from-th to (from+n-1)-th of an enrollment,
// to learner<enrollment>@example.com, in one batch, keyed seq-E-I.
func recordSequence(t *testing.T, db *store.DB, s *mail.Service, enrollment int64, from, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	err := db.InTx(ctx, func(q *store.Queries) error {
		batch := s.NewBatch()
		for i := from; i < from+n; i++ {
			id, err := batch.Add(ctx, q, mail.Email{Kind: mail.KindTest, To: fmt.Sprintf("learner%d@example.com", enrollment),
				EnrollmentID: enrollment, Key: fmt.Sprintf("seq-%d-%d", enrollment, i)})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return batch.Enqueue(ctx, q)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// messageKey is the key that starts a raw email's Message-ID.
func messageKey(raw []byte) string {
	_, after, _ := strings.Cut(string(raw), "Message-ID: <")
	key, _, _ := strings.Cut(after, ".")
	return key
}
