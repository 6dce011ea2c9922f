package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
)

// TestStopLetsRunningJobsFinish stops serve (as SIGTERM does) while it
// sends a batch of emails that takes a couple of seconds: the batch
// finishes before serve exits, within the shutdown timeout, and no email
// is left to a job of its own.
func TestStopLetsRunningJobsFinish(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{Reply: func(int, smtptest.Message) error {
		time.Sleep(200 * time.Millisecond)
		return nil
	}})
	dir := t.TempDir()
	env := map[string]string{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_SMTP_URL": sink.URL()}
	// Two learners, five emails each: each learner's go one after the
	// other, two seconds in all.
	ids := recordEmailBatch(t, env, 2, 5)

	_, stop := startServer(t, env)
	sink.Wait(t, 1, 15*time.Second)
	stopped := time.Now()
	log := stop()
	took := time.Since(stopped)

	if got := len(sink.Messages()); got != len(ids) {
		t.Errorf("the server received %d emails, want the batch's %d sent before the exit\n%s", got, len(ids), log)
	}
	if took > 10*time.Second {
		t.Errorf("serve took %v to stop, more than the shutdown timeout", took)
	}
	db := openData(t, env)
	for _, id := range ids {
		m, err := db.Read().MailMessageByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != store.MailSent || m.Attempts != 1 {
			t.Errorf("email %d is %s after %d attempts, want sent once", id, m.Status, m.Attempts)
		}
	}
	if n, err := db.UnfinishedJobs(context.Background(), mail.SendArgs{}.Kind()); err != nil || n != 0 {
		t.Errorf("%d emails handed to jobs of their own (%v), want none", n, err)
	}
}

// recordEmailBatch records test emails to learners learner0..n, each
// of them each emails in its own sequence, in one batch job, on the
// database of env; it returns their ids.
func recordEmailBatch(t *testing.T, env map[string]string, learners, each int) []int64 {
	t.Helper()
	if r := runCommand(t, env, "", "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	db := openData(t, env)
	mailer, err := mail.NewService(db, mail.Config{From: "Acme <learn@acme.example>", BaseURL: "http://localhost",
		Transport: mail.Outbox{}, TransportName: "outbox"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []int64
	err = db.InTx(ctx, func(q *store.Queries) error {
		batch := mailer.NewBatch()
		for i := range each {
			for l := range learners {
				id, err := batch.Add(ctx, q, mail.Email{Kind: mail.KindTest, To: fmt.Sprintf("learner%d@example.com", l),
					EnrollmentID: int64(l + 1), Key: fmt.Sprintf("lesson-%d", i)})
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
		}
		return batch.Enqueue(ctx, q)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// openData opens the SQLite database of env's data directory for the
// test's duration.
func openData(t *testing.T, env map[string]string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "", env["MAILSCHOOL_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.NewJobs(&river.Config{}); err != nil { // inserts and counts only
		t.Fatal(err)
	}
	return db
}

// TestStopCancelsJobsAfterTheShutdownTimeout: a batch that would take
// far longer than MAILSCHOOL_SHUTDOWN_TIMEOUT is cancelled once it runs
// out; the emails it did not send get a job each, for the next start.
func TestStopCancelsJobsAfterTheShutdownTimeout(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{Reply: func(int, smtptest.Message) error {
		time.Sleep(500 * time.Millisecond)
		return nil
	}})
	env := map[string]string{"MAILSCHOOL_DATA_DIR": t.TempDir(), "MAILSCHOOL_SMTP_URL": sink.URL(), "MAILSCHOOL_SHUTDOWN_TIMEOUT": "1s"}
	// One learner's twenty emails, one after the other: ten seconds.
	ids := recordEmailBatch(t, env, 1, 20)

	_, stop := startServer(t, env)
	sink.Wait(t, 1, 15*time.Second)
	stopped := time.Now()
	stop()
	if took := time.Since(stopped); took > 5*time.Second {
		t.Errorf("serve took %v to stop with a 1s shutdown timeout", took)
	}
	sent := len(sink.Messages())
	if sent == len(ids) {
		t.Fatal("every email went out before the stop: the test proved nothing")
	}
	db := openData(t, env)
	queued := 0
	for _, id := range ids {
		m, err := db.Read().MailMessageByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == store.MailQueued {
			queued++
		}
	}
	if queued == 0 || queued+sent != len(ids) {
		t.Errorf("%d emails sent and %d queued of %d", sent, queued, len(ids))
	}
	if n, err := db.UnfinishedJobs(context.Background(), mail.SendArgs{}.Kind()); err != nil || n != queued {
		t.Errorf("%d send jobs (%v), want one for each of the %d emails left", n, err, queued)
	}
}
