package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Bounds of an endpoint's fields.
const (
	MaxURLLength          = 2000
	MaxDescriptionRunes   = 500
	PreviousSecretOverlap = 24 * time.Hour // both secrets sign for this long after a rotation
	DeliveriesPageSize    = 50
)

// ErrEndpointNotFound answers for an endpoint the organization does not
// have, another organization's included.
var ErrEndpointNotFound = problem.New(problem.NotFound, "webhook_not_found", "There is no such webhook in this organization.")

// MaxEndpoints is how many endpoints an organization may have: each
// event costs a message per endpoint, and the sending queue is shared by
// every organization.
const MaxEndpoints = 20

var (
	errTooManyEndpoints = problem.Newf(problem.Conflict, "too_many_webhooks",
		"An organization has at most %d webhooks: remove one before adding another.", MaxEndpoints)
	errTestDisabled = problem.New(problem.Conflict, "webhook_disabled",
		"This webhook is disabled: enable it to send it a test event.")
	errTestPending = problem.New(problem.Conflict, "webhook_test_pending",
		"A test event to this webhook is still on its way: its outcome will show in the deliveries.")
)

// ErrMessageNotFound answers for a message the endpoint never had.
var ErrMessageNotFound = problem.New(problem.NotFound, "webhook_message_not_found", "This webhook has no such event to send again.")

// Fields are an endpoint's settings as given: on a change, nil leaves a
// field as it is.
type Fields struct {
	URL         *string
	Description *string
	Events      []string // nil: unchanged; ["*"]: every event
	Enabled     *bool
}

// List is an organization's endpoints for its settings page.
type List struct {
	orgs.View
	Endpoints []store.WebhookEndpoint
}

// Endpoints lists an organization's endpoints, for its admins.
func (s *Service) Endpoints(ctx context.Context, actor *store.User, orgID int64) (List, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageWebhooks)
	if err != nil {
		return List{}, err
	}
	list, err := q.WebhookEndpoints(ctx, orgID)
	if err != nil {
		return List{}, err
	}
	return List{View: v, Endpoints: list}, nil
}

// Page is one endpoint, with a page of its delivery log.
type Page struct {
	orgs.View
	Endpoint   store.WebhookEndpoint
	Deliveries []store.WebhookDelivery
	// Next is the cursor of the next page of the log, 0 on the last.
	Next int64
}

// Endpoint returns an endpoint of the organization, for its admins.
func (s *Service) Endpoint(ctx context.Context, actor *store.User, orgID, id int64) (Page, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageWebhooks)
	if err != nil {
		return Page{}, err
	}
	w, err := endpointIn(ctx, q, orgID, id)
	if err != nil {
		return Page{}, err
	}
	return Page{View: v, Endpoint: w}, nil
}

// Deliveries returns an endpoint with a page of its delivery log, newest
// first: the attempts below the cursor before (0: the newest).
func (s *Service) Deliveries(ctx context.Context, actor *store.User, orgID, id, before int64) (Page, error) {
	p, err := s.Endpoint(ctx, actor, orgID, id)
	if err != nil {
		return Page{}, err
	}
	p.Deliveries, p.Next, err = s.db.Read().WebhookDeliveries(ctx, orgID, id, before, DeliveriesPageSize)
	if err != nil {
		return Page{}, err
	}
	return p, nil
}

func endpointIn(ctx context.Context, q *store.Queries, orgID, id int64) (store.WebhookEndpoint, error) {
	w, err := q.WebhookEndpoint(ctx, orgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.WebhookEndpoint{}, ErrEndpointNotFound
	}
	return w, err
}

