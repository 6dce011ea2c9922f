-- +goose Up
-- An organization's members in the order its page lists them: the owner,
-- then admins, editors and viewers. The expression must stay the one that
-- store.OrganizationMembers orders by, or the index is not used.
CREATE INDEX memberships_rank_idx ON memberships (organization_id, (CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'editor' THEN 2 ELSE 3 END));

-- +goose Down
DROP INDEX memberships_rank_idx;
