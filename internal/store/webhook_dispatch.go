package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The queries of the webhook dispatcher: which messages to send next, and
// what became of each attempt.

// DueWebhookEndpoints lists up to limit enabled endpoints that have a
// pending message due at now, above the id after, in id order.
func (q *Queries) DueWebhookEndpoints(ctx context.Context, now time.Time, after int64, limit int) ([]int64, error) {
	rs, err := q.query(ctx, `
		SELECT DISTINCT m.endpoint_id FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id
		WHERE m.status = 'pending' AND m.next_attempt_at <= ? AND e.enabled AND m.endpoint_id > ?
		ORDER BY m.endpoint_id LIMIT ?`, now.UTC(), after, limit)
	if err != nil {
		return nil, fmt.Errorf("endpoints with due webhooks: %w", err)
	}
	defer rs.Close()
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, fmt.Errorf("endpoints with due webhooks: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("endpoints with due webhooks: %w", err)
	}
	return ids, nil
}

// WebhookEndpointToSend returns what the dispatcher needs of an endpoint:
// its organization, URL, secrets, whether it is enabled and since when it
// fails; ErrNotFound when it is gone.
func (q *Queries) WebhookEndpointToSend(ctx context.Context, id int64) (WebhookEndpoint, error) {
	var (
		e                   WebhookEndpoint
		previous            sql.NullString
		previousUntil, fail sql.NullTime
	)
	err := q.queryRow(ctx, `
		SELECT id, organization_id, url, enabled, secret, previous_secret, previous_secret_until, failing_since, disabled_reason
		FROM webhook_endpoints WHERE id = ?`, id).
		Scan(&e.ID, &e.OrganizationID, &e.URL, &e.Enabled, &e.Secret, &previous, &previousUntil, &fail, &e.DisabledReason)
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookEndpoint{}, ErrNotFound
	}
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("webhook endpoint %d: %w", id, err)
	}
	e.PreviousSecret, e.PreviousSecretUntil, e.FailingSince = previous.String, nullTime(previousUntil), nullTime(fail)
	return e, nil
}

const nextWebhookMessagesQuery = `
		SELECT m.id, m.endpoint_id, m.organization_id, m.event_id, m.event_type, m.subject, m.payload, m.status,
			m.attempts, m.next_attempt_at, m.created_at
		FROM webhook_messages m
		WHERE m.endpoint_id = ? AND m.status = 'pending' AND m.next_attempt_at <= ?
			AND (m.subject = '' OR NOT EXISTS (
				SELECT 1 FROM webhook_messages o
				WHERE o.endpoint_id = m.endpoint_id AND o.subject = m.subject AND o.id < m.id
					AND o.status <> 'delivered' AND o.status <> 'failed'))
		ORDER BY m.id LIMIT ?`

var sqliteNextWebhookMessagesQuery = strings.Replace(nextWebhookMessagesQuery,
	"FROM webhook_messages m\n", "FROM webhook_messages m INDEXED BY webhook_messages_pending_idx\n", 1)