// Create adds an endpoint, enabled, with a new secret: the endpoint
// returned carries it, and this is the one time it is shown.
func (s *Service) Create(ctx context.Context, actor *store.User, orgID int64, f Fields) (store.WebhookEndpoint, error) {
	if _, err := orgs.Authorize(ctx, s.db.Read(), actor, orgID, access.ManageWebhooks); err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("create webhook: %w", err)
	}
	nw := store.NewWebhookEndpoint{OrganizationID: orgID, Secret: NewSecret()}
	var err error
	if nw.URL, nw.Description, nw.Events, err = s.validate(ctx, deref(f.URL), deref(f.Description), f.Events, true); err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("create webhook: %w", err)
	}
	var w store.WebhookEndpoint
	err = s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageWebhooks); err != nil {
			return err
		}
		if actor.APIKey == nil {
			nw.CreatedBy = actor.ID
		}
		// Two additions at once take turns, so neither passes the cap.
		if err := q.LockOrganization(ctx, orgID); err != nil {
			return err
		}
		n, err := q.CountWebhookEndpoints(ctx, orgID)
		if err != nil {
			return err
		}
		if n >= MaxEndpoints {
			return errTooManyEndpoints
		}
		if w, err = q.CreateWebhookEndpoint(ctx, nw); err != nil {
			return err
		}
		return orgs.Record(ctx, q, orgs.Event{Kind: orgs.WebhookCreated, OrganizationID: orgID, Actor: actor, Target: w.URL,
			New: settings(w)})
	})
	if err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("create webhook %s: %w", nw.URL, err)
	}
	return w, nil
}

// Update changes an endpoint's settings. Enabling one that was disabled
// (by hand, or for failing too long) clears its failures; its pending
// messages are sent again.
func (s *Service) Update(ctx context.Context, actor *store.User, orgID, id int64, f Fields) (store.WebhookEndpoint, error) {
	p, err := s.Endpoint(ctx, actor, orgID, id)
	if err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("update webhook %d: %w", id, err)
	}
	old := p.Endpoint
	c := store.WebhookEndpointChange{URL: old.URL, Description: old.Description, Events: old.Events, Enabled: old.Enabled}
	if f.Enabled != nil {
		c.Enabled = *f.Enabled
	}
	// The guard looks again when the address changes, and when the
	// endpoint is enabled again: its name may lead elsewhere by now.
	check := f.URL != nil && strings.TrimSpace(*f.URL) != old.URL || c.Enabled && !old.Enabled
	events := f.Events
	if events == nil {
		events = old.Events
	}
	if c.URL, c.Description, c.Events, err = s.validate(ctx, or(f.URL, old.URL), or(f.Description, old.Description), events, check); err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("update webhook %d: %w", id, err)
	}
	var w store.WebhookEndpoint
	err = s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageWebhooks); err != nil {
			return err
		}
		before, err := endpointIn(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		if err := q.UpdateWebhookEndpoint(ctx, orgID, id, c); err != nil {
			return err
		}
		if w, err = q.WebhookEndpoint(ctx, orgID, id); err != nil {
			return err
		}
		oldValues, newValues := changed(settings(before), settings(w))
		if len(newValues) == 0 {
			return nil
		}
		if err := orgs.Record(ctx, q, orgs.Event{Kind: orgs.WebhookUpdated, OrganizationID: orgID, Actor: actor, Target: w.URL,
			Old: oldValues, New: newValues}); err != nil {
			return err
		}
		if w.Enabled && !before.Enabled {
			return s.kickEndpoints(ctx, q, []int64{id})
		}
		return nil
	})
	if err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("update webhook %d: %w", id, err)
	}
	w.Secret, w.PreviousSecret = "", ""
	return w, nil
}

// Delete removes an endpoint with its messages and delivery log.
func (s *Service) Delete(ctx context.Context, actor *store.User, orgID, id int64) error {
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageWebhooks); err != nil {
			return err
		}
		w, err := endpointIn(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		if err := q.DeleteWebhookEndpoint(ctx, orgID, id); err != nil {
			return err
		}
		return orgs.Record(ctx, q, orgs.Event{Kind: orgs.WebhookDeleted, OrganizationID: orgID, Actor: actor, Target: w.URL,
			Old: settings(w)})
	})
	if err != nil {
		return fmt.Errorf("delete webhook %d: %w", id, err)
	}
	return nil
}

