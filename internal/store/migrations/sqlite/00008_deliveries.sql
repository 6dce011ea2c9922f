-- +goose Up
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    enrollment_id   INTEGER NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    content_id      INTEGER NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
    -- A failed quiz is sent again as attempt 2.
    attempt         INTEGER NOT NULL DEFAULT 1,
    due_at          DATETIME NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('scheduled', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    sent_at         DATETIME,
    mail_message_id INTEGER REFERENCES mail_messages (id) ON DELETE SET NULL,
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    UNIQUE (enrollment_id, content_id, attempt)
);
-- The delivery pass looks for scheduled rows that are due.
CREATE INDEX deliveries_due_idx ON deliveries (status, due_at);

-- +goose Down
DROP TABLE deliveries;
