-- +goose Up
-- Webhook endpoints: where an organization's events are posted. events is
-- the subscribed event types separated by spaces, or '*' for all. The
-- secret signs each request (Standard Webhooks, 'whsec_' + base64); after a
-- rotation the previous one signs too until previous_secret_until.
-- failing_since is when the current run of failed deliveries began (NULL
-- while the last one succeeded): an endpoint failing for five days is
-- disabled, and disabled_reason says why.
CREATE TABLE webhook_endpoints (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id       INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    events                TEXT NOT NULL,
    enabled               BOOLEAN NOT NULL DEFAULT TRUE,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until DATETIME,
    failing_since         DATETIME,
    disabled_reason       TEXT NOT NULL DEFAULT '',
    created_by            INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at            DATETIME NOT NULL,
    updated_at            DATETIME NOT NULL
);
CREATE INDEX webhook_endpoints_organization_idx ON webhook_endpoints (organization_id, id);

-- One message per event and endpoint, written in the transaction of the
-- change it tells of. event_id is the webhook-id header, the same on every
-- attempt. Messages of one endpoint and one subject (an enrollment:
-- 'enrollment:<id>'; '' for none) are delivered in id order.
CREATE TABLE webhook_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    subject         TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL,
    created_at      DATETIME NOT NULL,
    finished_at     DATETIME
);
CREATE UNIQUE INDEX webhook_messages_event_idx ON webhook_messages (endpoint_id, event_id);
CREATE INDEX webhook_messages_due_idx ON webhook_messages (status, next_attempt_at);
CREATE INDEX webhook_messages_endpoint_idx ON webhook_messages (endpoint_id, id);
CREATE INDEX webhook_messages_created_idx ON webhook_messages (created_at);

-- The delivery log: one row per attempt, kept 30 days with its message.
-- status_code is NULL when no answer came (error says what happened);
-- response holds the answer's first 1 KiB.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  INTEGER NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    response    TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_message_idx ON webhook_attempts (message_id, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
