-- +goose Up
-- A message waits while an older message of its endpoint and subject is
-- pending. Asked with "status = 'pending'", that could be answered from
-- webhook_messages_pending_idx as well as from the index by subject, and
-- PostgreSQL, whose statistics see few pending messages, chose the first:
-- every older pending message of the endpoint read for each message.
-- The index by subject now keeps the same rows (by the status CHECK)
-- under a condition worded apart, "neither delivered nor failed", which
-- the question uses and no other partial index's condition matches.
DROP INDEX webhook_messages_pending_subject_idx;
CREATE INDEX webhook_messages_unfinished_subject_idx ON webhook_messages (endpoint_id, subject, id)
    WHERE status <> 'delivered' AND status <> 'failed';

-- +goose Down
DROP INDEX webhook_messages_unfinished_subject_idx;
CREATE INDEX webhook_messages_pending_subject_idx ON webhook_messages (endpoint_id, subject, id) WHERE status = 'pending';
