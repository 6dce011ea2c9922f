-- +goose Up
-- A random key per enrollment that its emailed links (unsubscribe,
-- certificate claim, quiz pages) are signed with, beside the id: a link
-- names one row for good, whatever becomes of rows deleted or added
-- later. Links signed before this migration stop working.
ALTER TABLE enrollments ADD COLUMN link_key TEXT NOT NULL DEFAULT '';
UPDATE enrollments SET link_key = lower(hex(randomblob(16)));

-- +goose Down
ALTER TABLE enrollments DROP COLUMN link_key;
