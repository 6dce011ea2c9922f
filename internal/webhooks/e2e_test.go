package webhooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/mailtest"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// TestWebhooksEndToEnd runs the services and the job queue as serve does,
// with an endpoint at a local HTTPS receiver subscribed to every event. A
// learner enrolls, confirms from the emailed link, and is sent the
// course's one lesson, which completes it. The receiver gets each event
// once (a signature it verifies with the Standard Webhooks algorithm),
// in the order they happened; it answers the first one 500 twice, and
// gets it on the third try, the others after it.
func TestWebhooksEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var first string
		rc := newReceiver(t, "", true, func(r received, seen int) int {
			if first == "" {
				first = r.id
			}
			if r.id == first && seen < 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		guard := loopback(rc)
		mailer, err := mail.NewService(db, mail.Config{From: "mailschool <noreply@school.example>", BaseURL: baseURL,
			Transport: mail.Outbox{}, TransportName: "outbox", Logger: quietLog})
		if err != nil {
			t.Fatal(err)
		}
		organizations := orgs.NewService(db, orgs.Config{Mail: mailer, BaseURL: baseURL})
		learn := learning.NewService(db, learning.Config{Mail: mailer, BaseURL: baseURL, SecretKey: "a secret key for the tests"})
		engine := delivery.New(db, mailer, learn, delivery.Config{Logger: quietLog})
		dispatcher := webhooks.NewDispatcher(db, webhooks.Config{Guard: guard, Mail: mailer, BaseURL: baseURL, NoJitter: true,
			Backoff: []time.Duration{100 * time.Millisecond}, PassInterval: 100 * time.Millisecond, Logger: quietLog})
		hooks := webhooks.NewService(db, webhooks.Options{CheckURL: guard.CheckURL, Learning: learn})
		hooks.Attach(organizations, learn)
		hooks.SetKick(dispatcher.Kick)

		workers := river.NewWorkers()
		mailer.AddWorkers(workers)
		learn.AddWorkers(workers)
		engine.AddWorkers(workers)
		dispatcher.AddWorkers(workers)
		jobs, err := db.NewJobs(&river.Config{Workers: workers, Logger: quietLog, TestOnly: true,
			FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
			Queues:       map[string]river.QueueConfig{mail.Queue: mail.QueueConfig, delivery.Queue: delivery.QueueConfig, webhooks.Queue: webhooks.QueueConfig},
			PeriodicJobs: dispatcher.PeriodicJobs()})
		if err != nil {
			t.Fatal(err)
		}
		if err := jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			jobs.Stop(stopCtx)
		})

		orgID, users := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "admin@acme.example", Role: "admin"})
		admin := &users[0]
		course, err := learn.CreateCourse(ctx, admin, orgID, learning.CourseFields{Title: ptr("Go basics")})
		if err != nil {
			t.Fatal(err)
		}
		zero, yes := 0, true
		if _, err := learn.CreateContent(ctx, admin, orgID, course.ID, learning.ContentFields{Kind: store.KindLesson,
			Title: ptr("Hello"), Body: ptr("Hello."), WaitingPeriodSeconds: &zero, Published: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, err := learn.UpdateCourse(ctx, admin, orgID, course.ID, learning.CourseFields{Enabled: &yes}); err != nil {
			t.Fatal(err)
		}
		ep, err := hooks.Create(ctx, admin, orgID, webhooks.Fields{URL: ptr(rc.srv.URL + "/hooks"), Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		rc.secret = ep.Secret

		if err := learn.Enroll(ctx, orgID, course.Slug, "ada@example.com", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		sent := mailtest.Sent(t, db, "ada@example.com", mail.KindEnrollmentConfirm)
		if len(sent) != 1 {
			t.Fatalf("%d confirmation emails", len(sent))
		}
		token := regexp.MustCompile(`/enrollments/confirm/([A-Za-z0-9_-]{43})/`).FindStringSubmatch(sent[0].Text)
		if token == nil {
			t.Fatalf("no confirmation link in %q", sent[0].Text)
		}
		if _, err := learn.Confirm(ctx, token[1], "192.0.2.1"); err != nil {
			t.Fatal(err)
		}

		want := []string{"enrollment.created", "enrollment.confirmed", "enrollment.completed", "certificate.issued"}
		storetest.Eventually(t, 30*time.Second, "every event delivered", func() bool {
			n := 0
			for _, r := range rc.requests() {
				if r.status < 300 {
					n++
				}
			}
			return n >= len(want)
		})
		time.Sleep(300 * time.Millisecond) // nothing more comes
		got := rc.requests()
		var delivered []string
		ids := map[string]int{}
		for _, r := range got {
			ids[r.id]++
			if r.status < 300 {
				delivered = append(delivered, r.typ)
			}
			var p webhooks.Payload
			if err := json.Unmarshal([]byte(r.body), &p); err != nil || p.ID != r.id || p.Type != r.typ {
				t.Errorf("payload %s: %+v, %v", r.body, p, err)
			}
		}
		if !slices.Equal(delivered, want) {
			t.Errorf("delivered %v, want %v in that order", delivered, want)
		}
		if len(got) != len(want)+2 || ids[first] != 3 || got[0].typ != "enrollment.created" {
			t.Errorf("%d requests, the first event (%s) %d times; want %d requests, 3 for it", len(got), got[0].typ, ids[first], len(want)+2)
		}
		for id, n := range ids {
			if id != first && n != 1 {
				t.Errorf("event %s received %d times", id, n)
			}
		}
	})
}
