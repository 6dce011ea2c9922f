-- +goose Up
-- An owner's offer to hand the organization to another member, who
-- becomes the owner only by accepting it: at most one per organization.
-- It ends with the organization, with the account it names, and (by the
-- domain) when that account leaves.
CREATE TABLE ownership_offers (
    organization_id INTEGER PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    offered_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      DATETIME NOT NULL
);

-- +goose Down
DROP TABLE ownership_offers;