// NextWebhookMessages returns up to limit pending messages of an endpoint
// that are due at now, in id order, each only when no older message of
// its subject is pending: messages about one subject go out one after
// another, in the order they were written.
//
// The subquery says "pending" as "neither delivered nor failed", the
// words of webhook_messages_unfinished_subject_idx's condition
// (migration 00038), so that no other partial index matches it. Said as
// "pending", webhook_messages_pending_idx answered it just as well by
// PostgreSQL's statistics, which see few pending messages, and read
// every older pending message of the endpoint for each message.
func (q *Queries) NextWebhookMessages(ctx context.Context, endpointID int64, now time.Time, limit int) ([]WebhookMessage, error) {
	query := nextWebhookMessagesQuery
	if q.dialect == SQLite {
		// Without statistics SQLite reads every endpoint's due messages
		// through webhook_messages_due_idx and sorts them, on each round.
		query = sqliteNextWebhookMessagesQuery
	}
	rs, err := q.query(ctx, query, endpointID, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("next webhooks of endpoint %d: %w", endpointID, err)
	}
	defer rs.Close()
	var list []WebhookMessage
	for rs.Next() {
		var m WebhookMessage
		if err := rs.Scan(&m.ID, &m.EndpointID, &m.OrganizationID, &m.EventID, &m.EventType, &m.Subject, &m.Payload, &m.Status,
			&m.Attempts, &m.NextAttemptAt, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("next webhooks of endpoint %d: %w", endpointID, err)
		}
		m.NextAttemptAt, m.CreatedAt = m.NextAttemptAt.UTC(), m.CreatedAt.UTC()
		list = append(list, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("next webhooks of endpoint %d: %w", endpointID, err)
	}
	return list, nil
}

// WebhookOutcome is what became of one attempt at sending a message: the
// attempt for the delivery log, and the message's status afterwards
// (pending again at NextAttemptAt, delivered or failed).
type WebhookOutcome struct {
	Attempt       WebhookAttempt
	Status        WebhookMessageStatus
	NextAttemptAt time.Time // for a message pending again
}

// RecordWebhookOutcome logs an attempt and moves its message on, unless
// the message is no longer pending (its organization deleted it, or it
// was recorded already); it reports whether it was.
func (q *Queries) RecordWebhookOutcome(ctx context.Context, o WebhookOutcome) (bool, error) {
	a := o.Attempt
	at := a.CreatedAt.UTC().Truncate(time.Microsecond)
	var finished any
	next := o.NextAttemptAt.UTC().Truncate(time.Microsecond)
	if o.Status != WebhookPending {
		finished, next = at, at
	}
	n, err := q.exec(ctx, `
		UPDATE webhook_messages SET status = ?, attempts = ?, next_attempt_at = ?, finished_at = ?
		WHERE id = ? AND status = 'pending'`, string(o.Status), a.Attempt, next, finished, a.MessageID)
	if err != nil || n == 0 {
		if err != nil {
			err = fmt.Errorf("record webhook %d attempt %d: %w", a.MessageID, a.Attempt, err)
		}
		return false, err
	}
	var code any
	if a.StatusCode != nil {
		code = *a.StatusCode
	}
	_, err = q.exec(ctx, `
		INSERT INTO webhook_attempts (message_id, endpoint_id, attempt, status_code, duration_ms, response, error, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.MessageID, a.EndpointID, a.Attempt, code, a.Duration.Milliseconds(), a.Response, a.Error, at)
	if err != nil {
		return false, fmt.Errorf("log webhook %d attempt %d: %w", a.MessageID, a.Attempt, err)
	}
	return true, nil
}

// RecordWebhookOutcomes records a round's outcomes as
// RecordWebhookOutcome records each, and returns how many it recorded:
// one statement for the round on PostgreSQL, two on SQLite, where two
// statements per message were most of what recording cost.
func (q *Queries) RecordWebhookOutcomes(ctx context.Context, outcomes []WebhookOutcome) (int, error) {
	if len(outcomes) == 0 {
		return 0, nil
	}
	if q.dialect != Postgres {
		return q.recordWebhookOutcomesSQLite(ctx, outcomes)
	}
	var (
		messages, endpoints, durations []int64
		attempts, codes                []int32
		statuses, responses, errs      []string
		nexts, ats                     []time.Time
	)
	for _, o := range outcomes {
		a := o.Attempt
		at := a.CreatedAt.UTC().Truncate(time.Microsecond)
		next := o.NextAttemptAt.UTC().Truncate(time.Microsecond)
		if o.Status != WebhookPending {
			next = at
		}
		code := int32(0) // no answer: NULL
		if a.StatusCode != nil {
			code = int32(*a.StatusCode)
		}
		messages, endpoints, durations = append(messages, a.MessageID), append(endpoints, a.EndpointID), append(durations, a.Duration.Milliseconds())
		attempts, codes = append(attempts, int32(a.Attempt)), append(codes, code)
		statuses, responses, errs = append(statuses, string(o.Status)), append(responses, a.Response), append(errs, a.Error)
		nexts, ats = append(nexts, next), append(ats, at)
	}
	n, err := q.exec(ctx, `
		WITH v AS (
			SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::int[], ?::text[], ?::timestamptz[], ?::timestamptz[], ?::int[], ?::bigint[], ?::text[], ?::text[])
				AS v (message_id, endpoint_id, attempt, status, next_attempt_at, at, status_code, duration_ms, response, error)),
		moved AS (
			UPDATE webhook_messages m SET status = v.status, attempts = v.attempt, next_attempt_at = v.next_attempt_at,
				finished_at = CASE WHEN v.status <> 'pending' THEN v.at END
			FROM v WHERE m.id = v.message_id AND m.status = 'pending'
			RETURNING m.id)
		INSERT INTO webhook_attempts (message_id, endpoint_id, attempt, status_code, duration_ms, response, error, created_at)
		SELECT v.message_id, v.endpoint_id, v.attempt, NULLIF(v.status_code, 0), v.duration_ms, v.response, v.error, v.at
		FROM v JOIN moved ON moved.id = v.message_id`,
		messages, endpoints, attempts, statuses, nexts, ats, codes, durations, responses, errs)
	if err != nil {
		return 0, fmt.Errorf("record %d webhook attempts: %w", len(outcomes), err)
	}
	return int(n), nil
}

// sqliteOutcome is an outcome as recordWebhookOutcomesSQLite passes it
// in JSON, times as the driver writes them, so that they compare alike.
type sqliteOutcome struct {
	MessageID  int64   `json:"m"`
	EndpointID int64   `json:"e"`
	Attempt    int     `json:"a"`
	Status     string  `json:"s"`
	Next       string  `json:"n"`
	Finished   *string `json:"f"`
	Code       *int    `json:"c"`
	DurationMS int64   `json:"d"`
	Response   string  `json:"r"`
	Error      string  `json:"x"`
	At         string  `json:"t"`
}

func (q *Queries) recordWebhookOutcomesSQLite(ctx context.Context, outcomes []WebhookOutcome) (int, error) {
	rows := make([]sqliteOutcome, len(outcomes))
	for i, o := range outcomes {
		a := o.Attempt
		at := a.CreatedAt.UTC().Truncate(time.Microsecond).Format(sqliteTimeLayout)
		r := sqliteOutcome{MessageID: a.MessageID, EndpointID: a.EndpointID, Attempt: a.Attempt, Status: string(o.Status),
			Next: o.NextAttemptAt.UTC().Truncate(time.Microsecond).Format(sqliteTimeLayout), Code: a.StatusCode,
			DurationMS: a.Duration.Milliseconds(), Response: a.Response, Error: a.Error, At: at}
		if o.Status != WebhookPending {
			r.Next, r.Finished = at, &at
		}
		rows[i] = r
	}
	list, err := json.Marshal(rows)
	if err != nil {
		return 0, fmt.Errorf("record %d webhook attempts: %w", len(outcomes), err)
	}
	// NOT INDEXED: otherwise SQLite reads the endpoint's pending messages
	// through webhook_messages_pending_idx and looks each up in the list,
	// where each of the list's should be looked up by id.
	rs, err := q.query(ctx, `
		UPDATE webhook_messages NOT INDEXED SET status = v.value ->> 's', attempts = v.value ->> 'a', next_attempt_at = v.value ->> 'n',
			finished_at = v.value ->> 'f'
		FROM json_each(?) AS v
		WHERE webhook_messages.id = v.value ->> 'm' AND webhook_messages.status = 'pending'
		RETURNING webhook_messages.id`, string(list))
	if err != nil {
		return 0, fmt.Errorf("record %d webhook attempts: %w", len(outcomes), err)
	}
	moved := map[int64]bool{}
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return 0, fmt.Errorf("record %d webhook attempts: %w", len(outcomes), err)
		}
		moved[id] = true
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, fmt.Errorf("record %d webhook attempts: %w", len(outcomes), err)
	}
	if len(moved) == 0 {
		return 0, nil
	}
	if len(moved) < len(rows) {
		// Only the messages still pending get their attempt logged.
		rows = slices.DeleteFunc(rows, func(r sqliteOutcome) bool { return !moved[r.MessageID] })
		if list, err = json.Marshal(rows); err != nil {
			return 0, fmt.Errorf("record %d webhook attempts: %w", len(outcomes), err)
		}
	}
	_, err = q.exec(ctx, `
		INSERT INTO webhook_attempts (message_id, endpoint_id, attempt, status_code, duration_ms, response, error, created_at)
		SELECT value ->> 'm', value ->> 'e', value ->> 'a', value ->> 'c', value ->> 'd', value ->> 'r', value ->> 'x', value ->> 't'
		FROM json_each(?) ORDER BY key`, string(list))
	if err != nil {
		return 0, fmt.Errorf("log %d webhook attempts: %w", len(rows), err)
	}
	return len(rows), nil
}

// SetWebhookEndpointFailing marks an endpoint failing since a time, unless
// it is already, and returns since when it fails.
func (q *Queries) SetWebhookEndpointFailing(ctx context.Context, id int64, since time.Time) (time.Time, error) {
	var from time.Time
	err := q.queryRow(ctx, `
		UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ? RETURNING failing_since`,
		since.UTC().Truncate(time.Microsecond), id).Scan(&from)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, ErrNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("mark webhook endpoint %d failing: %w", id, err)
	}
	return from.UTC(), nil
}

// ClearWebhookEndpointFailing marks an endpoint as delivering again.
func (q *Queries) ClearWebhookEndpointFailing(ctx context.Context, id int64) error {
	if _, err := q.exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL`, id); err != nil {
		return fmt.Errorf("mark webhook endpoint %d delivering: %w", id, err)
	}
	return nil
}

