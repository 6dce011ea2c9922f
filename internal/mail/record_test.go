package mail_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

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
