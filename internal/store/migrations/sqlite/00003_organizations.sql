-- +goose Up
CREATE TABLE memberships (
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);
-- Exactly one owner per organization is enforced by the domain; at most one
-- is enforced here too.
CREATE UNIQUE INDEX memberships_one_owner_idx ON memberships (organization_id) WHERE role = 'owner';

CREATE TABLE organization_logos (
    organization_id    INTEGER PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    content_type       TEXT NOT NULL,
    data               BLOB NOT NULL,
    etag               TEXT NOT NULL,
    thumb_content_type TEXT NOT NULL,
    thumb              BLOB NOT NULL,
    thumb_etag         TEXT NOT NULL,
    updated_at         DATETIME NOT NULL
);

CREATE TABLE courses (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title           TEXT NOT NULL,
    title_key       TEXT NOT NULL,
    slug            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    enabled         BOOLEAN NOT NULL DEFAULT FALSE,
    public          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    UNIQUE (organization_id, title_key),
    UNIQUE (organization_id, slug)
);

-- +goose Down
DROP TABLE courses;
DROP TABLE organization_logos;
DROP TABLE memberships;
