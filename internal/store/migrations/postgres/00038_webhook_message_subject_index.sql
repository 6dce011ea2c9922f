-- +goose Up
-- The dispatcher keeps the first pending message of each subject itself,
-- from the endpoint's pending messages in id order: nothing reads this
-- index any more, and each message written wrote an entry in it.
DROP INDEX webhook_messages_pending_subject_idx;

-- +goose Down
CREATE INDEX webhook_messages_pending_subject_idx ON webhook_messages (endpoint_id, subject, id) WHERE status = 'pending';
