-- +goose Up
-- A session ended by its user from another one keeps its row, marked, until
-- it expires: a request of that session still under way writes the row
-- again when it ends, and would bring a deleted row back to life.
ALTER TABLE sessions ADD COLUMN ended_at DATETIME;
-- The address the session was last used from, shown to its user.
ALTER TABLE sessions ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN ended_at;
ALTER TABLE sessions DROP COLUMN client_ip;
