-- +goose Up
-- Self-service sign-ups. Nothing else exists until the address is
-- confirmed: a row holds what the form gave (the password only as its
-- hash) and, once its email is sent, the SHA-256 of the link's token.
-- Confirming creates the user and the organization and records them here,
-- which is the platform's list of sign-ups.
CREATE TABLE signups (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    email             TEXT NOT NULL,
    name              TEXT NOT NULL,
    password_hash     TEXT NOT NULL,
    organization_name TEXT NOT NULL,
    token_hash        TEXT UNIQUE,
    created_at        DATETIME NOT NULL,
    expires_at        DATETIME NOT NULL,
    confirmed_at      DATETIME,
    user_id           INTEGER REFERENCES users (id) ON DELETE SET NULL,
    organization_id   INTEGER REFERENCES organizations (id) ON DELETE SET NULL
);
CREATE INDEX signups_confirmed_idx ON signups (confirmed_at, id);

-- +goose Down
DROP TABLE signups;
