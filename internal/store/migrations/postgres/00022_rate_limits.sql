-- +goose Up
-- Rate limits that every node counts together (used on PostgreSQL; SQLite
-- installs run one node and keep their limits in memory). One row per
-- limit and key (a SHA-256 of an address, an account, an API key id):
-- tat is the "theoretical arrival time" of the generic cell rate
-- algorithm, in microseconds since 1970 UTC, or for a mark the time it
-- ends. A row whose tat has passed says nothing a missing row does not,
-- so it may be swept.
CREATE TABLE rate_limits (
    name TEXT NOT NULL,
    key  TEXT NOT NULL,
    tat  BIGINT NOT NULL,
    PRIMARY KEY (name, key)
);

-- +goose Down
DROP TABLE rate_limits;
