-- +goose Up
-- Nothing looks a message up by its event id, and event ids are random: each
-- message written went to a random page of this index (on PostgreSQL each
-- update of the message too), a page read and written back per message once
-- the index outgrew the cache.
DROP INDEX webhook_messages_event_idx;

-- +goose Down
CREATE UNIQUE INDEX webhook_messages_event_idx ON webhook_messages (endpoint_id, event_id);
