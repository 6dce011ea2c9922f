package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/mailtest"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/webhooks"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const baseURL = "https://school.example"

// refuseLoopback stands in for the platform's guard: it refuses the
// loopback addresses written as such, and plain http.
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

type fixture struct {
	t        *testing.T
	ctx      context.Context
	db       *store.DB
	orgs     *orgs.Service
	learning *learning.Service
	hooks    *webhooks.Service
	org      int64
	other    int64
	owner    *store.User
	admin    *store.User
	editor   *store.User
	outsider *store.User // the other organization's admin
	course   int64
	kicked   [][]int64
}

// newFixture is an organization with an owner, an admin and an editor and
// an enabled course of one lesson, another organization with its admin,
// and the services wired as serve wires them. extra hooks run after the
// webhooks' ones.
func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	mailer, err := mail.NewService(db, mail.Config{From: "mailschool <noreply@school.example>", BaseURL: baseURL,
		Transport: mail.Outbox{}, TransportName: "outbox"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewJobs(&river.Config{}); err != nil { // insert-only
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, db: db,
		orgs:     orgs.NewService(db, orgs.Config{Mail: mailer, BaseURL: baseURL}),
		learning: learning.NewService(db, learning.Config{Mail: mailer, BaseURL: baseURL, SecretKey: "a secret key for the tests"})}
	f.hooks = webhooks.NewService(db, webhooks.Options{CheckURL: refuseLoopback, Learning: f.learning})
	f.hooks.Attach(f.orgs, f.learning)
	f.hooks.SetKick(func(ctx context.Context, q *store.Queries, ids []int64) error {
		f.kicked = append(f.kicked, ids)
		return nil
	})
	org, users := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "owner@acme.example", Role: "owner"},
		storetest.Member{Email: "admin@acme.example", Role: "admin"}, storetest.Member{Email: "editor@acme.example", Role: "editor"})
	other, others := storetest.NewOrganization(t, db, "Other", storetest.Member{Email: "admin@other.example", Role: "admin"})
	f.org, f.other = org, other
	f.owner, f.admin, f.editor, f.outsider = &users[0], &users[1], &users[2], &others[0]
	err = db.InTx(ctx, func(q *store.Queries) error {
		var err error
		f.course, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: org, Title: "Go basics", TitleKey: "go basics",
			TitleSkeleton: names.Key("Go basics"), Slug: "go-basics", Enabled: true, Public: true})
		if err != nil {
			return err
		}
		_, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: org, CourseID: f.course, Kind: store.KindLesson,
			Title: "Hello", Body: "Hello.", Published: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) create(actor *store.User, org int64, rawURL string, events ...string) store.WebhookEndpoint {
	f.t.Helper()
	w, err := f.hooks.Create(f.ctx, actor, org, webhooks.Fields{URL: &rawURL, Events: events})
	if err != nil {
		f.t.Fatalf("create webhook %s: %v", rawURL, err)
	}
	return w
}

