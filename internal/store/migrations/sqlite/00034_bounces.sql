-- +goose Up
-- The bounce log: every bounce and complaint applied to an organization's
-- email, from any source. message_id and enrollment_id name the email and
-- the enrollment it belonged to while they exist. (source, source_id) is
-- unique, so a report read twice (two nodes polling one mailbox, a
-- provider retrying) is recorded once.
CREATE TABLE bounces (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    message_id      INTEGER REFERENCES mail_messages (id) ON DELETE SET NULL,
    enrollment_id   INTEGER REFERENCES enrollments (id) ON DELETE SET NULL,
    email           TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint')),
    diagnostic      TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    occurred_at     DATETIME NOT NULL,
    created_at      DATETIME NOT NULL,
    UNIQUE (source, source_id)
);
-- The log page, newest first.
CREATE INDEX bounces_organization_idx ON bounces (organization_id, id);
-- Soft bounces of an address counted within the window.
CREATE INDEX bounces_address_idx ON bounces (organization_id, email, kind, occurred_at);
-- The enrollment page's bounces; also what SET NULL looks up.
CREATE INDEX bounces_enrollment_idx ON bounces (enrollment_id);
CREATE INDEX bounces_message_idx ON bounces (message_id);

-- +goose Down
DROP TABLE bounces;
