-- +goose Up
-- The enrollment an email belongs to: its emails go out in the order they
-- were recorded, each only once the one before it is no longer queued.
-- Not a foreign key: the email outlives nothing it names, and ids are
-- never reused.
ALTER TABLE mail_messages ADD COLUMN enrollment_id BIGINT;
-- When a queued email that failed for now is tried again: what a later
-- email of its enrollment waits for.
ALTER TABLE mail_messages ADD COLUMN retry_at TIMESTAMPTZ;
CREATE INDEX mail_messages_enrollment_idx ON mail_messages (enrollment_id, id);

-- +goose Down
DROP INDEX mail_messages_enrollment_idx;
ALTER TABLE mail_messages DROP COLUMN enrollment_id;
ALTER TABLE mail_messages DROP COLUMN retry_at;