// messages returns the event types an endpoint has messages of, oldest
// first, and their payloads.
func (f *fixture) messages(w store.WebhookEndpoint) ([]string, []webhooks.Payload) {
	f.t.Helper()
	list, err := f.db.Read().WebhookMessages(f.ctx, w.OrganizationID, w.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	var types []string
	var payloads []webhooks.Payload
	for _, m := range slices.Backward(list) {
		var p struct {
			webhooks.Payload
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(m.Payload), &p); err != nil {
			f.t.Fatalf("payload of message %d: %v", m.ID, err)
		}
		if p.ID != m.EventID || p.Type != m.EventType || m.Status != store.WebhookPending || m.Attempts != 0 {
			f.t.Errorf("message %d: %+v, payload %s", m.ID, m, m.Payload)
		}
		p.Payload.Data = p.Data
		types = append(types, m.EventType)
		payloads = append(payloads, p.Payload)
	}
	return types, payloads
}

func (f *fixture) expect(w store.WebhookEndpoint, want ...string) []webhooks.Payload {
	f.t.Helper()
	got, payloads := f.messages(w)
	if !slices.Equal(got, want) {
		f.t.Errorf("webhook %s got %q, want %q", w.URL, got, want)
	}
	return payloads
}

func fieldOf(err error, field string) string {
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid {
		return ""
	}
	return p.Fields[field]
}

// TestEndpoints: admins (and admins' keys) add, read, change and remove an
// organization's endpoints; others are refused; another organization's
// endpoint is not found; the secret is new on each endpoint and rotation.
func TestEndpoints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := f.ctx
		w := f.create(f.admin, f.org, " https://hr.example/hooks ", "enrollment.completed", "enrollment.created", "enrollment.completed")
		if !regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{32}$`).MatchString(w.Secret) || w.URL != "https://hr.example/hooks" || !w.Enabled {
			t.Errorf("created %+v", w)
		}
		if !slices.Equal(w.Events, []string{"enrollment.created", "enrollment.completed"}) {
			t.Errorf("events %q: not cleaned into the list's order", w.Events)
		}
		key := &store.User{ID: f.admin.ID, Email: f.admin.Email, IsActive: true, APIKey: &store.KeyGrant{KeyID: 1, OrganizationID: f.org, Role: "admin"}}
		if _, err := f.hooks.Endpoints(ctx, key, f.org); err != nil {
			t.Errorf("an admin's key may not list webhooks: %v", err)
		}
		if _, err := f.hooks.Endpoints(ctx, f.editor, f.org); !errors.Is(err, orgs.ErrForbidden) {
			t.Errorf("an editor lists webhooks: %v", err)
		}
		if _, err := f.hooks.Endpoint(ctx, f.outsider, f.org, w.ID); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("another organization's admin reads the webhook: %v", err)
		}
		theirs := f.create(f.outsider, f.other, "https://other.example/", "*")
		if theirs.Secret == w.Secret {
			t.Error("two endpoints share a secret")
		}
		for _, try := range []func() error{
			func() error { _, err := f.hooks.Endpoint(ctx, f.admin, f.org, theirs.ID); return err },
			func() error { return f.hooks.Delete(ctx, f.admin, f.org, theirs.ID) },
			func() error { _, err := f.hooks.RotateSecret(ctx, f.admin, f.org, theirs.ID); return err },
			func() error { _, err := f.hooks.SendTest(ctx, f.admin, f.org, theirs.ID); return err },
			func() error {
				_, err := f.hooks.Update(ctx, f.admin, f.org, theirs.ID, webhooks.Fields{Enabled: new(bool)})
				return err
			},
		} {
			if err := try(); !errors.Is(err, webhooks.ErrEndpointNotFound) {
				t.Errorf("another organization's webhook: %v", err)
			}
		}
		if got, err := db.Read().WebhookEndpoint(ctx, f.other, theirs.ID); err != nil || !got.Enabled || got.Secret != theirs.Secret {
			t.Errorf("another organization's webhook changed: %+v, %v", got, err)
		}

		off, desc := false, "HR system"
		u, err := f.hooks.Update(ctx, f.admin, f.org, w.ID, webhooks.Fields{Enabled: &off, Description: &desc, Events: []string{"*"}})
		if err != nil || u.Enabled || u.Description != desc || !slices.Equal(u.Events, []string{"*"}) || u.Secret != "" {
			t.Errorf("updated: %+v, %v", u, err)
		}
		rotated, err := f.hooks.RotateSecret(ctx, f.owner, f.org, w.ID)
		if err != nil || rotated.Secret == w.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
			t.Fatalf("rotated: %+v, %v", rotated, err)
		}
		stored, err := db.Read().WebhookEndpoint(ctx, f.org, w.ID)
		if err != nil || stored.PreviousSecret != w.Secret || stored.PreviousSecretUntil == nil ||
			stored.PreviousSecretUntil.Sub(time.Now()) < 23*time.Hour || stored.PreviousSecretUntil.Sub(time.Now()) > 25*time.Hour {
			t.Errorf("after rotation: %+v, %v", stored, err)
		}
		audit, err := db.Read().AuditLog(ctx, f.org, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range audit {
			kinds = append(kinds, e.Action)
		}
		for _, k := range []orgs.EventKind{orgs.WebhookCreated, orgs.WebhookUpdated, orgs.WebhookSecretRotated} {
			if !slices.Contains(kinds, string(k)) {
				t.Errorf("audit log %q lacks %s", kinds, k)
			}
		}
		if err := f.hooks.Delete(ctx, f.editor, f.org, w.ID); !errors.Is(err, orgs.ErrForbidden) {
			t.Errorf("an editor deletes a webhook: %v", err)
		}
		if err := f.hooks.Delete(ctx, f.admin, f.org, w.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.hooks.Endpoint(ctx, f.admin, f.org, w.ID); !errors.Is(err, webhooks.ErrEndpointNotFound) {
			t.Errorf("deleted webhook: %v", err)
		}
	})
}

// TestEndpointRefusals: addresses the guard refuses, and other bad
// settings, answer with a message on the field and write nothing.
func TestEndpointRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for _, tt := range []struct {
			url    string
			events []string
			field  string
		}{
			{"https://127.0.0.1/hook", []string{"*"}, "url"},
			{"http://hr.example/hook", []string{"*"}, "url"},
			{"ftp://hr.example/hook", []string{"*"}, "url"},
			{"https://user:pw@hr.example/hook", []string{"*"}, "url"},
			{"", []string{"*"}, "url"},
			{"hr.example/hook", []string{"*"}, "url"},
			{"https://hr.example/hook", nil, "events"},
			{"https://hr.example/hook", []string{"*", "member.added"}, "events"},
			{"https://hr.example/hook", []string{"enrollment.exploded"}, "events"},
			{"https://hr.example/hook", []string{"member_added"}, "events"},
		} {
			_, err := f.hooks.Create(f.ctx, f.admin, f.org, webhooks.Fields{URL: &tt.url, Events: tt.events})
			if fieldOf(err, tt.field) == "" {
				t.Errorf("%s %q: %v, want a message on %s", tt.url, tt.events, err, tt.field)
			}
		}
		long := strings.Repeat("x", webhooks.MaxDescriptionRunes+1)
		if _, err := f.hooks.Create(f.ctx, f.admin, f.org, webhooks.Fields{URL: ptr("https://hr.example/"), Description: &long,
			Events: []string{"*"}}); fieldOf(err, "description") == "" {
			t.Errorf("a long description: %v", err)
		}
		// An editor learns nothing about the address: refused first.
		if _, err := f.hooks.Create(f.ctx, f.editor, f.org, webhooks.Fields{URL: ptr("https://127.0.0.1/"), Events: []string{"*"}}); !errors.Is(err, orgs.ErrForbidden) {
			t.Errorf("an editor's create: %v", err)
		}
		w := f.create(f.admin, f.org, "https://hr.example/", "*")
		if _, err := f.hooks.Update(f.ctx, f.admin, f.org, w.ID, webhooks.Fields{URL: ptr("https://localhost/")}); fieldOf(err, "url") == "" {
			t.Errorf("changed to a loopback address: %v", err)
		}
		if list, err := db.Read().WebhookEndpoints(f.ctx, f.org); err != nil || len(list) != 1 || list[0].URL != "https://hr.example/" {
			t.Errorf("endpoints after refusals: %+v, %v", list, err)
		}
	})
}

func ptr(s string) *string { return &s }

// TestLearningEvents: each change of the learning rules writes its event,
// in its transaction, to the enabled endpoints of its organization that
// want it, and kicks them; a disabled endpoint and another organization's
// get nothing.
func TestLearningEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := f.ctx
		all := f.create(f.admin, f.org, "https://all.example/", "*")
		created := f.create(f.admin, f.org, "https://created.example/", "enrollment.created")
		disabled := f.create(f.admin, f.org, "https://off.example/", "*")
		off := false
		if _, err := f.hooks.Update(ctx, f.admin, f.org, disabled.ID, webhooks.Fields{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		theirs := f.create(f.outsider, f.other, "https://other.example/", "*")
		f.kicked = nil

		e, err := f.learning.EnrollDirectly(ctx, f.editor, f.org, f.course, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if len(f.kicked) != 1 || !slices.Equal(f.kicked[0], []int64{all.ID, created.ID}) {
			t.Errorf("kicked %v, want [[%d %d]]", f.kicked, all.ID, created.ID)
		}
		payloads := f.expect(all, "enrollment.created")
		f.expect(created, "enrollment.created")
		f.expect(disabled)
		f.expect(theirs)
		var data webhooks.EnrollmentEventData
		if err := json.Unmarshal(payloads[0].Data.(json.RawMessage), &data); err != nil {
			t.Fatal(err)
		}
		if data.Enrollment.ID != e.ID || data.Enrollment.LearnerEmail != "ada@example.com" || data.Enrollment.Status != "active" ||
			!strings.HasPrefix(payloads[0].ID, "msg_") || len(payloads[0].ID) != 36 || payloads[0].Timestamp.IsZero() {
			t.Errorf("payload %+v, data %+v", payloads[0], data)
		}

		if _, err := f.learning.CancelEnrollment(ctx, f.editor, f.org, e.ID); err != nil {
			t.Fatal(err)
		}
		// The public enrollment, confirmed from its email.
		if err := f.learning.Enroll(ctx, f.org, "go-basics", "bob@example.com", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		sent := mailtest.Sent(t, db, "bob@example.com", mail.KindEnrollmentConfirm)
		token := regexp.MustCompile(`/enrollments/confirm/([A-Za-z0-9_-]{43})/`).FindStringSubmatch(sent[0].Text)
		if token == nil {
			t.Fatalf("no confirmation link in %q", sent[0].Text)
		}
		c, err := f.learning.Confirm(ctx, token[1], "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		bob := c.Enrollment
		// Completed by the course's rules (the delivery engine's call),
		// which issues the certificate; then claimed.
		err = db.InTx(ctx, func(q *store.Queries) error {
			_, err := f.learning.Finish(ctx, q, f.org, bob.ID, store.EnrollmentCompleted)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		claim := f.learning.CertificateClaimURL(bob)
		sig := claim[strings.LastIndex(strings.TrimSuffix(claim, "/"), "/")+1 : len(claim)-1]
		if _, claimed, err := f.learning.ClaimCertificate(ctx, bob.ID, sig, "Bob Builder"); err != nil || !claimed {
			t.Fatalf("claim: %v, %v", claimed, err)
		}
		// A third learner unsubscribes; a fourth fails.
		carol, err := f.learning.EnrollDirectly(ctx, f.editor, f.org, f.course, "carol@example.com")
		if err != nil {
			t.Fatal(err)
		}
		unsub := f.learning.UnsubscribeURL(carol)
		sig = unsub[strings.LastIndex(strings.TrimSuffix(unsub, "/"), "/")+1 : len(unsub)-1]
		if _, err := f.learning.Unsubscribe(ctx, carol.ID, sig); err != nil {
			t.Fatal(err)
		}
		dan, err := f.learning.EnrollDirectly(ctx, f.editor, f.org, f.course, "dan@example.com")
		if err != nil {
			t.Fatal(err)
		}
		err = db.InTx(ctx, func(q *store.Queries) error {
			_, err := f.learning.Finish(ctx, q, f.org, dan.ID, store.EnrollmentFailed)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Two more ended by mailschool itself (the bounce rules): a block
		// cancels, a complaint unsubscribes.
		for _, c := range []struct {
			email string
			to    store.EnrollmentStatus
		}{{"eve@example.com", store.EnrollmentCancelled}, {"fay@example.com", store.EnrollmentUnsubscribed}} {
			en, err := f.learning.EnrollDirectly(ctx, f.editor, f.org, f.course, c.email)
			if err != nil {
				t.Fatal(err)
			}
			err = db.InTx(ctx, func(q *store.Queries) error {
				_, err := f.learning.End(ctx, q, f.org, en.ID, c.to)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// The course disabled, and enabled again.
		for _, on := range []bool{false, true} {
			if _, err := f.learning.UpdateCourse(ctx, f.editor, f.org, f.course, learning.CourseFields{Enabled: &on}); err != nil {
				t.Fatal(err)
			}
		}
		payloads = f.expect(all, "enrollment.created", "enrollment.cancelled", "enrollment.created", "enrollment.confirmed",
			"enrollment.completed", "certificate.issued", "certificate.claimed", "enrollment.created", "enrollment.unsubscribed",
			"enrollment.created", "enrollment.failed", "enrollment.created", "enrollment.cancelled", "enrollment.created",
			"enrollment.unsubscribed", "course.disabled", "course.enabled")
		f.expect(created, "enrollment.created", "enrollment.created", "enrollment.created", "enrollment.created",
			"enrollment.created", "enrollment.created")
		f.expect(disabled)
		f.expect(theirs)
		var cert webhooks.CertificateEventData
		if err := json.Unmarshal(payloads[6].Data.(json.RawMessage), &cert); err != nil {
			t.Fatal(err)
		}
		if cert.Certificate.EnrollmentID != bob.ID || cert.Certificate.LearnerName == nil || *cert.Certificate.LearnerName != "Bob Builder" ||
			cert.Certificate.URL == nil || !strings.HasPrefix(*cert.Certificate.URL, baseURL) || cert.Certificate.LearnerEmail != "bob@example.com" {
			t.Errorf("certificate.claimed data %+v", cert)
		}
		var course webhooks.CourseEventData
		if err := json.Unmarshal(payloads[15].Data.(json.RawMessage), &course); err != nil || course.Course.ID != f.course || course.Course.Enabled {
			t.Errorf("course.disabled data %+v, %v", course, err)
		}
	})
}

// TestOrganizationEvents: member changes and ownership transfers become
// events; other changes of the organization do not.
func TestOrganizationEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := f.ctx
		all := f.create(f.admin, f.org, "https://all.example/", "*")
		roles := f.create(f.admin, f.org, "https://roles.example/", "member.role_changed")
		if _, err := f.orgs.ChangeRole(ctx, f.admin, f.org, f.editor.ID, access.Viewer); err != nil {
			t.Fatal(err)
		}
		if err := f.orgs.RemoveMember(ctx, f.admin, f.org, f.editor.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.orgs.OfferOwnership(ctx, f.owner, f.org, f.admin.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.orgs.AcceptOwnership(ctx, f.admin, f.org); err != nil {
			t.Fatal(err)
		}
		payloads := f.expect(all, "member.role_changed", "member.removed", "ownership.transferred")
		f.expect(roles, "member.role_changed")
		var changed, removed webhooks.MemberEventData
		if err := json.Unmarshal(payloads[0].Data.(json.RawMessage), &changed); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(payloads[1].Data.(json.RawMessage), &removed); err != nil {
			t.Fatal(err)
		}
		if changed.Member.UserID != f.editor.ID || changed.Member.Role != "viewer" || changed.PreviousRole != "editor" ||
			changed.Member.CreatedAt == nil || changed.ActorEmail != f.admin.Email {
			t.Errorf("member.role_changed data %+v", changed)
		}
		if removed.Member.Email != f.editor.Email || removed.Member.Role != "viewer" || removed.Reason != "removed" {
			t.Errorf("member.removed data %+v", removed)
		}
	})
}

// TestRolledBackChangeWritesNoEvent: a change undone by a later hook
// leaves no message behind.
func TestRolledBackChangeWritesNoEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		all := f.create(f.admin, f.org, "https://all.example/", "*")
		fail := errors.New("a later hook fails")
		f.learning.OnActivate(func(context.Context, *store.Queries, store.Enrollment) error { return fail })
		f.orgs.OnEvent(func(context.Context, *store.Queries, orgs.Event) error { return fail })
		if _, err := f.learning.EnrollDirectly(f.ctx, f.editor, f.org, f.course, "ada@example.com"); !errors.Is(err, fail) {
			t.Fatalf("enroll: %v", err)
		}
		if _, err := f.orgs.ChangeRole(f.ctx, f.admin, f.org, f.editor.ID, access.Viewer); !errors.Is(err, fail) {
			t.Fatalf("change role: %v", err)
		}
		f.expect(all)
	})
}

// enroll enrolls each address in the fixture's course, as its editor.
func (f *fixture) enroll(emails ...string) []store.Enrollment {
	f.t.Helper()
	var enrollments []store.Enrollment
	for _, email := range emails {
		e, err := f.learning.EnrollDirectly(f.ctx, f.editor, f.org, f.course, email)
		if err != nil {
			f.t.Fatal(err)
		}
		enrollments = append(enrollments, e)
	}
	return enrollments
}

// TestEventsOfOneTransaction: the events of one transaction (a batch of
// deliveries completing two enrollments) are written when its work is
// done, in the order they happened, and kick the endpoint once.
func TestEventsOfOneTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		all := f.create(f.admin, f.org, "https://all.example/", "*")
		enrollments := f.enroll("ada@example.com", "bob@example.com")
		f.kicked = nil
		err := db.InTx(f.ctx, func(q *store.Queries) error {
			for _, e := range enrollments {
				if _, err := f.learning.Finish(f.ctx, q, f.org, e.ID, store.EnrollmentCompleted); err != nil {
					return err
				}
			}
			if len(f.kicked) != 0 {
				return fmt.Errorf("kicked %v before the transaction's work was done", f.kicked)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := [][]int64{{all.ID, all.ID, all.ID, all.ID}}; !slices.EqualFunc(f.kicked, want, slices.Equal) {
			t.Errorf("kicked %v, want %v", f.kicked, want)
		}
		payloads := f.expect(all, "enrollment.created", "enrollment.created", "enrollment.completed", "certificate.issued",
			"enrollment.completed", "certificate.issued")
		for i, want := range []int64{enrollments[0].ID, enrollments[0].ID, enrollments[1].ID, enrollments[1].ID} {
			var data struct {
				Enrollment  struct{ ID int64 }
				Certificate struct {
					EnrollmentID int64 `json:"enrollment_id"`
				}
			}
			if err := json.Unmarshal(payloads[2+i].Data.(json.RawMessage), &data); err != nil {
				t.Fatal(err)
			}
			if got := max(data.Enrollment.ID, data.Certificate.EnrollmentID); got != want {
				t.Errorf("event %d is about enrollment %d, want %d", 2+i, got, want)
			}
		}
	})
}

// TestEndpointCreatedDuringATransaction: a transaction asks once whether
// an organization has endpoints. One created while it runs gets none of
// its events (as it gets none of those asked about before it was
// committed), and every event of the transactions after it. PostgreSQL
// only: on SQLite no endpoint is written while a transaction writes.
func TestEndpointCreatedDuringATransaction(t *testing.T) {
	db := storetest.NewPostgres(t)
	f := newFixture(t, db)
	enrollments := f.enroll("ada@example.com", "bob@example.com")
	var late store.WebhookEndpoint
	err := db.InTx(f.ctx, func(q *store.Queries) error {
		if _, err := f.learning.Finish(f.ctx, q, f.org, enrollments[0].ID, store.EnrollmentCompleted); err != nil {
			return err
		}
		err := db.InTx(f.ctx, func(q *store.Queries) error {
			var err error
			late, err = q.CreateWebhookEndpoint(f.ctx, store.NewWebhookEndpoint{OrganizationID: f.org, URL: "https://late.example/",
				Events: []string{"*"}, Secret: webhooks.NewSecret()})
			return err
		})
		if err != nil {
			return err
		}
		_, err = f.learning.Finish(f.ctx, q, f.org, enrollments[1].ID, store.EnrollmentCompleted)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.expect(late)
	f.enroll("cy@example.com")
	f.expect(late, "enrollment.created")
}

// TestTestEventAndRedeliver: a test event goes to its endpoint alone,
// when it is enabled, one at a time; a redelivered message is pending
// again, due now, with its attempts kept.
func TestTestEventAndRedeliver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := f.ctx
		w := f.create(f.admin, f.org, "https://hr.example/", "member.added")
		other := f.create(f.admin, f.org, "https://all.example/", "*")
		off, on := false, true
		if _, err := f.hooks.Update(ctx, f.admin, f.org, w.ID, webhooks.Fields{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.hooks.SendTest(ctx, f.admin, f.org, w.ID); problemCode(err) != "webhook_disabled" {
			t.Errorf("a test event to a disabled webhook: %v", err)
		}
		if _, err := f.hooks.Update(ctx, f.admin, f.org, w.ID, webhooks.Fields{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		f.kicked = nil
		id, err := f.hooks.SendTest(ctx, f.admin, f.org, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.hooks.SendTest(ctx, f.admin, f.org, w.ID); problemCode(err) != "webhook_test_pending" {
			t.Errorf("a second test event while the first is on its way: %v", err)
		}
		if len(f.kicked) != 1 || !slices.Equal(f.kicked[0], []int64{w.ID}) {
			t.Errorf("kicked %v", f.kicked)
		}
		payloads := f.expect(w, webhooks.TestEvent)
		f.expect(other)
		if !strings.Contains(string(payloads[0].Data.(json.RawMessage)), `"webhook_id":`+strconv.FormatInt(w.ID, 10)) {
			t.Errorf("test event data %s", payloads[0].Data)
		}
		if err := f.hooks.Redeliver(ctx, f.admin, f.org, other.ID, id); !errors.Is(err, webhooks.ErrMessageNotFound) {
			t.Errorf("redeliver another endpoint's message: %v", err)
		}
		if err := f.hooks.Redeliver(ctx, f.editor, f.org, w.ID, id); !errors.Is(err, orgs.ErrForbidden) {
			t.Errorf("an editor redelivers: %v", err)
		}
		if err := f.hooks.Redeliver(ctx, f.admin, f.org, w.ID, id); err != nil {
			t.Fatal(err)
		}
		list, err := db.Read().WebhookMessages(ctx, f.org, w.ID)
		if err != nil || len(list) != 1 || list[0].Status != store.WebhookPending || time.Since(list[0].NextAttemptAt) > time.Minute {
			t.Errorf("redelivered: %+v, %v", list, err)
		}
	})
}

// An organization has at most MaxEndpoints webhooks.
func TestEndpointCap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		for i := range webhooks.MaxEndpoints {
			f.create(f.admin, f.org, fmt.Sprintf("https://hr%d.example/", i), "*")
		}
		url := "https://one-more.example/"
		if _, err := f.hooks.Create(f.ctx, f.admin, f.org, webhooks.Fields{URL: &url, Events: []string{"*"}}); problemCode(err) != "too_many_webhooks" {
			t.Fatalf("one webhook over the cap: %v", err)
		}
		if n, err := db.Read().CountWebhookEndpoints(f.ctx, f.org); err != nil || n != webhooks.MaxEndpoints {
			t.Errorf("%d webhooks, %v", n, err)
		}
	})
}

func problemCode(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	return ""
}

// TestEventAfterTheEventsAreWritten: an event of work that runs before the
// commit after the transaction's events were written (work added with
// BeforeCommit) is written too, not left behind.
func TestEventAfterTheEventsAreWritten(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		all := f.create(f.admin, f.org, "https://all.example/", "*")
		enrollments := f.enroll("ada@example.com", "bob@example.com")
		err := db.InTx(f.ctx, func(q *store.Queries) error {
			// The first completion registers the writing of the
			// transaction's events; the second comes from work added
			// after it.
			if _, err := f.learning.Finish(f.ctx, q, f.org, enrollments[0].ID, store.EnrollmentCompleted); err != nil {
				return err
			}
			q.BeforeCommit(func(ctx context.Context) error {
				_, err := f.learning.Finish(ctx, q, f.org, enrollments[1].ID, store.EnrollmentCompleted)
				return err
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		f.expect(all, "enrollment.created", "enrollment.created", "enrollment.completed", "certificate.issued",
			"enrollment.completed", "certificate.issued")
	})
}
