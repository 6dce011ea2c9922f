package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestWebhookEventMatching: an event is written for the enabled endpoints
// of its organization whose list holds its type exactly, or "*"; a type
// that is a prefix, a suffix or a LIKE pattern of a subscribed one does
// not match.
func TestWebhookEventMatching(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, _ := storetest.NewOrganization(t, db, "Acme")
		other, _ := storetest.NewOrganization(t, db, "Other")
		endpoints := map[string]int64{}
		err := db.InTx(ctx, func(q *store.Queries) error {
			for name, spec := range map[string]struct {
				org    int64
				events []string
			}{
				"all":      {org, []string{"*"}},
				"roles":    {org, []string{"member.added", "member.role_changed"}},
				"last":     {org, []string{"course.enabled", "member.removed"}},
				"off":      {org, []string{"*"}},
				"theirs":   {other, []string{"*"}},
				"prefixes": {org, []string{"member.role", "member.role_changed.x"}},
			} {
				w, err := q.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{OrganizationID: spec.org, URL: "https://" + name + ".example/",
					Events: spec.events, Secret: "whsec_" + name})
				if err != nil {
					return err
				}
				endpoints[name] = w.ID
			}
			off, err := q.WebhookEndpoint(ctx, org, endpoints["off"])
			if err != nil {
				return err
			}
			return q.UpdateWebhookEndpoint(ctx, org, off.ID, store.WebhookEndpointChange{URL: off.URL, Events: off.Events, Enabled: false})
		})
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			typ  string
			want []string
		}{
			{"member.role_changed", []string{"all", "roles"}},
			{"member.removed", []string{"all", "last"}},
			{"member.role_", []string{"all"}},
			{"member.role%", []string{"all"}},
			{"member.rolexchanged", []string{"all"}},
			{"enrollment.created", []string{"all"}},
		}
		for _, tt := range cases {
			var ids []int64
			err := db.InTx(ctx, func(q *store.Queries) error {
				var err error
				ids, err = q.AddWebhookEvent(ctx, store.WebhookEvent{OrganizationID: org, EventID: "msg_" + tt.typ, Type: tt.typ,
					Payload: "{}", At: time.Now()})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []int64
			for _, name := range tt.want {
				want = append(want, endpoints[name])
			}
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("%s went to %v, want %v (%v)", tt.typ, ids, want, tt.want)
			}
		}
		// The same events written together, with one of the other
		// organization's among them, give the same messages, in the
		// events' order and then the endpoints'.
		var events []store.WebhookEvent
		var want []string
		for i, tt := range cases {
			if i == 2 {
				events = append(events, store.WebhookEvent{OrganizationID: other, EventID: "msg_other", Type: "course.enabled",
					Subject: "course:1", Payload: `{"other":true}`, At: time.Now()})
				want = append(want, fmt.Sprint(endpoints["theirs"], " course.enabled course:1"))
			}
			events = append(events, store.WebhookEvent{OrganizationID: org, EventID: "msg_together_" + tt.typ, Type: tt.typ,
				Subject: "enrollment:7", Payload: "{}", At: time.Now()})
			var to []int64
			for _, name := range tt.want {
				to = append(to, endpoints[name])
			}
			slices.Sort(to)
			for _, id := range to {
				want = append(want, fmt.Sprint(id, " ", tt.typ, " enrollment:7"))
			}
		}
		err = db.InTx(ctx, func(q *store.Queries) error {
			ids, err := q.AddWebhookEvents(ctx, events)
			if err == nil && len(ids) != len(want) {
				err = fmt.Errorf("%d messages written, want %d", len(ids), len(want))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		for i := range want {
			row, err := db.QueryString(ctx, `SELECT endpoint_id || ' ' || event_type || ' ' || subject FROM webhook_messages
				WHERE event_id LIKE 'msg_together_%' OR event_id = 'msg_other' ORDER BY id LIMIT 1 OFFSET ?`, i)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row)
		}
		if !slices.Equal(rows, want) {
			t.Errorf("written together:\n%q\nwant\n%q", rows, want)
		}
		// Written together or one by one, the rows hold the same bytes.
		at := time.Date(2026, 12, 7, 2, 40, 5, 123456789, time.FixedZone("CET", 3600))
		stored := func(prefix string, events []store.WebhookEvent, write func(q *store.Queries, events []store.WebhookEvent) error) []string {
			t.Helper()
			for i := range events {
				events[i].EventID = prefix + events[i].Type
			}
			if err := db.InTx(ctx, func(q *store.Queries) error { return write(q, events) }); err != nil {
				t.Fatal(err)
			}
			n, err := db.QueryString(ctx, `SELECT CAST(COUNT(*) AS TEXT) FROM webhook_messages WHERE event_id LIKE CAST(? AS TEXT) || '%'`, prefix)
			if err != nil {
				t.Fatal(err)
			}
			var rows []string
			for i := range atoi(t, n) {
				row, err := db.QueryString(ctx, `SELECT endpoint_id || '|' || organization_id || '|' || substr(event_id, length(CAST(? AS TEXT)) + 1)
						|| '|' || event_type || '|' || subject || '|' || payload || '|' || status || '|' || attempts || '|'
						|| CAST(next_attempt_at AS TEXT) || '|' || CAST(created_at AS TEXT) || '|' || COALESCE(CAST(finished_at AS TEXT), '-')
					FROM webhook_messages WHERE event_id LIKE CAST(? AS TEXT) || '%' ORDER BY id LIMIT 1 OFFSET ?`, prefix, prefix, i)
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, row)
			}
			return rows
		}
		same := func(prefix string) []store.WebhookEvent {
			list := slices.Clone(events)
			for i := range list {
				list[i].At, list[i].Payload = at, `{"n":`+fmt.Sprint(i)+`,"text":"café \"quoted\" 100%_"}`
			}
			return list
		}
		alone := stored("msg_alone_", same("msg_alone_"), func(q *store.Queries, events []store.WebhookEvent) error {
			for _, ev := range events {
				if _, err := q.AddWebhookEvent(ctx, ev); err != nil {
					return err
				}
			}
			return nil
		})
		together := stored("msg_both_", same("msg_both_"), func(q *store.Queries, events []store.WebhookEvent) error {
			_, err := q.AddWebhookEvents(ctx, events)
			return err
		})
		if len(alone) != len(want) || !slices.Equal(alone, together) {
			t.Errorf("written one by one:\n%s\nwritten together:\n%s", strings.Join(alone, "\n"), strings.Join(together, "\n"))
		}

		has, err := db.Read().HasWebhookEndpoints(ctx, other)
		if err != nil || !has {
			t.Errorf("the other organization has endpoints: %v, %v", has, err)
		}
		third, _ := storetest.NewOrganization(t, db, "Third")
		if has, err := db.Read().HasWebhookEndpoints(ctx, third); err != nil || has {
			t.Errorf("an organization without endpoints has some: %v, %v", has, err)
		}
	})
}

