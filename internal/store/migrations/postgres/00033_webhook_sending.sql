-- +goose Up
-- The dispatcher takes an endpoint's pending messages in id order, each
-- only once no older message of its subject is pending: both lookups read
-- pending messages alone, however many delivered ones the endpoint has.
CREATE INDEX webhook_messages_pending_idx ON webhook_messages (endpoint_id, id) WHERE status = 'pending';
CREATE INDEX webhook_messages_pending_subject_idx ON webhook_messages (endpoint_id, subject, id) WHERE status = 'pending';
-- The daily sweep deletes messages finished 30 days ago.
CREATE INDEX webhook_messages_finished_idx ON webhook_messages (finished_at) WHERE finished_at IS NOT NULL;

-- +goose Down
DROP INDEX webhook_messages_finished_idx;
DROP INDEX webhook_messages_pending_subject_idx;
DROP INDEX webhook_messages_pending_idx;
