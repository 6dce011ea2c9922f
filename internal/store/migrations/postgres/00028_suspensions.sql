-- +goose Up
-- A platform admin may suspend an organization: its staff are refused,
-- its public pages are gone, and its deliveries are held until it is
-- resumed. The reason is for platform admins only.
ALTER TABLE organizations
    ADD COLUMN suspended_at TIMESTAMPTZ,
    ADD COLUMN suspended_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN suspension_reason TEXT NOT NULL DEFAULT '';

-- Deliveries gain the status 'held' (an organization's pending deliveries
-- while it is suspended).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check,
    ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('scheduled', 'sending', 'sent', 'failed', 'cancelled', 'held'));

-- +goose Down
UPDATE deliveries SET status = 'scheduled' WHERE status = 'held';
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check,
    ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('scheduled', 'sending', 'sent', 'failed', 'cancelled'));
ALTER TABLE organizations
    DROP COLUMN suspension_reason,
    DROP COLUMN suspended_by,
    DROP COLUMN suspended_at;
