-- +goose Up
-- Keys that scripts use for the API, each acting with its role in its
-- organization (organization_id NULL: a platform key, for platform
-- actions). Only the SHA-256 of the secret is stored. A revoked key stays,
-- so that its use is told apart from an unknown key's; the keys go with
-- their organization. created_by is who made the key: the key belongs to
-- the organization and outlives that account's membership.
CREATE TABLE api_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id INTEGER REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,
    created_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    creator_email   TEXT NOT NULL,
    created_at      DATETIME NOT NULL,
    expires_at      DATETIME,
    revoked_at      DATETIME,
    last_used_at    DATETIME,
    last_used_ip    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX api_keys_organization_idx ON api_keys (organization_id, id);

-- +goose Down
DROP TABLE api_keys;
