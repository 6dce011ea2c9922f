-- +goose Up
-- A certificate an organization withdraws stays, marked revoked, so that
-- its public page says so rather than that it never existed. revoked_by
-- is the staff account that revoked it (NULL for an API key, or once the
-- account is deleted); revoked_by_name names them as the audit log does,
-- and outlives the account. The reason is for the organization's staff.
ALTER TABLE certificates ADD COLUMN revoked_at TIMESTAMPTZ;
ALTER TABLE certificates ADD COLUMN revoked_by BIGINT REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE certificates ADD COLUMN revoked_by_name TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN revocation_reason TEXT NOT NULL DEFAULT '';
-- The staff's list: an organization's certificates, newest first.
CREATE INDEX certificates_organization_created_idx ON certificates (organization_id, created_at, id);
DROP INDEX certificates_organization_idx;

-- +goose Down
CREATE INDEX certificates_organization_idx ON certificates (organization_id);
DROP INDEX certificates_organization_created_idx;
ALTER TABLE certificates DROP COLUMN revocation_reason;
ALTER TABLE certificates DROP COLUMN revoked_by_name;
ALTER TABLE certificates DROP COLUMN revoked_by;
ALTER TABLE certificates DROP COLUMN revoked_at;
