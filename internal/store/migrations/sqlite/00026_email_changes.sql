-- +goose Up
-- Changes of a user's address waiting for the link sent to the new one.
-- Only the SHA-256 of each token is stored. used_at is set when the link is
-- used, and on the user's other waiting changes at the same moment.
CREATE TABLE email_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    new_email  TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME
);
CREATE INDEX email_changes_user_idx ON email_changes (user_id, created_at);
CREATE INDEX email_changes_new_email_idx ON email_changes (new_email, created_at);

-- +goose Down
DROP TABLE email_changes;