// RotateSecret gives an endpoint a new secret, returned this once; the
// old one goes on signing beside it for PreviousSecretOverlap, so the
// receiver can switch without losing a request.
func (s *Service) RotateSecret(ctx context.Context, actor *store.User, orgID, id int64) (store.WebhookEndpoint, error) {
	var w store.WebhookEndpoint
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageWebhooks); err != nil {
			return err
		}
		if _, err := endpointIn(ctx, q, orgID, id); err != nil {
			return err
		}
		if err := q.RotateWebhookSecret(ctx, orgID, id, NewSecret(), s.now().Add(PreviousSecretOverlap)); err != nil {
			return err
		}
		var err error
		if w, err = q.WebhookEndpoint(ctx, orgID, id); err != nil {
			return err
		}
		return orgs.Record(ctx, q, orgs.Event{Kind: orgs.WebhookSecretRotated, OrganizationID: orgID, Actor: actor, Target: w.URL})
	})
	if err != nil {
		return store.WebhookEndpoint{}, fmt.Errorf("rotate the secret of webhook %d: %w", id, err)
	}
	w.PreviousSecret = ""
	return w, nil
}

// SendTest writes a webhook.test message for the endpoint alone, when it
// is enabled and has no test event still to send, and returns the
// message's id.
func (s *Service) SendTest(ctx context.Context, actor *store.User, orgID, id int64) (int64, error) {
	var msgID int64
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageWebhooks); err != nil {
			return err
		}
		// A disabled endpoint is sent nothing, and one test at a time is
		// enough: pressing the button again sends no flood.
		w, err := endpointIn(ctx, q, orgID, id)
		if err != nil {
			return err
		}
		if !w.Enabled {
			return errTestDisabled
		}
		if pending, err := q.WebhookTestPending(ctx, id, TestEvent); err != nil || pending {
			if err == nil {
				err = errTestPending
			}
			return err
		}
		eventID := NewEventID()
		at := s.now().UTC().Truncate(time.Microsecond)
		body, err := jsonPayload(Payload{ID: eventID, Type: TestEvent, Timestamp: at,
			Data: TestEventData{WebhookID: id, Message: "This is a test event sent from the webhook's settings."}})
		if err != nil {
			return err
		}
		msgID, err = q.AddWebhookMessage(ctx, id, store.WebhookEvent{OrganizationID: orgID, EventID: eventID, Type: TestEvent,
			Payload: body, At: at})
		if errors.Is(err, store.ErrNotFound) {
			return ErrEndpointNotFound
		}
		if err != nil {
			return err
		}
		return s.kickEndpoints(ctx, q, []int64{id})
	})
	if err != nil {
		return 0, fmt.Errorf("send a test event to webhook %d: %w", id, err)
	}
	return msgID, nil
}

// Redeliver sends a message of the endpoint again: it becomes pending,
// due now, with its count of attempts kept.
func (s *Service) Redeliver(ctx context.Context, actor *store.User, orgID, id, messageID int64) error {
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageWebhooks); err != nil {
			return err
		}
		if _, err := endpointIn(ctx, q, orgID, id); err != nil {
			return err
		}
		err := q.RedeliverWebhookMessage(ctx, orgID, id, messageID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrMessageNotFound
		}
		if err != nil {
			return err
		}
		return s.kickEndpoints(ctx, q, []int64{id})
	})
	if err != nil {
		return fmt.Errorf("redeliver message %d of webhook %d: %w", messageID, id, err)
	}
	return nil
}