// TestWebhookEndpointChanges: enabling an endpoint clears its failures; a
// change keeping it enabled keeps them; another organization's id is not
// found; the delivery log pages newest first with its messages' events;
// a redelivered message is pending and due again.
func TestWebhookEndpointChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, _ := storetest.NewOrganization(t, db, "Acme")
		other, _ := storetest.NewOrganization(t, db, "Other")
		var w store.WebhookEndpoint
		var msg int64
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			if w, err = q.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{OrganizationID: org, URL: "https://hr.example/",
				Events: []string{"*"}, Secret: "whsec_a"}); err != nil {
				return err
			}
			msg, err = q.AddWebhookMessage(ctx, w.ID, store.WebhookEvent{OrganizationID: org, EventID: "msg_1", Type: "webhook.test",
				Payload: "{}", At: time.Now().Add(-time.Hour)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		failing := time.Now().Add(-6 * 24 * time.Hour).UTC().Truncate(time.Microsecond)
		if err := db.Exec(ctx, `UPDATE webhook_endpoints SET enabled = FALSE, failing_since = ?, disabled_reason = 'failing' WHERE id = ?`,
			failing, w.ID); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 5; i++ {
			if err := db.Exec(ctx, `INSERT INTO webhook_attempts (message_id, endpoint_id, attempt, status_code, duration_ms, response, created_at)
				VALUES (?, ?, ?, ?, ?, 'nope', ?)`, msg, w.ID, i, 500, 12, time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Exec(ctx, `UPDATE webhook_messages SET status = 'failed', attempts = 5 WHERE id = ?`, msg); err != nil {
			t.Fatal(err)
		}
		q := db.Read()
		page, next, err := q.WebhookDeliveries(ctx, org, w.ID, 0, 3)
		if err != nil || len(page) != 3 || next == 0 || page[0].Attempt != 5 || page[0].EventID != "msg_1" || page[0].EventType != "webhook.test" ||
			page[0].StatusCode == nil || *page[0].StatusCode != 500 || page[0].Duration != 12*time.Millisecond {
			t.Fatalf("first page %+v, next %d, %v", page, next, err)
		}
		rest, next, err := q.WebhookDeliveries(ctx, org, w.ID, next, 3)
		if err != nil || len(rest) != 2 || next != 0 || rest[1].Attempt != 1 {
			t.Errorf("last page %+v, next %d, %v", rest, next, err)
		}
		if theirs, _, err := q.WebhookDeliveries(ctx, other, w.ID, 0, 3); err != nil || len(theirs) != 0 {
			t.Errorf("another organization reads the log: %+v, %v", theirs, err)
		}

		err = db.InTx(ctx, func(q *store.Queries) error {
			if err := q.RedeliverWebhookMessage(ctx, other, w.ID, msg); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("redeliver under another organization: %v", err)
			}
			if err := q.UpdateWebhookEndpoint(ctx, other, w.ID, store.WebhookEndpointChange{URL: "https://x.example/", Events: []string{"*"}, Enabled: true}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("update under another organization: %v", err)
			}
			if err := q.DeleteWebhookEndpoint(ctx, other, w.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("delete under another organization: %v", err)
			}
			if err := q.RotateWebhookSecret(ctx, other, w.ID, "whsec_x", time.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("rotate under another organization: %v", err)
			}
			if _, err := q.AddWebhookMessage(ctx, w.ID, store.WebhookEvent{OrganizationID: other, EventID: "msg_2", Type: "webhook.test", Payload: "{}", At: time.Now()}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a message under another organization: %v", err)
			}
			// Still disabled: the failures stay.
			if err := q.UpdateWebhookEndpoint(ctx, org, w.ID, store.WebhookEndpointChange{URL: w.URL, Description: "HR", Events: w.Events}); err != nil {
				return err
			}
			return q.RedeliverWebhookMessage(ctx, org, w.ID, msg)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := q.WebhookEndpoint(ctx, org, w.ID)
		if err != nil || got.Enabled || got.FailingSince == nil || !got.FailingSince.Equal(failing) || got.DisabledReason != "failing" || got.Description != "HR" {
			t.Errorf("changed while disabled: %+v, %v", got, err)
		}
		messages, err := q.WebhookMessages(ctx, org, w.ID)
		if err != nil || len(messages) != 1 || messages[0].Status != store.WebhookPending || messages[0].Attempts != 5 ||
			time.Since(messages[0].NextAttemptAt) > time.Minute || messages[0].FinishedAt != nil {
			t.Errorf("redelivered: %+v, %v", messages, err)
		}
		err = db.InTx(ctx, func(q *store.Queries) error {
			return q.UpdateWebhookEndpoint(ctx, org, w.ID, store.WebhookEndpointChange{URL: w.URL, Events: w.Events, Enabled: true})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := q.WebhookEndpoint(ctx, org, w.ID); err != nil || !got.Enabled || got.FailingSince != nil || got.DisabledReason != "" {
			t.Errorf("enabled again: %+v, %v", got, err)
		}
		if _, err := q.WebhookEndpoint(ctx, other, w.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("read under another organization: %v", err)
		}
	})
}

// BenchmarkWebhookEventWithoutEndpoints is what an event costs an
// organization without webhooks inside a change's transaction: the one
// probe of the organization's endpoints.
func BenchmarkWebhookEventWithoutEndpoints(b *testing.B) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			db := storetest.New(b, dialect)
			ctx := context.Background()
			org, _ := storetest.NewOrganization(b, db, "Acme")
			other, _ := storetest.NewOrganization(b, db, "Other")
			// Other organizations' endpoints fill the index.
			err := db.InTx(ctx, func(q *store.Queries) error {
				for range 1000 {
					if _, err := q.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{OrganizationID: other, URL: "https://x.example/",
						Events: []string{"*"}, Secret: "whsec_x"}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			err = db.InTx(ctx, func(q *store.Queries) error {
				for b.Loop() {
					if has, err := q.HasWebhookEndpoints(ctx, org); err != nil || has {
						return errors.Join(err, errors.New("endpoints found"))
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
