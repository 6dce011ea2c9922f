package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestOutboxAPI reads the outbox through the API as a platform admin and
// with a platform key; staff and organizations' keys may not.
func TestOutboxAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		newSchool(t, app)
		admin := app.loggedIn(adminEmail, adminPassword)
		// A confirmation email: a real message with headers and both parts.
		if res, _ := app.client().api(http.MethodPost, "/api/v1/public/organizations/1/courses/go-basics/enrollments", map[string]string{"email": "ada@example.com"}); res.status != http.StatusAccepted {
			t.Fatalf("enroll: %d %s", res.status, res.body)
		}
		storetest.Eventually(t, 10*time.Second, "the confirmation email", func() bool {
			return len(app.mails("ada@example.com", mail.KindEnrollmentConfirm)) > 0
		})
		var keyOfPlatform, keyOfOrganization string
		res, body := admin.api(http.MethodPost, "/api/v1/platform/api-keys", map[string]string{"name": "Outbox reader"})
		if keyOfPlatform, _ = body["key"].(string); res.status != http.StatusCreated {
			t.Fatalf("platform key: %d %s", res.status, res.body)
		}
		res, body = admin.api(http.MethodPost, "/api/v1/organizations/1/api-keys", map[string]string{"name": "Admin", "role": "admin"})
		if keyOfOrganization, _ = body["key"].(string); res.status != http.StatusCreated {
			t.Fatalf("organization key: %d %s", res.status, res.body)
		}
		withKey := func(key string) *client {
			c := app.client()
			c.http.Jar = nil
			c.http.Transport = bearer{key: key, next: http.DefaultTransport}
			return c
		}
		createStaff(t, db, "staff@example.com", "staff password 1")
		staff := app.loggedIn("staff@example.com", "staff password 1")

		for name, c := range map[string]*client{"platform admin": admin, "platform key": withKey(keyOfPlatform)} {
			res, list := c.api(http.MethodGet, "/api/v1/platform/outbox", nil)
			items, _ := list["items"].([]any)
			if res.status != http.StatusOK || len(items) != 1 || list["next_cursor"] != "" {
				t.Fatalf("%s: outbox: %d %s", name, res.status, res.body)
			}
			m := items[0].(map[string]any)
			if want := []string{"attempts", "created_at", "enrollment_id", "id", "kind", "last_error", "organization_id", "recipient", "sender",
				"sent_at", "status", "subject", "transport", "updated_at"}; !slices.Equal(keysOf(m), want) {
				t.Errorf("message fields: %v, want %v", keysOf(m), want)
			}
			if m["recipient"] != "ada@example.com" || m["kind"] != string(mail.KindEnrollmentConfirm) || m["status"] != store.MailStored ||
				m["organization_id"] != float64(1) || m["attempts"] != float64(1) {
				t.Errorf("%s: message: %v", name, m)
			}
			res, detail := c.api(http.MethodGet, fmt.Sprintf("/api/v1/platform/outbox/%v", m["id"]), nil)
			if res.status != http.StatusOK {
				t.Fatalf("%s: message: %d %s", name, res.status, res.body)
			}
			for _, field := range []string{"headers", "text_body", "html_body", "message_id", "provider_message_id", "status", "attempts", "last_error"} {
				if _, ok := detail[field]; !ok {
					t.Errorf("%s: the message lacks %s: %s", name, field, res.body)
				}
			}
			headers := fmt.Sprint(detail["headers"])
			for _, want := range []string{"name:To value:ada@example.com", "name:From", "name:Message-Id", "name:Subject"} {
				if !strings.Contains(headers, want) {
					t.Errorf("%s: headers lack %q: %s", name, want, headers)
				}
			}
			if !strings.Contains(fmt.Sprint(detail["text_body"]), "/email-learning/public/enrollments/confirm/") ||
				!strings.Contains(fmt.Sprint(detail["html_body"]), "/email-learning/public/enrollments/confirm/") {
				t.Errorf("%s: bodies: %s", name, res.body)
			}
			for _, path := range []string{"/api/v1/platform/outbox/999999", "/api/v1/platform/outbox/x"} {
				if res, _ := c.api(http.MethodGet, path, nil); res.status != http.StatusNotFound || !strings.Contains(res.body, `"error"`) {
					t.Errorf("%s: GET %s: %d %s", name, path, res.status, res.body)
				}
			}
		}
		for name, c := range map[string]*client{"staff": staff, "organization key": withKey(keyOfOrganization)} {
			for _, path := range []string{"/api/v1/platform/outbox", "/api/v1/platform/outbox/1"} {
				if res, _ := c.api(http.MethodGet, path, nil); res.status != http.StatusForbidden {
					t.Errorf("%s: GET %s: %d, want 403", name, path, res.status)
				}
			}
		}

		// Pages of 50, newest first; the cursor leads to the rest.
		err := db.InTx(ctx, func(q *store.Queries) error {
			for i := range 55 {
				if _, err := q.CreateMailMessage(ctx, store.NewMailMessage{Kind: "test", Sender: "a@example.com", Recipient: fmt.Sprintf("r%02d@example.com", i),
					Subject: fmt.Sprintf("message %02d", i), MessageID: fmt.Sprintf("m%d@example.com", i), Raw: []byte("Subject: x\r\n\r\nbody")}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_, first := admin.api(http.MethodGet, "/api/v1/platform/outbox", nil)
		items, _ := first["items"].([]any)
		cursor, _ := first["next_cursor"].(string)
		if len(items) != 50 || items[0].(map[string]any)["subject"] != "message 54" || cursor == "" {
			t.Fatalf("first page: %d items, cursor %q", len(items), cursor)
		}
		_, second := admin.api(http.MethodGet, "/api/v1/platform/outbox?cursor="+cursor, nil)
		items, _ = second["items"].([]any)
		if len(items) != 6 || items[0].(map[string]any)["subject"] != "message 04" || items[5].(map[string]any)["recipient"] != "ada@example.com" || second["next_cursor"] != "" {
			t.Errorf("second page: %v", second)
		}
		if res, _ := admin.api(http.MethodGet, "/api/v1/platform/outbox?cursor=nope", nil); res.status != http.StatusBadRequest {
			t.Errorf("a bad cursor: %d", res.status)
		}
	})
}
