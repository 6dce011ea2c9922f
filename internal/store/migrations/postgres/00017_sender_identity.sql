-- +goose Up
-- How an organization signs the emails that speak for it to its learners:
-- the From display name (empty: the organization's name), the Reply-To
-- address and the postal address of the footer (empty: none).
ALTER TABLE organizations ADD COLUMN sender_name TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN reply_to TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN postal_address TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE organizations DROP COLUMN sender_name;
ALTER TABLE organizations DROP COLUMN reply_to;
ALTER TABLE organizations DROP COLUMN postal_address;