// validate cleans and checks an endpoint's settings; with check, the
// address also goes through the guard, outside any transaction since it
// may resolve a name.
func (s *Service) validate(ctx context.Context, rawURL, description string, events []string, check bool) (string, string, []string, error) {
	fields := map[string]string{}
	u, err := checkURLShape(rawURL)
	if err != nil {
		fields["url"] = err.Error()
	}
	description = strings.TrimSpace(description)
	switch {
	case utf8.RuneCountInString(description) > MaxDescriptionRunes:
		fields["description"] = "Use at most " + strconv.Itoa(MaxDescriptionRunes) + " characters."
	case strings.ContainsFunc(description, unicode.IsControl):
		fields["description"] = "Write the description on one line, without control characters."
	}
	events, err = cleanEvents(events)
	if err != nil {
		fields["events"] = err.Error()
	}
	if len(fields) == 0 && check {
		if err := s.guard(ctx, u); err != nil {
			return "", "", nil, err
		}
	}
	if len(fields) > 0 {
		p := &problem.Error{Kind: problem.Invalid, Code: "invalid_webhook", Message: "Check the webhook's settings.", Fields: fields}
		if len(fields) == 1 {
			for _, m := range fields {
				p.Message = m
			}
		}
		return "", "", nil, p
	}
	return u, description, events, nil
}

// checkURLShape checks what can be told of an address without resolving
// it: an absolute http or https URL with a host and no password.
func checkURLShape(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("Enter the address the events are posted to, starting with https://.")
	}
	if len(raw) > MaxURLLength {
		return "", fmt.Errorf("Use an address of at most %d characters.", MaxURLLength)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Hostname() == "":
		return "", errors.New("This is not a web address. Enter one such as https://example.com/webhooks.")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", errors.New("Use an address starting with https://.")
	case u.User != nil:
		return "", errors.New("Leave the user name and password out of the address: each request is signed instead.")
	case u.Fragment != "":
		return "", errors.New("Leave the part after # out of the address: it is never sent.")
	}
	return raw, nil
}

// guard asks CheckURL about the address; without one, only https passes.
func (s *Service) guard(ctx context.Context, rawURL string) error {
	if s.checkURL == nil {
		if !strings.HasPrefix(strings.ToLower(rawURL), "https://") {
			return problem.Field("url", "url_refused", "Use an address starting with https://.")
		}
		return nil
	}
	err := s.checkURL(ctx, rawURL)
	if err == nil {
		return nil
	}
	if p, ok := problem.As(err); ok && p.Fields["url"] != "" {
		return p
	}
	if ctx.Err() != nil {
		return err
	}
	return problem.Field("url", "url_refused", err.Error())
}

// cleanEvents checks the subscribed types: known ones, or "*" alone. They
// are kept in the order of EventGroups, each once.
func cleanEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, errors.New("Choose the events to send, or all of them.")
	}
	want := map[string]bool{}
	for _, e := range events {
		e = strings.TrimSpace(e)
		switch {
		case e == AllEvents:
		case !KnownEventType(e):
			return nil, fmt.Errorf("%q is not an event type. Choose among those listed, or all events (*).", e)
		}
		want[e] = true
	}
	if want[AllEvents] {
		if len(want) > 1 {
			return nil, errors.New("Choose all events (*) alone, or a list of event types.")
		}
		return []string{AllEvents}, nil
	}
	var out []string
	for _, g := range EventGroups {
		for _, t := range g.Types {
			if want[t] {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// settings are an endpoint's settings as the audit log records them.
func settings(w store.WebhookEndpoint) map[string]string {
	return map[string]string{"url": w.URL, "events": strings.Join(w.Events, " "), "description": w.Description,
		"enabled": strconv.FormatBool(w.Enabled)}
}

// changed keeps the values that differ.
func changed(old, new map[string]string) (map[string]string, map[string]string) {
	o, n := map[string]string{}, map[string]string{}
	for k, v := range new {
		if old[k] != v {
			o[k], n[k] = old[k], v
		}
	}
	return o, n
}

// Subscribed reports whether the endpoint wants events of type t.
func Subscribed(w store.WebhookEndpoint, t string) bool {
	return slices.Contains(w.Events, AllEvents) || slices.Contains(w.Events, t)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func or(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}
