package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NewWebhookEndpoint holds the fields of an endpoint to create.
type NewWebhookEndpoint struct {
	OrganizationID int64
	URL            string
	Description    string
	Events         []string // the event types, or ["*"]
	Secret         string
	CreatedBy      int64 // 0: nobody (an API key's creator is still somebody)
}

// WebhookEndpointChange is a change to an endpoint's settings. Enabling
// one clears its run of failures and why it was disabled.
type WebhookEndpointChange struct {
	URL         string
	Description string
	Events      []string
	Enabled     bool
}

const webhookEndpointColumns = `w.id, w.organization_id, w.url, w.description, w.events, w.enabled, w.secret,
	COALESCE(w.previous_secret, ''), w.previous_secret_until, w.failing_since, w.disabled_reason, w.created_by,
	w.created_at, w.updated_at`

func scanWebhookEndpoint(r row) (WebhookEndpoint, error) {
	var (
		w                      WebhookEndpoint
		events                 string
		previousUntil, failing sql.NullTime
		createdBy              sql.NullInt64
	)
	err := r.Scan(&w.ID, &w.OrganizationID, &w.URL, &w.Description, &events, &w.Enabled, &w.Secret,
		&w.PreviousSecret, &previousUntil, &failing, &w.DisabledReason, &createdBy, &w.CreatedAt, &w.UpdatedAt)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	w.Events = strings.Fields(events)
	w.PreviousSecretUntil, w.FailingSince = nullTime(previousUntil), nullTime(failing)
	w.CreatedBy = nullInt(createdBy)
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	return w, nil
}

// CreateWebhookEndpoint stores a new, enabled endpoint and returns it.
func (q *Queries) CreateWebhookEndpoint(ctx context.Context, nw NewWebhookEndpoint) (WebhookEndpoint, error) {
	at := now()
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO webhook_endpoints (organization_id, url, description, events, enabled, secret, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, TRUE, ?, ?, ?, ?) RETURNING id`,
		nw.OrganizationID, nw.URL, nw.Description, strings.Join(nw.Events, " "), nw.Secret, zeroAsNull(nw.CreatedBy), at, at).Scan(&id)
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("create webhook endpoint %s in organization %d: %w", nw.URL, nw.OrganizationID, err)
	}
	return q.WebhookEndpoint(ctx, nw.OrganizationID, id)
}

// WebhookEndpoint returns an endpoint of an organization, or ErrNotFound
// (for another organization's id too).
func (q *Queries) WebhookEndpoint(ctx context.Context, orgID, id int64) (WebhookEndpoint, error) {
	w, err := scanWebhookEndpoint(q.queryRow(ctx, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints w
		WHERE w.organization_id = ? AND w.id = ?`, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookEndpoint{}, ErrNotFound
	}
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("webhook endpoint %d of organization %d: %w", id, orgID, err)
	}
	return w, nil
}

