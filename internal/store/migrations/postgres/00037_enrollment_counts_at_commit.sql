-- +goose Up
-- The counts of a course's enrollments by status are written when the
-- transaction commits rather than when a status changes. Every completion
-- of a course changes the same two rows; a delivery batch that completes
-- its first enrollment held their locks until it committed, so the other
-- batches of the course waited for it, each in turn. Deferred, the locks
-- are held for the commit only. (SQLite has one writer: nothing to gain.)
DROP TRIGGER enrollment_counts_update ON enrollments;
DROP TRIGGER enrollment_counts_insert_delete ON enrollments;
CREATE CONSTRAINT TRIGGER enrollment_counts_insert_delete AFTER INSERT OR DELETE ON enrollments
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION enrollment_counts_follow();
CREATE CONSTRAINT TRIGGER enrollment_counts_update AFTER UPDATE OF status ON enrollments
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION enrollment_counts_follow();

-- +goose Down
DROP TRIGGER enrollment_counts_update ON enrollments;
DROP TRIGGER enrollment_counts_insert_delete ON enrollments;
CREATE TRIGGER enrollment_counts_insert_delete AFTER INSERT OR DELETE ON enrollments
    FOR EACH ROW EXECUTE FUNCTION enrollment_counts_follow();
CREATE TRIGGER enrollment_counts_update AFTER UPDATE OF status ON enrollments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION enrollment_counts_follow();
