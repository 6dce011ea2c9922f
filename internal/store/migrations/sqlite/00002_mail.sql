-- +goose Up
CREATE TABLE mail_messages (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER REFERENCES organizations (id) ON DELETE CASCADE,
    kind                TEXT NOT NULL,
    sender              TEXT NOT NULL,
    recipient           TEXT NOT NULL,
    subject             TEXT NOT NULL,
    message_id          TEXT NOT NULL UNIQUE,
    raw                 BLOB NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'stored', 'failed')),
    transport           TEXT NOT NULL DEFAULT '',
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT NOT NULL DEFAULT '',
    provider_message_id TEXT NOT NULL DEFAULT '',
    created_at          DATETIME NOT NULL,
    updated_at          DATETIME NOT NULL,
    sent_at             DATETIME
);
CREATE INDEX mail_messages_organization_idx ON mail_messages (organization_id);

-- +goose Down
DROP TABLE mail_messages;