// WebhookEndpoints lists an organization's endpoints, oldest first: an
// organization has few.
func (q *Queries) WebhookEndpoints(ctx context.Context, orgID int64) ([]WebhookEndpoint, error) {
	rs, err := q.query(ctx, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints w
		WHERE w.organization_id = ? ORDER BY w.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []WebhookEndpoint
	for rs.Next() {
		w, err := scanWebhookEndpoint(rs)
		if err != nil {
			return nil, fmt.Errorf("webhook endpoints of organization %d: %w", orgID, err)
		}
		list = append(list, w)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("webhook endpoints of organization %d: %w", orgID, err)
	}
	return list, nil
}

// UpdateWebhookEndpoint changes an endpoint's settings; ErrNotFound when
// the organization has no such endpoint.
func (q *Queries) UpdateWebhookEndpoint(ctx context.Context, orgID, id int64, c WebhookEndpointChange) error {
	n, err := q.exec(ctx, `
		UPDATE webhook_endpoints SET url = ?, description = ?, events = ?, updated_at = ?,
			failing_since = CASE WHEN ? AND NOT enabled THEN NULL ELSE failing_since END,
			disabled_reason = CASE WHEN ? THEN '' ELSE disabled_reason END,
			enabled = ?
		WHERE organization_id = ? AND id = ?`,
		c.URL, c.Description, strings.Join(c.Events, " "), now(), c.Enabled, c.Enabled, c.Enabled, orgID, id)
	if err != nil {
		return fmt.Errorf("update webhook endpoint %d of organization %d: %w", id, orgID, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteWebhookEndpoint removes an endpoint with its messages and
// delivery log; ErrNotFound when the organization has no such endpoint.
func (q *Queries) DeleteWebhookEndpoint(ctx context.Context, orgID, id int64) error {
	n, err := q.exec(ctx, `DELETE FROM webhook_endpoints WHERE organization_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %d of organization %d: %w", id, orgID, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// RotateWebhookSecret gives an endpoint a new secret; the current one
// becomes the previous one, which still signs until previousUntil.
func (q *Queries) RotateWebhookSecret(ctx context.Context, orgID, id int64, secret string, previousUntil time.Time) error {
	n, err := q.exec(ctx, `
		UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ?
		WHERE organization_id = ? AND id = ?`,
		dbTime(previousUntil), secret, now(), orgID, id)
	if err != nil {
		return fmt.Errorf("rotate the secret of webhook endpoint %d of organization %d: %w", id, orgID, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// HasWebhookEndpoints reports whether an organization has any endpoint,
// enabled or not: one probe of webhook_endpoints_organization_idx, which
// is all an event costs an organization without webhooks.
func (q *Queries) HasWebhookEndpoints(ctx context.Context, orgID int64) (bool, error) {
	var id int64
	err := q.queryRow(ctx, `SELECT id FROM webhook_endpoints WHERE organization_id = ? LIMIT 1`, orgID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("webhook endpoints of organization %d: %w", orgID, err)
	}
	return true, nil
}

// CountWebhookEndpoints counts an organization's endpoints.
func (q *Queries) CountWebhookEndpoints(ctx context.Context, orgID int64) (int, error) {
	var n int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM webhook_endpoints WHERE organization_id = ?`, orgID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count webhook endpoints of organization %d: %w", orgID, err)
	}
	return n, nil
}

// WebhookTestPending reports whether an endpoint has a test event still
// to be sent.
func (q *Queries) WebhookTestPending(ctx context.Context, endpointID int64, testType string) (bool, error) {
	var id int64
	err := q.queryRow(ctx, `SELECT id FROM webhook_messages WHERE endpoint_id = ? AND status = 'pending' AND event_type = ? LIMIT 1`,
		endpointID, testType).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pending test event of webhook %d: %w", endpointID, err)
	}
	return true, nil
}

// WebhookEvent is one event to write as a message for each endpoint that
// wants it.
type WebhookEvent struct {
	OrganizationID int64
	EventID        string
	Type           string
	Subject        string
	Payload        string
	At             time.Time
}

// likePattern is a LIKE pattern matching s exactly (with \ as the escape)
// between the given prefix and suffix.
func likePattern(prefix, s, suffix string) string {
	return prefix + likeEscaper.Replace(s) + suffix
}

// AddWebhookEvent writes the event as a pending message for every enabled
// endpoint of its organization that subscribes to its type ("*", or the
// type among the space-separated list), and returns those endpoints' ids.
// The LIKE pattern is built in the statement rather than bound whole:
// SQLite compiles a statement again each time a LIKE's bound pattern
// changes (for its prefix optimisation), which was most of what writing
// an event cost.
func (q *Queries) AddWebhookEvent(ctx context.Context, ev WebhookEvent) ([]int64, error) {
	at := dbTime(ev.At)
	rs, err := q.query(ctx, `
		INSERT INTO webhook_messages (endpoint_id, organization_id, event_id, event_type, subject, payload, status, attempts, next_attempt_at, created_at)
		SELECT w.id, w.organization_id, `+q.textParam()+`, `+q.textParam()+`, `+q.textParam()+`, `+q.textParam()+`, 'pending', 0, `+q.timeParam()+`, `+q.timeParam()+`
		FROM webhook_endpoints w
		WHERE w.organization_id = ? AND w.enabled AND (w.events = '*' OR ' ' || w.events || ' ' LIKE '% ' || `+q.textParam()+` || ' %' ESCAPE '\')
		ORDER BY w.id
		RETURNING endpoint_id`,
		ev.EventID, ev.Type, ev.Subject, ev.Payload, at, at, ev.OrganizationID, likePattern("", ev.Type, ""))
	if err != nil {
		return nil, fmt.Errorf("add webhook event %s of organization %d: %w", ev.Type, ev.OrganizationID, err)
	}
	defer rs.Close()
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, fmt.Errorf("add webhook event %s of organization %d: %w", ev.Type, ev.OrganizationID, err)
		}
		ids = append(ids, id)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("add webhook event %s of organization %d: %w", ev.Type, ev.OrganizationID, err)
	}
	return ids, nil
}

// AddWebhookEvents writes events as AddWebhookEvent writes each, in their
// order (the messages of one event in endpoint order), and returns the
// endpoints written to, an id per message. It is one statement for all:
// on PostgreSQL a statement per event cost a round trip each, and on
// SQLite, where a delivery batch writes a hundred events while it holds
// the only write connection, running a statement per event cost more than
// writing the rows.
func (q *Queries) AddWebhookEvents(ctx context.Context, events []WebhookEvent) ([]int64, error) {
	switch {
	case len(events) == 0:
		return nil, nil
	case len(events) == 1:
		return q.AddWebhookEvent(ctx, events[0])
	case q.dialect != Postgres:
		return q.addWebhookEventsSQLite(ctx, events)
	}
	var (
		orgs                                    = make([]int64, len(events))
		eventIDs, types, subjects, payloads, ps = make([]string, len(events)), make([]string, len(events)), make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
		ats                                     = make([]time.Time, len(events))
	)
	for i, ev := range events {
		orgs[i], eventIDs[i], types[i], subjects[i], payloads[i] = ev.OrganizationID, ev.EventID, ev.Type, ev.Subject, ev.Payload
		ats[i], ps[i] = dbTime(ev.At), likePattern("% ", ev.Type, " %")
	}
	rs, err := q.query(ctx, `
		INSERT INTO webhook_messages (endpoint_id, organization_id, event_id, event_type, subject, payload, status, attempts, next_attempt_at, created_at)
		SELECT w.id, w.organization_id, v.event_id, v.event_type, v.subject, v.payload, 'pending', 0, v.at, v.at
		FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::text[])
			WITH ORDINALITY AS v (organization_id, event_id, event_type, subject, payload, at, pattern, n)
		JOIN webhook_endpoints w ON w.organization_id = v.organization_id
		WHERE w.enabled AND (w.events = '*' OR ' ' || w.events || ' ' LIKE v.pattern ESCAPE '\')
		ORDER BY v.n, w.id
		RETURNING endpoint_id`,
		orgs, eventIDs, types, subjects, payloads, ats, ps)
	if err != nil {
		return nil, fmt.Errorf("add %d webhook events: %w", len(events), err)
	}
	ids, err := endpointIDs(rs)
	if err != nil {
		return nil, fmt.Errorf("add %d webhook events: %w", len(events), err)
	}
	return ids, nil
}

// endpointIDs reads the endpoint ids that a statement adding events
// returns, and closes its rows.
func endpointIDs(rs rows) ([]int64, error) {
	defer rs.Close()
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rs.Err()
}

// sqliteEvent is an event as addWebhookEventsSQLite passes it in JSON,
// its time as the driver writes one, so that the stored bytes are those
// of AddWebhookEvent.
type sqliteEvent struct {
	OrganizationID int64  `json:"o"`
	EventID        string `json:"e"`
	Type           string `json:"t"`
	Subject        string `json:"s"`
	Payload        string `json:"p"`
	At             string `json:"a"`
	Pattern        string `json:"l"` // the type escaped for LIKE
}

func (q *Queries) addWebhookEventsSQLite(ctx context.Context, events []WebhookEvent) ([]int64, error) {
	rows := make([]sqliteEvent, len(events))
	for i, ev := range events {
		rows[i] = sqliteEvent{OrganizationID: ev.OrganizationID, EventID: ev.EventID, Type: ev.Type, Subject: ev.Subject,
			Payload: ev.Payload, At: dbTime(ev.At).Format(sqliteTimeLayout), Pattern: likePattern("", ev.Type, "")}
	}
	list, err := json.Marshal(rows)
	if err != nil {
		return nil, fmt.Errorf("add %d webhook events: %w", len(events), err)
	}
	// The pattern is built in the statement, as in AddWebhookEvent.
	rs, err := q.query(ctx, `
		INSERT INTO webhook_messages (endpoint_id, organization_id, event_id, event_type, subject, payload, status, attempts, next_attempt_at, created_at)
		SELECT w.id, w.organization_id, v.value ->> 'e', v.value ->> 't', v.value ->> 's', v.value ->> 'p', 'pending', 0, v.value ->> 'a', v.value ->> 'a'
		FROM json_each(?) AS v JOIN webhook_endpoints w ON w.organization_id = v.value ->> 'o'
		WHERE w.enabled AND (w.events = '*' OR ' ' || w.events || ' ' LIKE '% ' || (v.value ->> 'l') || ' %' ESCAPE '\')
		ORDER BY v.key, w.id
		RETURNING endpoint_id`, string(list))
	if err != nil {
		return nil, fmt.Errorf("add %d webhook events: %w", len(events), err)
	}
	ids, err := endpointIDs(rs)
	if err != nil {
		return nil, fmt.Errorf("add %d webhook events: %w", len(events), err)
	}
	return ids, nil
}

// textParam and timeParam are placeholders in a SELECT list, where
// PostgreSQL cannot infer their types from a column.
func (q *Queries) textParam() string {
	if q.dialect == Postgres {
		return `CAST(? AS TEXT)`
	}
	return `?`
}

func (q *Queries) timeParam() string {
	if q.dialect == Postgres {
		return `CAST(? AS TIMESTAMPTZ)`
	}
	return `?`
}

// AddWebhookMessage writes one pending message for one endpoint of the
// organization, enabled or not (a test event); ErrNotFound when the
// organization has no such endpoint.
func (q *Queries) AddWebhookMessage(ctx context.Context, endpointID int64, ev WebhookEvent) (int64, error) {
	at := dbTime(ev.At)
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO webhook_messages (endpoint_id, organization_id, event_id, event_type, subject, payload, status, attempts, next_attempt_at, created_at)
		SELECT w.id, w.organization_id, `+q.textParam()+`, `+q.textParam()+`, `+q.textParam()+`, `+q.textParam()+`, 'pending', 0, `+q.timeParam()+`, `+q.timeParam()+`
		FROM webhook_endpoints w WHERE w.organization_id = ? AND w.id = ?
		RETURNING id`,
		ev.EventID, ev.Type, ev.Subject, ev.Payload, at, at, ev.OrganizationID, endpointID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("add webhook message %s for endpoint %d: %w", ev.Type, endpointID, err)
	}
	return id, nil
}

// WebhookMessages lists an endpoint's messages, newest first, for tests
// and the endpoint's page.
func (q *Queries) WebhookMessages(ctx context.Context, orgID, endpointID int64) ([]WebhookMessage, error) {
	rs, err := q.query(ctx, `
		SELECT id, endpoint_id, organization_id, event_id, event_type, subject, payload, status, attempts, next_attempt_at, created_at, finished_at
		FROM webhook_messages WHERE organization_id = ? AND endpoint_id = ? ORDER BY id DESC`, orgID, endpointID)
	if err != nil {
		return nil, fmt.Errorf("webhook messages of endpoint %d: %w", endpointID, err)
	}
	defer rs.Close()
	var list []WebhookMessage
	for rs.Next() {
		var (
			m        WebhookMessage
			finished sql.NullTime
		)
		if err := rs.Scan(&m.ID, &m.EndpointID, &m.OrganizationID, &m.EventID, &m.EventType, &m.Subject, &m.Payload, &m.Status,
			&m.Attempts, &m.NextAttemptAt, &m.CreatedAt, &finished); err != nil {
			return nil, fmt.Errorf("webhook messages of endpoint %d: %w", endpointID, err)
		}
		m.NextAttemptAt, m.CreatedAt, m.FinishedAt = m.NextAttemptAt.UTC(), m.CreatedAt.UTC(), nullTime(finished)
		list = append(list, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("webhook messages of endpoint %d: %w", endpointID, err)
	}
	return list, nil
}

// RedeliverWebhookMessage sets a message of an endpoint back to pending,
// due now, keeping its count of attempts; ErrNotFound when the endpoint
// of the organization has no such message.
func (q *Queries) RedeliverWebhookMessage(ctx context.Context, orgID, endpointID, messageID int64) error {
	n, err := q.exec(ctx, `
		UPDATE webhook_messages SET status = 'pending', next_attempt_at = ?, finished_at = NULL
		WHERE organization_id = ? AND endpoint_id = ? AND id = ?`,
		now(), orgID, endpointID, messageID)
	if err != nil {
		return fmt.Errorf("redeliver webhook message %d of endpoint %d: %w", messageID, endpointID, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// WebhookDelivery is one row of an endpoint's delivery log: an attempt
// with its message's event.
type WebhookDelivery struct {
	WebhookAttempt
	EventID       string
	EventType     string
	MessageStatus WebhookMessageStatus
}

// WebhookDeliveries returns a page of an endpoint's delivery log, newest
// first: at most limit attempts with ids below before (0: from the
// newest), and the id to pass as before for the next page, 0 on the last.
func (q *Queries) WebhookDeliveries(ctx context.Context, orgID, endpointID, before int64, limit int) ([]WebhookDelivery, int64, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rs, err := q.query(ctx, `
		SELECT a.id, a.message_id, a.endpoint_id, a.attempt, a.status_code, a.duration_ms, a.response, a.error, a.created_at,
			m.event_id, m.event_type, m.status
		FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id
		WHERE a.endpoint_id = ? AND m.organization_id = ? AND a.id < ?
		ORDER BY a.id DESC LIMIT ?`, endpointID, orgID, before, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("delivery log of webhook endpoint %d: %w", endpointID, err)
	}
	defer rs.Close()
	var list []WebhookDelivery
	for rs.Next() {
		var (
			d          WebhookDelivery
			statusCode sql.NullInt64
			durationMS int64
		)
		if err := rs.Scan(&d.ID, &d.MessageID, &d.EndpointID, &d.Attempt, &statusCode, &durationMS, &d.Response, &d.Error, &d.CreatedAt,
			&d.EventID, &d.EventType, &d.MessageStatus); err != nil {
			return nil, 0, fmt.Errorf("delivery log of webhook endpoint %d: %w", endpointID, err)
		}
		if statusCode.Valid {
			code := int(statusCode.Int64)
			d.StatusCode = &code
		}
		d.Duration, d.CreatedAt = time.Duration(durationMS)*time.Millisecond, d.CreatedAt.UTC()
		list = append(list, d)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, fmt.Errorf("delivery log of webhook endpoint %d: %w", endpointID, err)
	}
	var next int64
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	return list, next, nil
}
