package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/netguard"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// TestBrowserWebhook: an admin adds a webhook for every event on the
// Webhooks page, copies its secret from the page that shows it once, and
// sends a test event, which a local receiver verifies with that secret;
// the endpoint's page then logs the delivery. A wrong address is refused
// beside the field, and removing the webhook asks first.
func TestBrowserWebhook(t *testing.T) {
	var (
		mu       sync.Mutex
		secret   string
		received []string // the verified events' types
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhooks.Verify(secret, r.Header, body, time.Now()); err != nil {
			t.Errorf("a webhook request that does not verify: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p webhooks.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("payload %s: %v", body, err)
		}
		received = append(received, p.Type)
		fmt.Fprint(w, "thanks")
	}))
	defer receiver.Close()

	db := storetest.NewSQLite(t)
	guard := netguard.New(netguard.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	dispatcher := webhooks.NewDispatcher(db, webhooks.Config{Guard: guard})
	workers := river.NewWorkers()
	dispatcher.AddWorkers(workers)
	app := newTestApp(t, db, func(o *Options) {
		o.Webhooks = webhooks.NewService(db, webhooks.Options{CheckURL: guard.CheckURL, Learning: o.Learning})
		o.Webhooks.SetKick(dispatcher.Kick)
	})
	storetest.StartJobs(t, db, workers, webhooks.Queue)
	res, org := app.loggedIn(adminEmail, adminPassword).api(http.MethodPost, "/api/v1/organizations", map[string]any{"name": "Acme Academy"})
	if res.status != http.StatusCreated {
		t.Fatalf("create the organization: %d %s", res.status, res.body)
	}
	orgID := idOf(org)

	admin := newBrowserTab(t, app, "webhook")
	admin.follow("open the organization", http.StatusOK, chromedp.Navigate(app.srv.URL+organizationPath(orgID)))
	admin.do("fill the login form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
	)
	admin.follow("log in", http.StatusOK, admin.submit())
	admin.follow("open the Webhooks section", http.StatusOK, chromedp.Click(linkBy("Webhooks")))
	admin.follow("open the form", http.StatusOK, chromedp.Click(linkBy("Add a webhook")))

	// "All events" comes ticked. An address inside the platform's own
	// network is refused beside the field, and nothing is added.
	admin.do("fill in a private address",
		chromedp.WaitVisible(chromedp.ID("url")),
		chromedp.SendKeys(chromedp.ID("url"), "https://10.0.0.1/hook"),
	)
	admin.follow("add it", http.StatusUnprocessableEntity, admin.submit())
	if msg := admin.text("#url-error"); msg == "" {
		t.Errorf("no message beside the address:\n%s", admin.html("main"))
	}
	admin.screenshot("1-refused")

	admin.do("fill in the receiver",
		chromedp.SetValue(chromedp.ID("url"), receiver.URL+"/hooks"),
		chromedp.SendKeys(chromedp.ID("description"), "HR system"),
	)
	if checked := admin.eval(`String(document.querySelector("input[name=all_events]").checked)`); checked != "true" {
		t.Errorf("the refused form lost its ticked box: all_events checked = %s", checked)
	}
	// The secret is shown in the answer to the form, never again: 201.
	admin.follow("add the webhook", http.StatusCreated, admin.submit())
	shown := admin.eval(`document.getElementById("new-secret")?.value ?? ""`)
	if !strings.HasPrefix(shown, "whsec_") {
		t.Fatalf("the page shows no secret:\n%s", admin.text("main"))
	}
	mu.Lock()
	secret = shown
	mu.Unlock()
	admin.screenshot("2-created")

	admin.follow("send a test event", http.StatusOK, chromedp.Click(chromedp.Search(`//button[normalize-space(.)="Send test event"]`)))
	storetest.Eventually(t, 10*time.Second, "the test event to arrive", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) == 1
	})
	if received[0] != webhooks.TestEvent {
		t.Errorf("received %v, want the test event", received)
	}
	// The delivery is logged once its outcome is written, just after the
	// answer.
	for deadline := time.Now().Add(10 * time.Second); ; {
		admin.follow("open the endpoint's page", http.StatusOK, chromedp.Navigate(admin.base+admin.location()))
		if strings.Contains(admin.text("main table"), "200") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if log := admin.text("main table"); !strings.Contains(log, webhooks.TestEvent) || !strings.Contains(log, "200") {
		t.Errorf("the delivery log reads:\n%s", log)
	}
	if strings.Contains(admin.text("main"), shown) {
		t.Error("the endpoint's page shows the secret again")
	}
	admin.screenshot("3-delivered")
	admin.do("narrow the window to a phone's", chromedp.EmulateViewport(390, 844))
	admin.screenshot("4-phone")
	if wide := admin.eval(`String(document.documentElement.scrollWidth > window.innerWidth)`); wide != "false" {
		t.Error("the endpoint's page scrolls sideways on a phone")
	}
	admin.do("widen the window", chromedp.EmulateViewport(1280, 900))

	admin.follow("open the remove page", http.StatusOK, chromedp.Click(linkBy("Remove…")))
	admin.follow("remove the webhook", http.StatusOK, admin.submit())
	if n := admin.count("main table tbody tr"); n != 0 {
		t.Errorf("after removing, the list shows %d webhooks", n)
	}
	admin.screenshot("5-removed")
}
