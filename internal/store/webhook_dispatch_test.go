package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// addEndpoint and addMessage write rows as the webhook service does.
func addEndpoint(t testing.TB, db *store.DB, orgID int64, enabled bool) int64 {
	t.Helper()
	ctx := context.Background()
	at := time.Now().UTC()
	if err := db.Exec(ctx, `INSERT INTO webhook_endpoints (organization_id, url, events, enabled, secret, created_at, updated_at)
		VALUES (?, 'https://hooks.example/in', '*', ?, 'whsec_c2VjcmV0', ?, ?)`, orgID, enabled, at, at); err != nil {
		t.Fatal(err)
	}
	id, err := db.QueryInt(ctx, `SELECT MAX(id) FROM webhook_endpoints`)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func addMessage(t *testing.T, db *store.DB, orgID, endpointID int64, subject string, due time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	n, _ := db.QueryInt(ctx, `SELECT COUNT(*) FROM webhook_messages`)
	if err := db.Exec(ctx, `INSERT INTO webhook_messages (endpoint_id, organization_id, event_id, event_type, subject, payload, status, next_attempt_at, created_at)
		VALUES (?, ?, ?, 'enrollment.created', ?, '{}', 'pending', ?, ?)`,
		endpointID, orgID, fmt.Sprintf("msg_%d", n+1), subject, due.UTC(), time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	id, err := db.QueryInt(ctx, `SELECT MAX(id) FROM webhook_messages`)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ids(msgs []store.WebhookMessage) []int64 {
	var list []int64
	for _, m := range msgs {
		list = append(list, m.ID)
	}
	return list
}

// The next messages of an endpoint are its due, pending ones in id order,
// each only once no older message of its subject is pending, due or not.
func TestNextWebhookMessagesKeepsEachSubjectInOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		ep := addEndpoint(t, db, orgID, true)
		other := addEndpoint(t, db, orgID, true)
		now := time.Now().UTC()
		a1 := addMessage(t, db, orgID, ep, "enrollment:1", now.Add(time.Hour)) // a retry, later
		b1 := addMessage(t, db, orgID, ep, "enrollment:2", now)
		a2 := addMessage(t, db, orgID, ep, "enrollment:1", now) // waits for a1
		b2 := addMessage(t, db, orgID, ep, "enrollment:2", now) // waits for b1
		n1 := addMessage(t, db, orgID, ep, "", now)
		n2 := addMessage(t, db, orgID, ep, "", now)
		addMessage(t, db, orgID, other, "enrollment:2", now)

		next, err := db.Read().NextWebhookMessages(ctx, ep, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{b1, n1, n2}; !slices.Equal(ids(next), want) {
			t.Fatalf("next = %v, want %v", ids(next), want)
		}
		if next, _ := db.Read().NextWebhookMessages(ctx, ep, now, 2); !slices.Equal(ids(next), []int64{b1, n1}) {
			t.Errorf("next 2 = %v", ids(next))
		}

		// b1 delivered: b2 comes next. a1 given up: a2 comes next.
		record := func(id int64, status store.WebhookMessageStatus) {
			t.Helper()
			err := db.InTx(ctx, func(q *store.Queries) error {
				code := 200
				changed, err := q.RecordWebhookOutcome(ctx, store.WebhookOutcome{Status: status,
					Attempt: store.WebhookAttempt{MessageID: id, EndpointID: ep, Attempt: 1, StatusCode: &code, Duration: 12 * time.Millisecond, Response: "ok", CreatedAt: now}})
				if err == nil && !changed {
					err = fmt.Errorf("message %d not recorded", id)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		record(n1, store.WebhookDelivered)
		// A round recorded at once: b1 answered, a1 not (a final failure
		// here), and n1 again, which is not pending any more.
		err = db.InTx(ctx, func(q *store.Queries) error {
			code := 204
			n, err := q.RecordWebhookOutcomes(ctx, []store.WebhookOutcome{
				{Status: store.WebhookDelivered, Attempt: store.WebhookAttempt{MessageID: b1, EndpointID: ep, Attempt: 1, StatusCode: &code,
					Duration: 12 * time.Millisecond, Response: "ok", CreatedAt: now}},
				{Status: store.WebhookFailed, Attempt: store.WebhookAttempt{MessageID: a1, EndpointID: ep, Attempt: 4, Duration: time.Second,
					Error: "connection refused", CreatedAt: now}},
				{Status: store.WebhookDelivered, Attempt: store.WebhookAttempt{MessageID: n1, EndpointID: ep, Attempt: 2, CreatedAt: now}},
			})
			if err == nil && n != 2 {
				err = fmt.Errorf("recorded %d, want 2", n)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := db.QueryInt(ctx, `SELECT COALESCE(status_code, -1) FROM webhook_attempts WHERE message_id = ?`, a1); code != -1 {
			t.Errorf("a1's attempt logged with status %d, want NULL", code)
		}
		if n, _ := db.QueryInt(ctx, `SELECT attempts FROM webhook_messages WHERE id = ? AND status = 'failed' AND finished_at IS NOT NULL`, a1); n != 4 {
			t.Errorf("a1 after its round: %d attempts", n)
		}
		next, err = db.Read().NextWebhookMessages(ctx, ep, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{a2, b2, n2}; !slices.Equal(ids(next), want) {
			t.Fatalf("after b1 and a1: next = %v, want %v", ids(next), want)
		}

		// A message recorded twice (a crash between send and record, then
		// a second try that recorded first) is not changed again.
		err = db.InTx(ctx, func(q *store.Queries) error {
			changed, err := q.RecordWebhookOutcome(ctx, store.WebhookOutcome{Status: store.WebhookPending, NextAttemptAt: now,
				Attempt: store.WebhookAttempt{MessageID: b1, EndpointID: ep, Attempt: 2, CreatedAt: now}})
			if changed {
				t.Error("a delivered message was recorded again")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := db.QueryInt(ctx, `SELECT COUNT(*) FROM webhook_attempts WHERE message_id = ?`, b1); n != 1 {
			t.Errorf("b1 has %d attempts logged, want 1", n)
		}
		if s, _ := db.QueryString(ctx, `SELECT response FROM webhook_attempts WHERE message_id = ?`, b1); s != "ok" {
			t.Errorf("logged response %q", s)
		}

		// Due endpoints: enabled ones with a due message.
		disabled := addEndpoint(t, db, orgID, false)
		addMessage(t, db, orgID, disabled, "", now)
		due, err := db.Read().DueWebhookEndpoints(ctx, now, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{ep, other}; !slices.Equal(due, want) {
			t.Errorf("due endpoints %v, want %v", due, want)
		}
		if due, _ := db.Read().DueWebhookEndpoints(ctx, now, ep, 10); !slices.Equal(due, []int64{other}) {
			t.Errorf("due endpoints after %d: %v", ep, due)
		}
	})
}

// A round recorded in one go stores what recording its outcomes one by one
// stores, to the byte: the dispatcher's next round and the delivery log
// read the same times and answers either way.
func TestWebhookOutcomesRecordedTogetherAsOneByOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		ep := addEndpoint(t, db, orgID, true)
		now := time.Date(2026, 12, 6, 10, 30, 15, 123456789, time.UTC)
		code200, code503 := 200, 503
		outcomes := func(ids []int64) []store.WebhookOutcome {
			return []store.WebhookOutcome{
				{Status: store.WebhookDelivered, Attempt: store.WebhookAttempt{MessageID: ids[0], EndpointID: ep, Attempt: 1,
					StatusCode: &code200, Duration: 12 * time.Millisecond, Response: `{"ok": true, "note": "café \"quoted\""}`, CreatedAt: now}},
				{Status: store.WebhookPending, NextAttemptAt: now.Add(5 * time.Second), Attempt: store.WebhookAttempt{MessageID: ids[1],
					EndpointID: ep, Attempt: 2, StatusCode: &code503, Duration: time.Second, Response: "busy", CreatedAt: now}},
				{Status: store.WebhookFailed, Attempt: store.WebhookAttempt{MessageID: ids[2], EndpointID: ep, Attempt: 7,
					Duration: 10 * time.Second, Error: "connection refused", CreatedAt: now}},
			}
		}
		var oneByOne, together []int64
		for range 3 {
			oneByOne = append(oneByOne, addMessage(t, db, orgID, ep, "", now))
			together = append(together, addMessage(t, db, orgID, ep, "", now))
		}
		err := db.InTx(ctx, func(q *store.Queries) error {
			for _, o := range outcomes(oneByOne) {
				if _, err := q.RecordWebhookOutcome(ctx, o); err != nil {
					return err
				}
			}
			n, err := q.RecordWebhookOutcomes(ctx, outcomes(together))
			if err == nil && n != 3 {
				err = fmt.Errorf("recorded %d, want 3", n)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		stored := func(id int64) string {
			t.Helper()
			s, err := db.QueryString(ctx, `
				SELECT m.status || '|' || m.attempts || '|' || CAST(m.next_attempt_at AS TEXT) || '|' || COALESCE(CAST(m.finished_at AS TEXT), '-')
					|| '|' || a.endpoint_id || '|' || a.attempt || '|' || COALESCE(CAST(a.status_code AS TEXT), '-') || '|' || a.duration_ms
					|| '|' || a.response || '|' || a.error || '|' || CAST(a.created_at AS TEXT)
				FROM webhook_messages m JOIN webhook_attempts a ON a.message_id = m.id WHERE m.id = ?`, id)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		for i := range oneByOne {
			if a, b := stored(oneByOne[i]), stored(together[i]); a != b {
				t.Errorf("outcome %d recorded alone:\n%s\nrecorded with its round:\n%s", i, a, b)
			}
		}
		if next, _ := db.Read().NextWebhookMessages(ctx, ep, now.Add(4*time.Second), 10); len(next) != 0 {
			t.Errorf("due before their retry: %v", ids(next))
		}
		if next, _ := db.Read().NextWebhookMessages(ctx, ep, now.Add(5*time.Second), 10); !slices.Equal(ids(next), []int64{oneByOne[1], together[1]}) {
			t.Errorf("due at their retry: %v", ids(next))
		}
	})
}

// An endpoint's run of failures starts once and ends with a success; it
// is disabled once, with its reason.
func TestWebhookEndpointFailing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "owner@acme.example", Role: "owner"},
			storetest.Member{Email: "admin@acme.example", Role: "admin"}, storetest.Member{Email: "editor@acme.example", Role: "editor"})
		ep := addEndpoint(t, db, orgID, true)
		first := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		err := db.InTx(ctx, func(q *store.Queries) error {
			for _, at := range []time.Time{first, first.Add(time.Hour)} {
				since, err := q.SetWebhookEndpointFailing(ctx, ep, at)
				if err != nil {
					return err
				}
				if !since.Equal(first) {
					t.Errorf("failing since %v, want %v", since, first)
				}
			}
			if err := q.ClearWebhookEndpointFailing(ctx, ep); err != nil {
				return err
			}
			since, err := q.SetWebhookEndpointFailing(ctx, ep, first.Add(2*time.Hour))
			if err != nil {
				return err
			}
			if !since.Equal(first.Add(2 * time.Hour)) {
				t.Errorf("after a success, failing since %v", since)
			}
			for i, want := range []bool{true, false} {
				changed, err := q.DisableWebhookEndpoint(ctx, ep, "It failed.", first)
				if err != nil {
					return err
				}
				if changed != want {
					t.Errorf("disable #%d changed %v", i+1, changed)
				}
			}
			e, err := q.WebhookEndpointToSend(ctx, ep)
			if err != nil {
				return err
			}
			if e.Enabled || e.DisabledReason != "It failed." || e.OrganizationID != orgID {
				t.Errorf("endpoint after disabling: %+v", e)
			}
			admins, err := q.OrganizationAdminEmails(ctx, orgID)
			if err != nil {
				return err
			}
			if want := []string{"admin@acme.example", "owner@acme.example"}; !slices.Equal(admins, want) {
				t.Errorf("admins %v, want %v", admins, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// The sweep deletes finished messages older than its time, with their
// attempts, and leaves pending and newer ones.
func TestDeleteFinishedWebhookMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		ep := addEndpoint(t, db, orgID, true)
		now := time.Now().UTC()
		old := addMessage(t, db, orgID, ep, "", now)
		recent := addMessage(t, db, orgID, ep, "", now)
		pending := addMessage(t, db, orgID, ep, "", now)
		for id, at := range map[int64]time.Time{old: now.Add(-31 * 24 * time.Hour), recent: now.Add(-29 * 24 * time.Hour)} {
			err := db.InTx(ctx, func(q *store.Queries) error {
				_, err := q.RecordWebhookOutcome(ctx, store.WebhookOutcome{Status: store.WebhookDelivered,
					Attempt: store.WebhookAttempt{MessageID: id, EndpointID: ep, Attempt: 1, CreatedAt: at}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int64
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			n, err = q.DeleteFinishedWebhookMessages(ctx, now.Add(-30*24*time.Hour), 100)
			return err
		})
		if err != nil || n != 1 {
			t.Fatalf("deleted %d, %v; want 1", n, err)
		}
		left, _ := db.QueryInt(ctx, `SELECT COUNT(*) FROM webhook_messages WHERE id IN (?, ?)`, recent, pending)
		gone, _ := db.QueryInt(ctx, `SELECT COUNT(*) FROM webhook_messages WHERE id = ?`, old)
		attempts, _ := db.QueryInt(ctx, `SELECT COUNT(*) FROM webhook_attempts WHERE message_id = ?`, old)
		if left != 2 || gone != 0 || attempts != 0 {
			t.Errorf("left %d (want 2), old %d and its attempts %d (want 0)", left, gone, attempts)
		}
	})
}

// Many messages held behind their subject's first, not due yet, hide
// none of the ones that may go after them.
func TestNextWebhookMessagesReadsPastWaitingMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		ep := addEndpoint(t, db, orgID, true)
		now := time.Now().UTC()
		addMessage(t, db, orgID, ep, "enrollment:1", now.Add(time.Hour)) // a retry, later
		for range 6 {
			addMessage(t, db, orgID, ep, "enrollment:1", now)
		}
		b := addMessage(t, db, orgID, ep, "enrollment:2", now)
		addMessage(t, db, orgID, ep, "enrollment:2", now)
		c := addMessage(t, db, orgID, ep, "", now)
		d := addMessage(t, db, orgID, ep, "enrollment:3", now)

		next, err := db.Read().NextWebhookMessages(ctx, ep, now, 2)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{b, c}; !slices.Equal(ids(next), want) {
			t.Errorf("next 2 = %v, want %v", ids(next), want)
		}
		next, err = db.Read().NextWebhookMessages(ctx, ep, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{b, c, d}; !slices.Equal(ids(next), want) {
			t.Errorf("next 10 = %v, want %v", ids(next), want)
		}
	})
}

// Each round reads its endpoint's pending messages in id order from
// their index, whatever other endpoints have due: no scan of every due
// message, no sort; and whether an older message of a subject is pending
// only from the index by subject.
func TestNextWebhookMessagesReadTheEndpointsIndex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		ep := addEndpoint(t, db, orgID, true)
		plan, err := db.NextWebhookMessagesPlan(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		text := plan.String()
		t.Log(text)
		if strings.Count(text, "webhook_messages_pending_idx") != 1 || !strings.Contains(text, "webhook_messages_unfinished_subject_idx") ||
			strings.Contains(text, "TEMP B-TREE") || strings.Contains(text, "Sort") {
			t.Errorf("plan:\n%s", text)
		}
	})
}
