-- +goose Up
-- Learners are the people who enroll in an organization's courses: an
-- address per organization, stored normalized (trimmed, lower case), so the
-- UNIQUE constraint is case-insensitive.
CREATE TABLE learners (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    UNIQUE (organization_id, email)
);

-- One enrollment per learner and course; enrolling again reuses the row.
-- Only the SHA-256 of the confirmation token is stored. Once the link is
-- used, its hash moves from confirm_token_hash to confirmed_token_hash, so
-- the link works once and a second click is told it was used rather than
-- that it never existed. confirm_sent_at is when the last confirmation or
-- reminder email went out: the throttle that keeps repeated requests from
-- flooding the inbox. requested_ip and confirmed_ip are the evidence of the
-- double opt-in.
CREATE TABLE enrollments (
    id                   INTEGER PRIMARY KEY,
    organization_id      INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    course_id            INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    learner_id           INTEGER NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    status               TEXT NOT NULL CHECK (status IN ('unverified', 'active', 'completed', 'failed', 'cancelled', 'unsubscribed')),
    confirm_token_hash   TEXT UNIQUE,
    confirm_expires_at   DATETIME,
    confirm_sent_at      DATETIME,
    confirmed_token_hash TEXT UNIQUE,
    requested_ip         TEXT NOT NULL DEFAULT '',
    confirmed_ip         TEXT NOT NULL DEFAULT '',
    activated_at         DATETIME,
    ended_at             DATETIME,
    created_at           DATETIME NOT NULL,
    updated_at           DATETIME NOT NULL,
    UNIQUE (course_id, learner_id)
);
CREATE INDEX enrollments_organization_status_idx ON enrollments (organization_id, status);
CREATE INDEX enrollments_learner_idx ON enrollments (learner_id);

-- Addresses that are never mailed: an organization's own list, and the
-- platform-wide one (organization_id NULL), each address at most once.
CREATE TABLE blocked_emails (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    created_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      DATETIME NOT NULL
);
CREATE UNIQUE INDEX blocked_emails_organization_idx ON blocked_emails (organization_id, email) WHERE organization_id IS NOT NULL;
CREATE UNIQUE INDEX blocked_emails_platform_idx ON blocked_emails (email) WHERE organization_id IS NULL;

-- +goose Down
DROP TABLE blocked_emails;
DROP TABLE enrollments;
DROP TABLE learners;
