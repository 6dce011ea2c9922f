package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Mail statuses: queued until a transport takes the message; then sent
// (handed to an SMTP server), stored (kept in the built-in outbox), or
// failed (refused for good, or out of attempts).
const (
	MailQueued = "queued"
	MailSent   = "sent"
	MailStored = "stored"
	MailFailed = "failed"
)

// MailMessage is one outgoing email and what became of it.
type MailMessage struct {
	ID                int64
	OrganizationID    *int64 // nil for platform emails
	Kind              string
	Sender            string // envelope sender
	Recipient         string
	Subject           string
	MessageID         string // the Message-ID header, without angle brackets
	Raw               []byte // the complete MIME source; empty in listings
	Status            string
	Transport         string // "smtp" or "outbox" once attempted
	Attempts          int
	LastError         string
	ProviderMessageID string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	SentAt            *time.Time
	// EnrollmentID is the enrollment whose course the email is part of,
	// or nil: an enrollment's emails go out in the order recorded.
	EnrollmentID *int64
	// RetryAt is when a queued message that failed for now is tried again.
	RetryAt *time.Time
	// WaitsFor, read only with a message to send, is the queued email of
	// the same enrollment recorded just before it, which must go out (or
	// fail for good) first; 0 when there is none.
	WaitsFor int64
}

// NewMailMessage holds the fields of a message to record.
type NewMailMessage struct {
	OrganizationID *int64
	Kind           string
	Sender         string
	Recipient      string
	Subject        string
	MessageID      string
	Raw            []byte
	EnrollmentID   *int64
}

const mailSummaryColumns = `id, organization_id, kind, sender, recipient, subject, message_id, status, transport,
	attempts, last_error, provider_message_id, created_at, updated_at, sent_at, enrollment_id, retry_at`

// mailToSendColumns are a message's columns with its source and the
// queued email of its enrollment before it, for sending.
const mailToSendColumns = mailSummaryColumns + `, raw,
	(SELECT MAX(p.id) FROM mail_messages p
	 WHERE p.enrollment_id = mail_messages.enrollment_id AND p.status = 'queued' AND p.id < mail_messages.id)`