// DisableWebhookEndpoint turns an enabled endpoint off, saying why, and
// reports whether it was on.
func (q *Queries) DisableWebhookEndpoint(ctx context.Context, id int64, reason string, at time.Time) (bool, error) {
	n, err := q.exec(ctx, `UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled`,
		reason, at.UTC().Truncate(time.Microsecond), id)
	if err != nil {
		return false, fmt.Errorf("disable webhook endpoint %d: %w", id, err)
	}
	return n > 0, nil
}

// OrganizationAdminEmails returns the addresses of an organization's
// owner and admins whose accounts are active, in email order.
func (q *Queries) OrganizationAdminEmails(ctx context.Context, orgID int64) ([]string, error) {
	rs, err := q.query(ctx, `
		SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = ? AND m.role IN ('owner', 'admin') AND u.is_active
		ORDER BY u.email`, orgID)
	if err != nil {
		return nil, fmt.Errorf("admins of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []string
	for rs.Next() {
		var email string
		if err := rs.Scan(&email); err != nil {
			return nil, fmt.Errorf("admins of organization %d: %w", orgID, err)
		}
		list = append(list, email)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("admins of organization %d: %w", orgID, err)
	}
	return list, nil
}

// DeleteFinishedWebhookMessages deletes up to limit messages delivered or
// given up before a time, their attempts with them, and returns how many.
func (q *Queries) DeleteFinishedWebhookMessages(ctx context.Context, before time.Time, limit int) (int64, error) {
	n, err := q.exec(ctx, `
		DELETE FROM webhook_messages WHERE id IN (
			SELECT id FROM webhook_messages WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?)`,
		before.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete webhooks finished before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// NextWebhookMessagesPlan returns the plan of NextWebhookMessages' query
// for an endpoint, for the test that it reads the endpoint's pending
// messages only: SQLite's, or PostgreSQL's generic plan (pgx prepares the
// statement, and PostgreSQL settles on the generic plan after five runs).
func (db *DB) NextWebhookMessagesPlan(ctx context.Context, endpointID int64) (QueryPlan, error) {
	args := []any{endpointID, now(), 250}
	if db.dialect == SQLite {
		lines, err := sqlitePlan(ctx, db.Read(), sqliteNextWebhookMessagesQuery, args)
		return QueryPlan{Name: "SQLite query plan", Lines: lines}, err
	}
	q := db.Read()
	var lines []string
	err := db.InTx(ctx, func(tx *Queries) error {
		if _, err := tx.exec(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `PREPARE next_webhooks AS `+q.rebind(nextWebhookMessagesQuery)); err != nil {
			return err
		}
		var err error
		lines, err = textPlan(ctx, tx, `EXPLAIN EXECUTE next_webhooks(`+strconv.FormatInt(endpointID, 10)+`, now(), 250)`)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `DEALLOCATE next_webhooks`)
		return err
	})
	return QueryPlan{Name: "PostgreSQL generic plan", Lines: lines}, err
}
