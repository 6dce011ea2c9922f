-- +goose Up
-- How many emails an organization had sent to an address lately: the
-- limit on the emails its staff can make the platform send.
CREATE INDEX mail_messages_organization_recipient_idx ON mail_messages (organization_id, recipient, created_at);
DROP INDEX mail_messages_organization_idx;

-- +goose Down
CREATE INDEX mail_messages_organization_idx ON mail_messages (organization_id);
DROP INDEX mail_messages_organization_recipient_idx;
