package webhooks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/mailtest"
	"github.com/mailschool/mailschool/internal/netguard"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/webhooks"
)

var quietLog = slog.New(slog.DiscardHandler)

// receiver is a local endpoint that verifies each request's signature
// and records it; answer decides each status code.
type receiver struct {
	t       testing.TB
	secret  string
	secrets map[string]string // by path, for endpoints of their own
	now     func() time.Time  // the receiver's clock, for the timestamps' tolerance
	verify  bool              // check each signature (on unless a benchmark turns it off)
	srv     *httptest.Server
	mu      sync.Mutex
	got     []received
	answer  func(r received, seen int) int // seen: earlier requests with this webhook-id
}

type received struct {
	id, typ, body string
	at            time.Time
	status        int
}

func newReceiver(t testing.TB, secret string, tls bool, answer func(r received, seen int) int) *receiver {
	rc := &receiver{t: t, secret: secret, answer: answer, now: time.Now, verify: true}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		secret := rc.secret
		if s, ok := rc.secrets[r.URL.Path]; ok {
			secret = s
		}
		if err := webhooks.Verify(secret, r.Header, body, rc.now()); rc.verify && err != nil {
			rc.t.Errorf("request %s: %v", r.Header.Get(webhooks.HeaderID), err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got := received{id: r.Header.Get(webhooks.HeaderID), body: string(body), at: time.Now(), status: http.StatusNoContent}
		if i := strings.Index(got.body, `"type":"`); i >= 0 {
			got.typ, _, _ = strings.Cut(got.body[i+len(`"type":"`):], `"`)
		}
		rc.mu.Lock()
		seen := 0
		for _, g := range rc.got {
			if g.id == got.id {
				seen++
			}
		}
		rc.mu.Unlock()
		if rc.answer != nil {
			got.status = rc.answer(got, seen)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, got)
		rc.mu.Unlock()
		w.WriteHeader(got.status)
	})
	if tls {
		rc.srv = httptest.NewTLSServer(h)
	} else {
		rc.srv = httptest.NewServer(h)
	}
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// loopback is a guard that lets the tests reach their local receivers.
func loopback(rc *receiver) *netguard.Guard {
	opts := netguard.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	if rc != nil && rc.srv.TLS != nil {
		opts.RootCAs = rc.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	}
	return netguard.New(opts)
}

func newEndpoint(t testing.TB, db *store.DB, orgID int64, url string) store.WebhookEndpoint {
	t.Helper()
	var ep store.WebhookEndpoint
	err := db.InTx(context.Background(), func(q *store.Queries) error {
		var err error
		ep, err = q.CreateWebhookEndpoint(context.Background(), store.NewWebhookEndpoint{OrganizationID: orgID, URL: url,
			Events: []string{"*"}, Secret: webhooks.NewSecret()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// addMessages writes one message per subject given, in that order, with
// kick (when set) told in the same transaction.
func addMessages(t testing.TB, db *store.DB, ep store.WebhookEndpoint, at time.Time, kick webhooks.Kick, subjects ...string) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	err := db.InTx(ctx, func(q *store.Queries) error {
		for _, subject := range subjects {
			id := webhooks.NewEventID()
			payload := fmt.Sprintf(`{"id":%q,"type":"enrollment.created","timestamp":%q,"data":{"subject":%q}}`, id, at.Format(time.RFC3339), subject)
			if _, err := q.AddWebhookMessage(ctx, ep.ID, store.WebhookEvent{OrganizationID: ep.OrganizationID, EventID: id,
				Type: "enrollment.created", Subject: subject, Payload: payload, At: at}); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		if kick != nil {
			return kick(ctx, q, []int64{ep.ID})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// startDispatcher runs the webhook queue with its periodic pass, as serve
// does, polling faster.
func startDispatcher(t testing.TB, db *store.DB, d *webhooks.Dispatcher) *store.Jobs {
	t.Helper()
	jobs := newDispatcherJobs(t, db, d)
	if err := jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return jobs
}

// newDispatcherJobs is startDispatcher's job queue, not started yet: work
// can be queued for it (Kick) before it runs.
func newDispatcherJobs(t testing.TB, db *store.DB, d *webhooks.Dispatcher) *store.Jobs {
	t.Helper()
	workers := river.NewWorkers()
	d.AddWorkers(workers)
	jobs, err := db.NewJobs(&river.Config{Workers: workers, Logger: quietLog, TestOnly: true,
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
		Queues:       map[string]river.QueueConfig{webhooks.Queue: webhooks.QueueConfig},
		PeriodicJobs: d.PeriodicJobs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		jobs.Stop(ctx)
	})
	return jobs
}

// Kick makes one job per endpoint however many events name it.
func TestKickMakesOneJobPerEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.NewJobs(&river.Config{Logger: quietLog}); err != nil {
			t.Fatal(err)
		}
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		a := newEndpoint(t, db, orgID, "https://a.example/")
		b := newEndpoint(t, db, orgID, "https://b.example/")
		d := webhooks.NewDispatcher(db, webhooks.Config{})
		for range 3 {
			err := db.InTx(ctx, func(q *store.Queries) error {
				for range 50 {
					if err := d.Kick(ctx, q, []int64{a.ID, b.ID, a.ID}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if n, err := db.UnfinishedJobs(ctx, webhooks.SendArgs{}.Kind()); err != nil || n != 2 {
			t.Errorf("%d send jobs, %v; want 2", n, err)
		}
	})
}

// A kick inserts its endpoint's unique job only once its transaction has
// committed: another transaction kicking the same endpoint meanwhile does
// not wait for it (on PostgreSQL it would, for the job's unique key), and
// a transaction that rolls back leaves no job.
func TestKickWaitsForNoOtherTransaction(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewPostgres(t)
	if _, err := db.NewJobs(&river.Config{Logger: quietLog}); err != nil {
		t.Fatal(err)
	}
	orgID, _ := storetest.NewOrganization(t, db, "Acme")
	ep := newEndpoint(t, db, orgID, "https://a.example/")
	d := webhooks.NewDispatcher(db, webhooks.Config{})
	sendJobs := func() int {
		t.Helper()
		n, err := db.UnfinishedJobs(ctx, webhooks.SendArgs{}.Kind())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	db.InTx(ctx, func(q *store.Queries) error {
		if err := d.Kick(ctx, q, []int64{ep.ID}); err != nil {
			t.Fatal(err)
		}
		return errors.New("rolled back")
	})
	if n := sendJobs(); n != 0 {
		t.Fatalf("%d send jobs after a rolled-back kick, want 0", n)
	}

	kicked, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.InTx(ctx, func(q *store.Queries) error {
			err := d.Kick(ctx, q, []int64{ep.ID})
			close(kicked)
			<-release
			return err
		})
	}()
	<-kicked
	second, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := db.InTx(second, func(q *store.Queries) error { return d.Kick(second, q, []int64{ep.ID}) })
	close(release)
	if err != nil {
		t.Fatalf("a kick while another transaction kicked the same endpoint: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := sendJobs(); n != 1 {
		t.Errorf("%d send jobs, want 1", n)
	}
}

// Through the job queue: each message is sent once, those of one subject
// in order; a message answered 500 twice is delivered on the third try,
// holding back only the later messages of its subject, and every attempt
// is logged.
func TestDispatcherSendsInOrderAndRetries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		var failing string
		rc := newReceiver(t, "", false, func(r received, seen int) int {
			if r.id == failing && seen < 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		ep := newEndpoint(t, db, orgID, rc.srv.URL+"/hooks")
		rc.secret = ep.Secret
		d := webhooks.NewDispatcher(db, webhooks.Config{Guard: loopback(rc), NoJitter: true,
			Backoff: []time.Duration{300 * time.Millisecond}, PassInterval: 100 * time.Millisecond, Logger: quietLog})
		// The queue starts once the failing message is known: a fast
		// dispatcher would otherwise send it before.
		jobs := newDispatcherJobs(t, db, d)
		ids := addMessages(t, db, ep, time.Now(), d.Kick, "enrollment:1", "enrollment:2", "enrollment:1", "", "enrollment:2", "enrollment:1")
		failing = ids[0]
		if err := jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
		want := len(ids) + 2
		storetest.Eventually(t, 20*time.Second, "every message delivered", func() bool { return len(rc.requests()) >= want })
		time.Sleep(200 * time.Millisecond) // nothing more comes
		got := rc.requests()
		if len(got) != want {
			t.Fatalf("%d requests, want %d", len(got), want)
		}
		order := map[string][]string{}
		var firstFail, secondSubjectDone time.Time
		for _, r := range got {
			subject := r.body[strings.Index(r.body, `"subject":"`)+len(`"subject":"`):]
			subject, _, _ = strings.Cut(subject, `"`)
			if r.status < 300 {
				order[subject] = append(order[subject], r.id)
			}
			if r.id == ids[0] && firstFail.IsZero() {
				firstFail = r.at
			}
			if r.id == ids[4] {
				secondSubjectDone = r.at
			}
		}
		for subject, wantIDs := range map[string][]string{"enrollment:1": {ids[0], ids[2], ids[5]}, "enrollment:2": {ids[1], ids[4]}, "": {ids[3]}} {
			if !slices.Equal(order[subject], wantIDs) {
				t.Errorf("subject %q delivered %v, want %v", subject, order[subject], wantIDs)
			}
		}
		if secondSubjectDone.Sub(firstFail) > 250*time.Millisecond {
			t.Errorf("enrollment:2 waited %v for enrollment:1's failures", secondSubjectDone.Sub(firstFail))
		}
		msgs, err := db.Read().WebhookMessages(ctx, orgID, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			wantAttempts := 1
			if m.EventID == failing {
				wantAttempts = 3
			}
			if m.Status != store.WebhookDelivered || m.Attempts != wantAttempts || m.FinishedAt == nil {
				t.Errorf("message %s: %s after %d attempts (finished %v), want delivered after %d", m.EventID, m.Status, m.Attempts, m.FinishedAt, wantAttempts)
			}
		}
		e, err := db.Read().WebhookEndpointToSend(ctx, ep.ID)
		if err != nil || e.FailingSince != nil {
			t.Errorf("endpoint failing since %v (%v), want not failing", e.FailingSince, err)
		}
	})
}

// An endpoint failing for 5 days is turned off and its organization's
// owner and admins are emailed; its messages then wait, and go out once
// it is turned on again.
func TestDispatcherTurnsOffAnEndpointFailingFor5Days(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.NewJobs(&river.Config{Logger: quietLog}); err != nil { // the email's job is inserted only
			t.Fatal(err)
		}
		orgID, _ := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "owner@acme.example", Role: "owner"},
			storetest.Member{Email: "admin@acme.example", Role: "admin"}, storetest.Member{Email: "editor@acme.example", Role: "editor"})
		status := http.StatusServiceUnavailable
		rc := newReceiver(t, "", false, func(received, int) int { return status })
		ep := newEndpoint(t, db, orgID, rc.srv.URL)
		rc.secret = ep.Secret
		mailer, err := mail.NewService(db, mail.Config{From: "mailschool <noreply@school.example>", BaseURL: "https://school.example",
			Transport: mail.Outbox{}, TransportName: "outbox", Logger: quietLog})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		rc.now = func() time.Time { return now }
		d := webhooks.NewDispatcher(db, webhooks.Config{Guard: loopback(rc), Mail: mailer, BaseURL: "https://school.example",
			NoJitter: true, Now: func() time.Time { return now }, Logger: quietLog})
		send := func() {
			t.Helper()
			if _, err := d.SendDue(ctx, ep.ID, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		addMessages(t, db, ep, now, nil, "enrollment:1")
		send()
		// Four days and more of failures: still on.
		now = now.Add(4 * 24 * time.Hour)
		addMessages(t, db, ep, now, nil, "enrollment:2")
		send()
		if e, _ := db.Read().WebhookEndpointToSend(ctx, ep.ID); !e.Enabled || e.FailingSince == nil || !e.FailingSince.Equal(now.Add(-4*24*time.Hour)) {
			t.Fatalf("after 4 days: enabled %v, failing since %v", e.Enabled, e.FailingSince)
		}
		now = now.Add(24*time.Hour + time.Minute)
		addMessages(t, db, ep, now, nil, "enrollment:3")
		send()
		e, _ := db.Read().WebhookEndpointToSend(ctx, ep.ID)
		if e.Enabled || !strings.Contains(e.DisabledReason, "failed for 5 days") {
			t.Fatalf("after 5 days: enabled %v, reason %q", e.Enabled, e.DisabledReason)
		}
		for _, to := range []string{"owner@acme.example", "admin@acme.example"} {
			emails := mailtest.Sent(t, db, to, mail.KindWebhookDisabled)
			if len(emails) != 1 || !strings.Contains(emails[0].Text, rc.srv.URL) ||
				!strings.Contains(emails[0].Text, "https://school.example"+webhooks.EndpointPath(orgID, ep.ID)) {
				t.Errorf("emails to %s: %+v", to, emails)
			}
		}
		if emails := mailtest.Sent(t, db, "editor@acme.example", mail.KindWebhookDisabled); len(emails) != 0 {
			t.Errorf("the editor was emailed: %d", len(emails))
		}

		// Off: nothing is sent, even when due.
		before := len(rc.requests())
		addMessages(t, db, ep, now, nil, "enrollment:4")
		now = now.Add(time.Hour)
		send()
		if n := len(rc.requests()); n != before {
			t.Errorf("a disabled endpoint got %d requests", n-before)
		}
		// On again, and answering: what waited goes out.
		status = http.StatusOK
		err = db.InTx(ctx, func(q *store.Queries) error {
			return q.UpdateWebhookEndpoint(ctx, orgID, ep.ID, store.WebhookEndpointChange{URL: ep.URL, Events: ep.Events, Enabled: true})
		})
		if err != nil {
			t.Fatal(err)
		}
		send()
		msgs, _ := db.Read().WebhookMessages(ctx, orgID, ep.ID)
		var delivered int
		for _, m := range msgs {
			if m.Status == store.WebhookDelivered {
				delivered++
			}
		}
		// enrollment:1 was given up after 3 days; 2, 3 and 4 are delivered.
		if delivered != 3 {
			t.Errorf("%d delivered after turning on again, want 3", delivered)
		}
		if e, _ := db.Read().WebhookEndpointToSend(ctx, ep.ID); e.FailingSince != nil {
			t.Errorf("still failing since %v", e.FailingSince)
		}
	})
}

// The sweep deletes messages finished more than 30 days ago.
func TestDispatcherSweep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		rc := newReceiver(t, "", false, nil)
		ep := newEndpoint(t, db, orgID, rc.srv.URL)
		rc.secret = ep.Secret
		now := time.Now()
		d := webhooks.NewDispatcher(db, webhooks.Config{Guard: loopback(rc), Now: func() time.Time { return now }, Logger: quietLog})
		addMessages(t, db, ep, now, nil, "a", "b")
		if _, err := d.SendDue(ctx, ep.ID, time.Minute); err != nil {
			t.Fatal(err)
		}
		addMessages(t, db, ep, now, nil, "c") // pending: stays
		now = now.Add(29 * 24 * time.Hour)
		if n, err := d.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("after 29 days swept %d, %v", n, err)
		}
		now = now.Add(2 * 24 * time.Hour)
		if n, err := d.Sweep(ctx); err != nil || n != 2 {
			t.Fatalf("after 31 days swept %d, %v; want 2", n, err)
		}
		if msgs, _ := db.Read().WebhookMessages(ctx, orgID, ep.ID); len(msgs) != 1 || msgs[0].Status != store.WebhookPending {
			t.Errorf("left: %+v", msgs)
		}
	})
}

// A slow endpoint's round stops starting requests once the job's budget
// is spent: what was sent is recorded, the rest waits for the next run,
// and the job says so.
func TestDispatcherStopsASlowRoundInTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		rc := newReceiver(t, "", false, func(received, int) int {
			time.Sleep(150 * time.Millisecond)
			return http.StatusOK
		})
		ep := newEndpoint(t, db, orgID, rc.srv.URL)
		rc.secret = ep.Secret
		d := webhooks.NewDispatcher(db, webhooks.Config{Guard: loopback(rc), Concurrency: 2, Logger: quietLog})
		addMessages(t, db, ep, time.Now(), nil, "a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
		start := time.Now()
		more, err := d.SendDue(ctx, ep.ID, 250*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		msgs, _ := db.Read().WebhookMessages(ctx, orgID, ep.ID)
		delivered := 0
		for _, m := range msgs {
			if m.Status == store.WebhookDelivered {
				delivered++
			}
		}
		if !more || delivered == 0 || delivered > 6 || delivered != len(rc.requests()) || took > time.Second {
			t.Errorf("more %v, %d delivered, %d requests, in %v; want some of 10 recorded within about the budget", more, delivered, len(rc.requests()), took)
		}
		if more, err := d.SendDue(ctx, ep.ID, time.Minute); err != nil || more {
			t.Fatalf("second run: more %v, %v", more, err)
		}
		if n := len(rc.requests()); n != 10 {
			t.Errorf("%d requests for 10 messages", n)
		}
	})
}