func scanMailMessage(r row, toSend bool) (MailMessage, error) {
	var (
		m          MailMessage
		org        sql.NullInt64
		sentAt     sql.NullTime
		enrollment sql.NullInt64
		retryAt    sql.NullTime
		waitsFor   sql.NullInt64
	)
	dest := []any{&m.ID, &org, &m.Kind, &m.Sender, &m.Recipient, &m.Subject, &m.MessageID, &m.Status, &m.Transport,
		&m.Attempts, &m.LastError, &m.ProviderMessageID, &m.CreatedAt, &m.UpdatedAt, &sentAt, &enrollment, &retryAt}
	if toSend {
		dest = append(dest, &m.Raw, &waitsFor)
	}
	if err := r.Scan(dest...); err != nil {
		return MailMessage{}, err
	}
	if org.Valid {
		m.OrganizationID = &org.Int64
	}
	if enrollment.Valid {
		m.EnrollmentID = &enrollment.Int64
	}
	if retryAt.Valid {
		t := retryAt.Time.UTC()
		m.RetryAt = &t
	}
	m.WaitsFor = waitsFor.Int64
	if sentAt.Valid {
		t := sentAt.Time.UTC()
		m.SentAt = &t
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, nil
}

// CreateMailMessage records a queued message.
func (q *Queries) CreateMailMessage(ctx context.Context, nm NewMailMessage) (MailMessage, error) {
	t := now()
	m, err := scanMailMessage(q.queryRow(ctx, `
		INSERT INTO mail_messages (organization_id, kind, sender, recipient, subject, message_id, raw, status, created_at, updated_at, enrollment_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING `+mailSummaryColumns,
		nm.OrganizationID, nm.Kind, nm.Sender, nm.Recipient, nm.Subject, nm.MessageID, nm.Raw, MailQueued, t, t, nm.EnrollmentID), false)
	if err != nil {
		return MailMessage{}, fmt.Errorf("record %s email to %s: %w", nm.Kind, nm.Recipient, err)
	}
	m.Raw = nm.Raw
	return m, nil
}

// MailMessageByID returns a message with its source and the email it
// waits for, or ErrNotFound.
func (q *Queries) MailMessageByID(ctx context.Context, id int64) (MailMessage, error) {
	m, err := scanMailMessage(q.queryRow(ctx, `SELECT `+mailToSendColumns+` FROM mail_messages WHERE id = ?`, id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return MailMessage{}, ErrNotFound
	}
	if err != nil {
		return MailMessage{}, fmt.Errorf("email %d: %w", id, err)
	}
	return m, nil
}

// MailMessagesToSend returns those of the messages, with their source,
// that are queued and were never tried, in the order recorded, each with
// the email it waits for: a message tried before is either done or
// waiting for a retry of its own.
func (q *Queries) MailMessagesToSend(ctx context.Context, ids []int64) ([]MailMessage, error) {
	in, list := q.idIn("id", ids)
	return q.mailMessages(ctx, "emails to send", true, `SELECT `+mailToSendColumns+` FROM mail_messages
		WHERE status = ? AND attempts = 0 AND `+in+` ORDER BY id`, MailQueued, list)
}

// ListMailMessages returns up to limit messages without their source,
// newest first, starting below the id before (0: from the newest).
func (q *Queries) ListMailMessages(ctx context.Context, before int64, limit int) ([]MailMessage, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	return q.mailMessages(ctx, "list emails", false,
		`SELECT `+mailSummaryColumns+` FROM mail_messages WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
}

func (q *Queries) mailMessages(ctx context.Context, what string, toSend bool, query string, args ...any) ([]MailMessage, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rs.Close()
	var list []MailMessage
	for rs.Next() {
		m, err := scanMailMessage(rs, toSend)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		list = append(list, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return list, nil
}

// MailAttempt is the outcome of one try to send a message.
type MailAttempt struct {
	Status            string // MailQueued (will retry), MailSent, MailStored or MailFailed
	Transport         string
	Error             string
	ProviderMessageID string
	RetryAt           time.Time // for MailQueued
	// Sender is the envelope sender the attempt used, recorded in place of
	// the one before; empty keeps it.
	Sender string
}

// RecordMailAttempt counts an attempt and stores its outcome; a success
// keeps the error of the attempt before it, for the record. Only a queued
// message changes, so an attempt never undoes a finished one; the result
// reports whether the message changed.
func (q *Queries) RecordMailAttempt(ctx context.Context, id int64, a MailAttempt) (bool, error) {
	changed, err := q.RecordMailAttempts(ctx, []RecordedAttempt{{MessageID: id, Attempt: a}})
	if err != nil {
		return false, err
	}
	return changed[0], nil
}

// RecordedAttempt is an attempt to send a message, to be recorded.
type RecordedAttempt struct {
	MessageID int64
	Attempt   MailAttempt
}

// RecordMailAttempts records several attempts as RecordMailAttempt does
// each; changed[i] reports whether the message of list[i] changed.
func (q *Queries) RecordMailAttempts(ctx context.Context, list []RecordedAttempt) (changed []bool, err error) {
	t := now()
	var moved []movedMail
	if q.dialect == Postgres && len(list) > 1 && distinctMessages(list) {
		moved, err = q.recordMailAttemptsPostgres(ctx, list, t)
	} else {
		moved, err = q.recordMailAttemptsEach(ctx, list, t)
	}
	if err != nil {
		return nil, err
	}
	changed = make([]bool, len(list))
	for _, m := range moved {
		changed[m.index] = true
		if !m.orgID.Valid {
			continue // the platform's own email: in no organization's report
		}
		// The email report's counters: each try after the first is a
		// retry, and the final outcome counts once.
		var metrics []string
		if m.attempts > 1 {
			metrics = append(metrics, MailMetricRetried+m.kind)
		}
		switch list[m.index].Attempt.Status {
		case MailSent, MailStored:
			metrics = append(metrics, MailMetricSent+m.kind)
		case MailFailed:
			metrics = append(metrics, MailMetricFailed+m.kind)
		}
		for _, metric := range metrics {
			if err := q.CountDaily(ctx, m.orgID.Int64, t, metric, 1); err != nil {
				return nil, fmt.Errorf("record attempt of email %d: %w", list[m.index].MessageID, err)
			}
		}
	}
	return changed, nil
}

// movedMail is a message an attempt changed: the attempt's index in its
// list, and the message's organization, kind and attempts so far.
type movedMail struct {
	index    int
	orgID    sql.NullInt64
	kind     string
	attempts int
}

// distinctMessages reports whether no message has two attempts in list.
func distinctMessages(list []RecordedAttempt) bool {
	seen := make(map[int64]bool, len(list))
	for _, r := range list {
		if seen[r.MessageID] {
			return false
		}
		seen[r.MessageID] = true
	}
	return true
}

// recordMailAttemptsEach records the attempts one statement each, in
// order: of two attempts at one message, the second sees the first's
// outcome.
func (q *Queries) recordMailAttemptsEach(ctx context.Context, list []RecordedAttempt, t time.Time) ([]movedMail, error) {
	var moved []movedMail
	for i, r := range list {
		a := r.Attempt
		m := movedMail{index: i}
		err := q.queryRow(ctx, `
			UPDATE mail_messages
			SET status = ?, transport = ?, attempts = attempts + 1, last_error = COALESCE(NULLIF(?, ''), last_error),
			    provider_message_id = ?, sender = COALESCE(NULLIF(?, ''), sender),
			    sent_at = ?, updated_at = ?, retry_at = ?
			WHERE id = ? AND status = ?
			RETURNING organization_id, kind, attempts`,
			a.Status, a.Transport, a.Error, a.ProviderMessageID, a.Sender, mailSentAt(a, t), t, mailRetryAt(a), r.MessageID, MailQueued).
			Scan(&m.orgID, &m.kind, &m.attempts)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("record attempt of email %d: %w", r.MessageID, err)
		}
		moved = append(moved, m)
	}
	return moved, nil
}

// recordMailAttemptsPostgres records attempts at distinct messages in one
// statement: a node records its emails' outcomes in groups, and one
// statement per email was a round trip to the server for each.
func (q *Queries) recordMailAttemptsPostgres(ctx context.Context, list []RecordedAttempt, t time.Time) ([]movedMail, error) {
	var (
		ids                                              []int64
		statuses, transports, errs, providerIDs, senders []string
		sentAts, retryAts                                []*time.Time
	)
	for _, r := range list {
		a := r.Attempt
		ids, statuses, transports = append(ids, r.MessageID), append(statuses, a.Status), append(transports, a.Transport)
		errs, providerIDs, senders = append(errs, a.Error), append(providerIDs, a.ProviderMessageID), append(senders, a.Sender)
		sentAts, retryAts = append(sentAts, mailSentAt(a, t)), append(retryAts, mailRetryAt(a))
	}
	rs, err := q.query(ctx, `
		UPDATE mail_messages m
		SET status = v.status, transport = v.transport, attempts = m.attempts + 1,
		    last_error = COALESCE(NULLIF(v.error, ''), m.last_error), provider_message_id = v.provider_message_id,
		    sender = COALESCE(NULLIF(v.sender, ''), m.sender), sent_at = v.sent_at, updated_at = ?, retry_at = v.retry_at
		FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::timestamptz[])
			WITH ORDINALITY AS v (id, status, transport, error, provider_message_id, sender, sent_at, retry_at, n)
		WHERE m.id = v.id AND m.status = ?
		RETURNING v.n, m.organization_id, m.kind, m.attempts`,
		t, ids, statuses, transports, errs, providerIDs, senders, sentAts, retryAts, MailQueued)
	if err != nil {
		return nil, fmt.Errorf("record %d email attempts: %w", len(list), err)
	}
	defer rs.Close()
	var moved []movedMail
	for rs.Next() {
		var m movedMail
		var n int64
		if err := rs.Scan(&n, &m.orgID, &m.kind, &m.attempts); err != nil {
			return nil, fmt.Errorf("record %d email attempts: %w", len(list), err)
		}
		m.index = int(n - 1)
		moved = append(moved, m)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("record %d email attempts: %w", len(list), err)
	}
	return moved, nil
}

// mailSentAt is when an attempt sent its message: t for one that did,
// nil otherwise.
func mailSentAt(a MailAttempt, t time.Time) *time.Time {
	if a.Status == MailSent || a.Status == MailStored {
		return &t
	}
	return nil
}

// mailRetryAt is when a message an attempt left queued is tried again;
// nil for one that went out or failed for good.
func mailRetryAt(a MailAttempt) *time.Time {
	if a.Status != MailQueued {
		return nil
	}
	r := dbTime(a.RetryAt)
	return &r
}

// The prefixes of the email report's metrics in report_daily, followed by
// the email's kind.
const (
	MailMetricSent    = "mail_sent:"
	MailMetricFailed  = "mail_failed:"
	MailMetricRetried = "mail_retried:"
)

// CountRecentMail counts the emails of the given kinds that an
// organization had recorded to an address after a time.
func (q *Queries) CountRecentMail(ctx context.Context, orgID int64, recipient string, kinds []string, since time.Time) (int, error) {
	if len(kinds) == 0 {
		return 0, nil
	}
	args := []any{orgID, recipient, dbTime(since)}
	for _, k := range kinds {
		args = append(args, k)
	}
	var n int
	err := q.queryRow(ctx, `SELECT count(*) FROM mail_messages
		WHERE organization_id = ? AND recipient = ? AND created_at > ? AND kind IN (?`+strings.Repeat(", ?", len(kinds)-1)+`)`,
		args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recent mail of organization %d to %s: %w", orgID, recipient, err)
	}
	return n, nil
}
