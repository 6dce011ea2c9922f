package mail_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestSendRecordedThroughADatabaseHiccup: the database refuses to record
// that an email went out (as with its disk full) for a second after the
// server took it. The send is recorded once the database takes writes
// again, and the email is not sent a second time.
func TestSendRecordedThroughADatabaseHiccup(t *testing.T) {
	ctx := context.Background()
	db, raw := openSQLiteWithRaw(t)
	exec := func(stmt string) {
		t.Helper()
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	refusing := make(chan error, 1)
	var once sync.Once
	sink := smtptest.Start(t, smtptest.Options{Reply: func(int, smtptest.Message) error {
		// The database is full from the moment the server has the email.
		once.Do(func() {
			_, err := raw.Exec(`CREATE TRIGGER refuse_mail_updates BEFORE UPDATE ON mail_messages BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`)
			refusing <- err
		})
		return nil
	}})
	s := newService(t, db, smtpTransport(t, sink), "smtp")
	startWorkers(t, db, s)
	ids := enqueue(t, db, s, "ada@example.com")
	select {
	case err := <-refusing:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the email never reached the server")
	}
	time.Sleep(time.Second)
	exec(`DROP TRIGGER refuse_mail_updates`)

	m := waitStatus(t, db, ids[0], store.MailSent)
	if m.Attempts != 1 {
		t.Errorf("the email was recorded after %d attempts, want 1", m.Attempts)
	}
	time.Sleep(500 * time.Millisecond) // a retry would come within this
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("the server received the email %d times, want once", n)
	}
	storetest.Eventually(t, 10*time.Second, "no send job left", func() bool {
		n, err := db.UnfinishedJobs(ctx, "send_email")
		return err == nil && n == 0
	})
}

// TestOneRefusedOutcomeHoldsUpNoOther records the outcomes of eight
// emails sent at the same time while the database refuses to record one
// of them: the outcomes that came while the first was written go in one
// group with the refused one, and that group fails. Each of its other
// outcomes is recorded at once on its own, and the refused one once the
// database takes it again.
func TestOneRefusedOutcomeHoldsUpNoOther(t *testing.T) {
	ctx := context.Background()
	db, raw := openSQLiteWithRaw(t)
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(stmt string) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	s := newService(t, db, smtpTransport(t, smtptest.Start(t, smtptest.Options{})), "smtp")
	var ids []int64
	err = db.InTx(ctx, func(q *store.Queries) error {
		for _, to := range []string{"first@example.com", "a@example.com", "b@example.com", "c@example.com",
			"refused@example.com", "d@example.com", "e@example.com", "f@example.com"} {
			m, err := q.CreateMailMessage(ctx, store.NewMailMessage{Kind: string(mail.KindTest), Sender: "learn@acme.example",
				Recipient: to, Subject: "Test", MessageID: "<" + to + ">", Raw: []byte("Subject: Test\r\n\r\nTest\r\n")})
			if err != nil {
				return err
			}
			ids = append(ids, m.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	exec(`CREATE TRIGGER refuse_one BEFORE UPDATE ON mail_messages WHEN OLD.recipient = 'refused@example.com'
		BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`)

	type result struct {
		recipient string
		err       error
		at        time.Time
	}
	results := make(chan result, len(ids))
	record := func(id int64) {
		m := message(t, db, id)
		go func() {
			err := s.RecordAttempt(ctx, m, store.MailAttempt{Status: store.MailSent, Transport: "smtp"})
			results <- result{m.Recipient, err, time.Now()}
		}()
	}
	// The first outcome's group waits for the writer, held here, while
	// the seven others come: they make the next group, in one transaction.
	exec(`BEGIN IMMEDIATE`)
	record(ids[0])
	storetest.Eventually(t, 5*time.Second, "the first group taken", func() bool {
		pending, writing := s.OutcomesPending()
		return pending == 0 && writing
	})
	for _, id := range ids[1:] {
		record(id)
	}
	storetest.Eventually(t, 5*time.Second, "seven outcomes waiting", func() bool {
		pending, _ := s.OutcomesPending()
		return pending == len(ids)-1
	})
	exec(`COMMIT`)

	for range len(ids) - 1 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Errorf("%s: %v", r.recipient, r.err)
			}
			if r.recipient == "refused@example.com" {
				t.Errorf("the refused outcome was recorded while the database refused it")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the outcomes of the refused one's group were not recorded on their own")
		}
	}
	exec(`DROP TRIGGER refuse_one`)
	select {
	case r := <-results:
		if r.recipient != "refused@example.com" || r.err != nil {
			t.Errorf("last: %s, %v; want refused@example.com recorded", r.recipient, r.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the refused outcome was not recorded once the database took it")
	}
	for _, id := range ids {
		if m := message(t, db, id); m.Status != store.MailSent || m.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts, want sent after 1", m.Recipient, m.Status, m.Attempts)
		}
	}
}

// openSQLiteWithRaw opens a migrated SQLite database, and a connection
// pool of its own to the same file, for a test to change behind the
// store's back.
func openSQLiteWithRaw(t *testing.T) (*store.DB, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, quiet); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mailschool.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return db, raw
}
