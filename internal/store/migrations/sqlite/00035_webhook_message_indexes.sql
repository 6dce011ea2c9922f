-- +goose Up
-- Every message is written once and updated at least once, and each index
-- of the table is written with it (on PostgreSQL an update writes a new
-- entry in each index). Nothing reads messages by creation time, and the
-- pass looks for pending messages alone: due_idx keeps those only, so a
-- delivered message leaves it rather than moving within it.
DROP INDEX webhook_messages_created_idx;
DROP INDEX webhook_messages_due_idx;
CREATE INDEX webhook_messages_due_idx ON webhook_messages (next_attempt_at) WHERE status = 'pending';

-- +goose Down
DROP INDEX webhook_messages_due_idx;
CREATE INDEX webhook_messages_due_idx ON webhook_messages (status, next_attempt_at);
CREATE INDEX webhook_messages_created_idx ON webhook_messages (created_at);
