package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// addWebhook gives an organization of the authorization test a webhook
// with one message to redeliver.
func (o *authzOrg) addWebhook(ctx context.Context, q *store.Queries) error {
	w, err := q.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{OrganizationID: o.id, URL: fmt.Sprintf("https://hooks%d.example/in", o.id),
		Events: []string{"*"}, Secret: "whsec_dGhlIHRlc3RzJyBzZWNyZXQgb2YgMjQgYnl0ZXM="})
	if err != nil {
		return err
	}
	o.webhook = w.ID
	o.webhookMessage, err = q.AddWebhookMessage(ctx, w.ID, store.WebhookEvent{OrganizationID: o.id, EventID: fmt.Sprintf("msg_authz%d", o.id),
		Type: "member.added", Payload: "{}", At: time.Now().Add(-time.Hour)})
	return err
}

func webhookURL(suffix string) func(o *authzOrg) string {
	return func(o *authzOrg) string {
		return fmt.Sprintf(organizationsPath+"%d/webhooks/%d/%s", o.id, o.webhook, suffix)
	}
}

func webhookAPI(suffix string) func(o *authzOrg) string {
	return func(o *authzOrg) string {
		return fmt.Sprintf("/api/v1/organizations/%d/webhooks/%d%s", o.id, o.webhook, suffix)
	}
}

func webhookFormBody(o *authzOrg) url.Values {
	o.counter++
	return url.Values{"url": {fmt.Sprintf("https://hooks%d.example/new%d", o.id, o.counter)}, "all_events": {"1"}, "enabled": {"1"}}
}

func webhookJSONBody(o *authzOrg) any {
	o.counter++
	return map[string]any{"url": fmt.Sprintf("https://hooks%d.example/new%d", o.id, o.counter), "events": []string{"*"}}
}

