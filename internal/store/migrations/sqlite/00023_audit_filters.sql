-- +goose Up
-- The audit log's filters, each read newest first: by event kind, by
-- actor, and by time.
CREATE INDEX audit_log_action_idx ON audit_log (organization_id, action, id);
CREATE INDEX audit_log_actor_idx ON audit_log (organization_id, actor_email, id);
CREATE INDEX audit_log_created_idx ON audit_log (organization_id, created_at);

-- +goose Down
DROP INDEX audit_log_created_idx;
DROP INDEX audit_log_actor_idx;
DROP INDEX audit_log_action_idx;
