-- +goose Up
-- Whose a login session is, so that people can see their sessions and end
-- the others. Written with the session: user_id and user_epoch (the
-- user's session epoch at login) are NULL and 0 for an anonymous one; a
-- session whose epoch is no longer the user's has ended. Not a foreign
-- key: users are deactivated, never deleted, and a session row goes with
-- its expiry. Sessions written before this migration have no owner until
-- they are written again.
ALTER TABLE sessions ADD COLUMN user_id INTEGER;
ALTER TABLE sessions ADD COLUMN user_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN created_at DATETIME;
ALTER TABLE sessions ADD COLUMN last_seen_at DATETIME;
-- A short description of the browser ("Firefox on Linux"), not the whole
-- User-Agent header.
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- +goose Down
DROP INDEX sessions_user_idx;
ALTER TABLE sessions DROP COLUMN user_id;
ALTER TABLE sessions DROP COLUMN user_epoch;
ALTER TABLE sessions DROP COLUMN created_at;
ALTER TABLE sessions DROP COLUMN last_seen_at;
ALTER TABLE sessions DROP COLUMN user_agent;
