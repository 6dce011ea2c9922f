-- +goose Up
-- The emails an organization recorded lately, for the platform home's
-- count of what went out in the last 24 hours. created_at never changes,
-- so the index costs the send's status updates nothing.
CREATE INDEX mail_messages_organization_created_idx ON mail_messages (organization_id, created_at);

-- +goose Down
DROP INDEX mail_messages_organization_created_idx;