// fingerprintWebhooks writes an organization's webhooks and their
// messages, for the authorization test's check that refusals change
// nothing.
func fingerprintWebhooks(t *testing.T, b *strings.Builder, q *store.Queries, orgID int64) {
	t.Helper()
	ctx := context.Background()
	list, err := q.WebhookEndpoints(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range list {
		fmt.Fprintf(b, " webhook:%d:%s:%q:%s:%t:%s", w.ID, w.URL, w.Description, strings.Join(w.Events, ","), w.Enabled, w.Secret)
		messages, err := q.WebhookMessages(ctx, orgID, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range messages {
			fmt.Fprintf(b, " msg:%s:%s:%s", m.EventType, m.Status, m.NextAttemptAt.Format(time.RFC3339Nano))
		}
	}
}

// refuseLoopback stands in for the platform's guard in these tests: it
// refuses plain http and loopback addresses written as such.
func refuseLoopback(_ context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme != "https":
		return errors.New("Use an address starting with https://.")
	case u.Hostname() == "127.0.0.1" || u.Hostname() == "::1" || u.Hostname() == "localhost":
		return errors.New("This address leads to the server itself; webhooks cannot be sent there.")
	}
	return nil
}

func withGuard(db *store.DB) func(*Options) {
	return func(o *Options) { o.Webhooks = webhooks.NewService(db, webhooks.Options{CheckURL: refuseLoopback}) }
}

// enabledCourse adds an enabled course with a published lesson.
func enabledCourse(t *testing.T, db *store.DB, orgID int64) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := db.InTx(ctx, func(q *store.Queries) error {
		var err error
		id, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: orgID, Title: "Go basics", TitleKey: "go basics",
			TitleSkeleton: names.Key("Go basics"), Slug: "go-basics", Enabled: true, Public: true})
		if err != nil {
			return err
		}
		_, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: orgID, CourseID: id, Kind: store.KindLesson,
			Title: "Hello", Body: "Hello.", Published: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestWebhooksAPI: the API's contract for webhooks: the secret only in
// the creation's answer, 422 on url for an address the guard refuses,
// another organization's webhook not found, and staff enrollments writing
// enrollment.created with the API's field names.
func TestWebhooksAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db, withGuard(db))
		c := app.loggedIn(adminEmail, adminPassword)
		org, _ := storetest.NewOrganization(t, db, "Acme")
		other, _ := storetest.NewOrganization(t, db, "Other")
		base := fmt.Sprintf("/api/v1/organizations/%d/webhooks", org)

		res, body := c.api(http.MethodPost, base, map[string]any{"url": "https://127.0.0.1/hook", "events": []string{"*"}})
		fields, _ := body["error"].(map[string]any)["fields"].(map[string]any)
		if res.status != http.StatusUnprocessableEntity || fields["url"] == nil || fields["url"] == "" {
			t.Fatalf("a loopback address: %d %s", res.status, res.body)
		}
		res, body = c.api(http.MethodPost, base, map[string]any{"url": "https://hr.example/hook", "events": []string{"enrollment.created"},
			"description": "HR system"})
		secret, _ := body["secret"].(string)
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if res.status != http.StatusCreated || !strings.HasPrefix(secret, "whsec_") || err != nil || len(raw) != 24 {
			t.Fatalf("create: %d %s", res.status, res.body)
		}
		if res.header.Get("Cache-Control") != "no-store" {
			t.Errorf("the answer with the secret may be cached: %q", res.header.Get("Cache-Control"))
		}
		id := idOf(body)
		one := fmt.Sprintf("%s/%d", base, id)
		for _, path := range []string{base, one} {
			if res, _ := c.api(http.MethodGet, path, nil); res.status != http.StatusOK || strings.Contains(res.body, "secret\"") ||
				strings.Contains(res.body, secret) {
				t.Errorf("GET %s shows the secret: %s", path, res.body)
			}
		}
		theirs := fmt.Sprintf("/api/v1/organizations/%d/webhooks/%d", other, id)
		if res, _ := c.api(http.MethodGet, theirs, nil); res.status != http.StatusNotFound {
			t.Errorf("the webhook under another organization: %d", res.status)
		}

		// A staff enrollment through the API writes enrollment.created,
		// whose data has the API's fields.
		course := enabledCourse(t, db, org)
		res, enrollment := c.api(http.MethodPost, fmt.Sprintf("/api/v1/organizations/%d/enrollments", org),
			map[string]any{"course_id": course, "email": "ada@example.com"})
		if res.status != http.StatusCreated {
			t.Fatalf("enroll: %d %s", res.status, res.body)
		}
		messages, err := db.Read().WebhookMessages(context.Background(), org, id)
		if err != nil || len(messages) != 1 || messages[0].EventType != "enrollment.created" {
			t.Fatalf("messages %+v, %v", messages, err)
		}
		var payload struct {
			Data struct {
				Enrollment map[string]any `json:"enrollment"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(messages[0].Payload), &payload); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(slices.Sorted(maps.Keys(payload.Data.Enrollment)), slices.Sorted(maps.Keys(enrollment))) {
			t.Errorf("payload's enrollment fields %v, the API's %v", slices.Sorted(maps.Keys(payload.Data.Enrollment)), slices.Sorted(maps.Keys(enrollment)))
		}
		if payload.Data.Enrollment["id"] != enrollment["id"] || payload.Data.Enrollment["status"] != "active" {
			t.Errorf("payload's enrollment %v, the API's %v", payload.Data.Enrollment, enrollment)
		}

		res, body = c.api(http.MethodPatch, one, map[string]any{"enabled": false, "events": []string{"*"}})
		if res.status != http.StatusOK || body["enabled"] != false || fmt.Sprint(body["events"]) != "[*]" || body["description"] != "HR system" {
			t.Errorf("patch: %d %s", res.status, res.body)
		}
		if res, _ := c.api(http.MethodPatch, one, map[string]any{"url": "https://localhost/"}); res.status != http.StatusUnprocessableEntity {
			t.Errorf("patched to a loopback address: %d %s", res.status, res.body)
		}
		res, body = c.api(http.MethodPost, one+"/test", nil)
		if res.status != http.StatusConflict || errorCode(body) != "webhook_disabled" {
			t.Errorf("test of a disabled webhook: %d %s", res.status, res.body)
		}
		if res, _ := c.api(http.MethodPatch, one, map[string]any{"enabled": true}); res.status != http.StatusOK {
			t.Fatalf("enable: %d %s", res.status, res.body)
		}
		res, body = c.api(http.MethodPost, one+"/test", nil)
		if res.status != http.StatusAccepted || idOfField(body, "message_id") == 0 {
			t.Errorf("test: %d %s", res.status, res.body)
		}
		res, body = c.api(http.MethodPost, one+"/test", nil)
		if res.status != http.StatusConflict || errorCode(body) != "webhook_test_pending" {
			t.Errorf("a second test while the first is to be sent: %d %s", res.status, res.body)
		}
		if res, body := c.api(http.MethodGet, one+"/deliveries", nil); res.status != http.StatusOK || body["next_cursor"] != "" {
			t.Errorf("deliveries: %d %s", res.status, res.body)
		}
		if res, _ := c.api(http.MethodPost, fmt.Sprintf("%s/deliveries/%d/redeliver", one, messages[0].ID), nil); res.status != http.StatusAccepted {
			t.Errorf("redeliver: %d %s", res.status, res.body)
		}
		res, body = c.api(http.MethodPost, one+"/rotate-secret", nil)
		if res.status != http.StatusOK || body["secret"] == secret || !strings.HasPrefix(fmt.Sprint(body["secret"]), "whsec_") {
			t.Errorf("rotate: %d %s", res.status, res.body)
		}
		if res, body := c.api(http.MethodGet, one, nil); body["previous_secret_until"] == nil {
			t.Errorf("after rotation: %s", res.body)
		}
		if res, _ := c.api(http.MethodDelete, one, nil); res.status != http.StatusNoContent {
			t.Errorf("delete: %d", res.status)
		}
		if res, _ := c.api(http.MethodGet, one, nil); res.status != http.StatusNotFound {
			t.Errorf("deleted webhook: %d", res.status)
		}
	})
}

func idOfField(body map[string]any, field string) int64 {
	f, _ := body[field].(float64)
	return int64(f)
}

// TestWebhookPages: an admin adds a webhook from the settings pages and
// sees its secret once; a refused address is told beside its field;
// another organization's webhook is not found.
func TestWebhookPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db, withGuard(db))
		c := app.loggedIn(adminEmail, adminPassword)
		org, _ := storetest.NewOrganization(t, db, "Acme")
		other, _ := storetest.NewOrganization(t, db, "Other")
		list := fmt.Sprintf(organizationsPath+"%d/webhooks/", org)

		res := c.get(fmt.Sprintf(organizationsPath+"%d/", org))
		if !strings.Contains(res.body, `href="`+list+`"`) {
			t.Errorf("the organization's sections do not lead to its webhooks")
		}
		if res := c.get(list + "new"); res.status != http.StatusOK || !strings.Contains(res.body, `value="enrollment.completed"`) {
			t.Fatalf("the form: %d", res.status)
		}
		res = c.post(list, url.Values{"url": {"http://hr.example/hook"}, "description": {"HR"}, "events": {"enrollment.completed"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="url-error"`) ||
			!strings.Contains(res.body, "https://") || !strings.Contains(res.body, `value="http://hr.example/hook"`) {
			t.Errorf("refused address: %d\n%s", res.status, excerpt(res.body, 2000))
		}
		res = c.post(list, url.Values{"url": {"https://hr.example/hook"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="events-error"`) {
			t.Errorf("no events: %d", res.status)
		}
		res = c.post(list, url.Values{"url": {"https://hr.example/hook"}, "events": {"enrollment.completed", "member.added"}})
		secret := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{32}`).FindString(html.UnescapeString(res.body))
		if res.status != http.StatusCreated || secret == "" || res.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("create: %d\n%s", res.status, excerpt(res.body, 2000))
		}
		endpoints, err := db.Read().WebhookEndpoints(context.Background(), org)
		if err != nil || len(endpoints) != 1 || endpoints[0].Secret != secret {
			t.Fatalf("endpoints %+v, %v", endpoints, err)
		}
		page := fmt.Sprintf("%s%d/", list, endpoints[0].ID)
		for _, path := range []string{list, page, page + "edit"} {
			if res := c.get(path); res.status != http.StatusOK || strings.Contains(html.UnescapeString(res.body), secret) {
				t.Errorf("GET %s: %d, or shows the secret again", path, res.status)
			}
		}
		theirs := fmt.Sprintf(organizationsPath+"%d/webhooks/%d/", other, endpoints[0].ID)
		for _, path := range []string{theirs, theirs + "edit", theirs + "delete"} {
			if res := c.get(path); res.status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, res.status)
			}
		}
		if res := c.post(theirs+"delete", nil); res.status != http.StatusNotFound {
			t.Errorf("removing under another organization: %d", res.status)
		}
		res = c.post(page+"edit", url.Values{"url": {"https://hr.example/hook"}, "all_events": {"1"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("edit: %d\n%s", res.status, excerpt(res.body, 2000))
		}
		if w, _ := db.Read().WebhookEndpoint(context.Background(), org, endpoints[0].ID); w.Enabled || !slices.Equal(w.Events, []string{"*"}) {
			t.Errorf("after the edit (enabled left unticked): %+v", w)
		}
		if res := c.post(page+"test", nil); res.status != http.StatusConflict || !strings.Contains(res.body, "enable it to send it a test event") {
			t.Errorf("send a test event to the disabled webhook: %d\n%s", res.status, excerpt(res.body, 2000))
		}
		res = c.post(page+"rotate-secret", nil)
		rotated := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{32}`).FindString(html.UnescapeString(res.body))
		if res.status != http.StatusOK || rotated == "" || rotated == secret {
			t.Errorf("rotate: %d", res.status)
		}
		if res := c.post(page+"delete", nil); res.status != http.StatusSeeOther {
			t.Errorf("delete: %d", res.status)
		}
		if res := c.get(page); res.status != http.StatusNotFound {
			t.Errorf("the removed webhook's page: %d", res.status)
		}
	})
}
