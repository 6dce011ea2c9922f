package store_test

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// Attempts recorded together leave each message as its attempt recorded
// alone would: its status, error, provider id, sender and times. Two
// attempts at one message in a group are recorded in turn, the second
// seeing the first's outcome.
func TestMailAttemptsRecordedTogether(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, _ := storetest.NewOrganization(t, db, "Acme")
		lesson := queuedEmail{&org, "lesson"}
		ids := queueEmails(t, db, "old@example.com", lesson, lesson, lesson, lesson, lesson, lesson)
		retryAt := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		record := func(group []store.RecordedAttempt) []bool {
			t.Helper()
			var changed []bool
			err := db.InTx(ctx, func(q *store.Queries) error {
				var err error
				changed, err = q.RecordMailAttempts(ctx, group)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return changed
		}
		changed := record([]store.RecordedAttempt{
			{MessageID: ids[0], Attempt: store.MailAttempt{Status: store.MailQueued, Transport: "smtp", Error: "421 busy", RetryAt: retryAt}},
			{MessageID: ids[1], Attempt: store.MailAttempt{Status: store.MailSent, Transport: "smtp", ProviderMessageID: "p1", Sender: "new@example.com"}},
			{MessageID: ids[2], Attempt: store.MailAttempt{Status: store.MailFailed, Transport: "smtp", Error: "550 no such user"}},
		})
		if !slices.Equal(changed, []bool{true, true, true}) {
			t.Fatalf("changed %v", changed)
		}
		if m, err := db.Read().MailMessageByID(ctx, ids[0]); err != nil || m.Status != store.MailQueued || m.RetryAt == nil || !m.RetryAt.Equal(retryAt) {
			t.Errorf("the email to retry: %+v, %v", m, err)
		}
		// The retry succeeds and keeps the error before it; the same
		// message twice in one group: queued again, then sent.
		changed = record([]store.RecordedAttempt{
			{MessageID: ids[0], Attempt: store.MailAttempt{Status: store.MailSent, Transport: "smtp"}},
			{MessageID: ids[3], Attempt: store.MailAttempt{Status: store.MailQueued, Transport: "smtp", Error: "421 busy", RetryAt: retryAt}},
			{MessageID: ids[3], Attempt: store.MailAttempt{Status: store.MailSent, Transport: "smtp"}},
			{MessageID: ids[2], Attempt: store.MailAttempt{Status: store.MailSent, Transport: "smtp"}},
		})
		if !slices.Equal(changed, []bool{true, true, true, false}) {
			t.Fatalf("changed %v", changed)
		}
		// A finished message between two queued ones, in one statement.
		changed = record([]store.RecordedAttempt{
			{MessageID: ids[4], Attempt: store.MailAttempt{Status: store.MailSent, Transport: "smtp"}},
			{MessageID: ids[1], Attempt: store.MailAttempt{Status: store.MailSent, Transport: "smtp"}},
			{MessageID: ids[5], Attempt: store.MailAttempt{Status: store.MailFailed, Transport: "smtp", Error: "550 no such user"}},
		})
		if !slices.Equal(changed, []bool{true, false, true}) {
			t.Fatalf("changed %v", changed)
		}
		type state struct {
			status, lastError, provider, sender string
			attempts                            int
			sent, retry                         bool
		}
		for i, want := range []state{
			{store.MailSent, "421 busy", "", "old@example.com", 2, true, false},
			{store.MailSent, "", "p1", "new@example.com", 1, true, false},
			{store.MailFailed, "550 no such user", "", "old@example.com", 1, false, false},
			{store.MailSent, "421 busy", "", "old@example.com", 2, true, false},
			{store.MailSent, "", "", "old@example.com", 1, true, false},
			{store.MailFailed, "550 no such user", "", "old@example.com", 1, false, false},
		} {
			m, err := db.Read().MailMessageByID(ctx, ids[i])
			if err != nil {
				t.Fatal(err)
			}
			got := state{m.Status, m.LastError, m.ProviderMessageID, m.Sender, m.Attempts, m.SentAt != nil, m.RetryAt != nil}
			if got != want {
				t.Errorf("email %d: %+v, want %+v", i, got, want)
			}
		}
		if got, want := todaysCounts(t, db, org), "mail_failed:lesson=2 mail_retried:lesson=2 mail_sent:lesson=4"; got != want {
			t.Errorf("counts %q, want %q", got, want)
		}
	})
}

// queuedEmail is an email for queueEmails: its organization (nil for the
// platform's) and kind.
type queuedEmail struct {
	org  *int64
	kind string
}

// queueEmails records emails from sender, queued, in one transaction, and
// returns their ids in order.
func queueEmails(t *testing.T, db *store.DB, sender string, emails ...queuedEmail) []int64 {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	err := db.InTx(ctx, func(q *store.Queries) error {
		for _, e := range emails {
			m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: e.org, Kind: e.kind, Sender: sender,
				Recipient: "b@example.com", Subject: "Hi", MessageID: rand.Text() + "@example.com", Raw: []byte("x")})
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
	return ids
}

// On PostgreSQL an email's source is stored compressed with lz4, where
// the server has it.
func TestMailSourceCompressedWithLZ4(t *testing.T) {
	db := storetest.NewPostgres(t)
	ctx := context.Background()
	if n, err := db.QueryInt(ctx, `SELECT COUNT(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)`); err != nil || n == 0 {
		t.Skipf("the server has no lz4 (%v): sources keep pglz", err)
	}
	org, _ := storetest.NewOrganization(t, db, "Acme")
	var id int64
	err := db.InTx(ctx, func(q *store.Queries) error {
		m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: &org, Kind: "lesson", Sender: "a@example.com",
			Recipient: "b@example.com", Subject: "Hi", MessageID: "lz4@example.com",
			Raw: []byte(strings.Repeat("Lesson one: a paragraph of text that repeats.\r\n", 100))})
		id = m.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.QueryInt(ctx, `SELECT COUNT(*) FROM mail_messages WHERE id = $1 AND pg_column_compression(raw) = 'lz4'`, id)
	if err != nil || n != 1 {
		t.Errorf("emails stored with lz4: %d, %v; want 1", n, err)
	}
}
