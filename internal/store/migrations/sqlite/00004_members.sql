-- +goose Up
CREATE TABLE invitations (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    token_hash      TEXT NOT NULL UNIQUE,
    invited_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    expires_at      DATETIME NOT NULL,
    accepted_at     DATETIME,
    accepted_by     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    revoked_at      DATETIME
);
-- One open invitation per address and organization: inviting again
-- renews it.
CREATE UNIQUE INDEX invitations_open_idx ON invitations (organization_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    actor_id        INTEGER REFERENCES users (id) ON DELETE SET NULL,
    actor_email     TEXT NOT NULL,
    action          TEXT NOT NULL,
    target          TEXT NOT NULL DEFAULT '',
    target_user_id  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    old_value       TEXT NOT NULL DEFAULT '',
    new_value       TEXT NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL
);
CREATE INDEX audit_log_organization_idx ON audit_log (organization_id, id);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE invitations;
