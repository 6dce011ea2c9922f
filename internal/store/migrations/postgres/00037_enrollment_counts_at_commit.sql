-- +goose Up
-- The counts of a course's enrollments by status are written when the
-- transaction commits rather than when a status changes. Every completion
-- of a course changes the same two rows; a delivery batch that completes
-- its first enrollment held their locks until it committed, so the other
-- batches of the course waited for it, each in turn. Deferred, the locks
-- are held for the commit only. (SQLite has one writer: nothing to gain.)
--
-- Run at commit, the trigger may follow the deletion of the course in the
-- same transaction, which took its counters along: it then counts nothing
-- rather than write a counter of a course that is gone.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION enrollment_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status < OLD.status OR TG_OP = 'INSERT' THEN
        INSERT INTO enrollment_counts (organization_id, course_id, status, n)
        SELECT NEW.organization_id, NEW.course_id, NEW.status, 1 WHERE EXISTS (SELECT 1 FROM courses WHERE id = NEW.course_id)
        ON CONFLICT (organization_id, course_id, status) DO UPDATE SET n = enrollment_counts.n + 1;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE enrollment_counts SET n = n - 1 WHERE organization_id = OLD.organization_id AND course_id = OLD.course_id AND status = OLD.status;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status > OLD.status THEN
        INSERT INTO enrollment_counts (organization_id, course_id, status, n)
        SELECT NEW.organization_id, NEW.course_id, NEW.status, 1 WHERE EXISTS (SELECT 1 FROM courses WHERE id = NEW.course_id)
        ON CONFLICT (organization_id, course_id, status) DO UPDATE SET n = enrollment_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
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
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION enrollment_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status < OLD.status OR TG_OP = 'INSERT' THEN
        INSERT INTO enrollment_counts (organization_id, course_id, status, n) VALUES (NEW.organization_id, NEW.course_id, NEW.status, 1)
        ON CONFLICT (organization_id, course_id, status) DO UPDATE SET n = enrollment_counts.n + 1;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE enrollment_counts SET n = n - 1 WHERE organization_id = OLD.organization_id AND course_id = OLD.course_id AND status = OLD.status;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status > OLD.status THEN
        INSERT INTO enrollment_counts (organization_id, course_id, status, n) VALUES (NEW.organization_id, NEW.course_id, NEW.status, 1)
        ON CONFLICT (organization_id, course_id, status) DO UPDATE SET n = enrollment_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
