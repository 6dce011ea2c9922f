-- +goose Up
-- Reports read small counters kept as things happen, in the transaction
-- that makes them happen, rather than count enrollments, deliveries and
-- emails on each view. Days are UTC dates written YYYY-MM-DD.
--
-- report_daily: per organization and day, how often a metric happened:
-- enrollments started, confirmed, completed, failed, cancelled,
-- unsubscribed; emails sent, failed and retried, by kind
-- (mail_sent:<kind>, ...). A year of one organization is some thousands
-- of rows, whatever its size.
CREATE TABLE report_daily (
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day             TEXT NOT NULL,
    metric          TEXT NOT NULL,
    n               INTEGER NOT NULL,
    PRIMARY KEY (organization_id, day, metric)
) WITHOUT ROWID;
-- report_items: per content item of a course, the funnel (received,
-- answered, passed, failed, unsubscribed after it) and the quiz
-- statistics (attempts, score:<tenth>, wrong:<question id>).
CREATE TABLE report_items (
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    course_id       INTEGER NOT NULL,
    content_id      INTEGER NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
    metric          TEXT NOT NULL,
    n               INTEGER NOT NULL,
    PRIMARY KEY (organization_id, course_id, content_id, metric)
) WITHOUT ROWID;
-- enrollment_counts: the enrollments of each course by status, kept by
-- triggers on enrollments, so that every change of status, whichever
-- statement makes it, and every delete counts, in its transaction.
CREATE TABLE enrollment_counts (
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    course_id       INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    n               INTEGER NOT NULL,
    PRIMARY KEY (organization_id, course_id, status)
) WITHOUT ROWID;
-- +goose StatementBegin
CREATE TRIGGER enrollment_counts_insert AFTER INSERT ON enrollments BEGIN
    INSERT INTO enrollment_counts (organization_id, course_id, status, n) VALUES (NEW.organization_id, NEW.course_id, NEW.status, 1)
    ON CONFLICT (organization_id, course_id, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER enrollment_counts_update AFTER UPDATE OF status ON enrollments WHEN OLD.status <> NEW.status BEGIN
    UPDATE enrollment_counts SET n = n - 1 WHERE organization_id = OLD.organization_id AND course_id = OLD.course_id AND status = OLD.status;
    INSERT INTO enrollment_counts (organization_id, course_id, status, n) VALUES (NEW.organization_id, NEW.course_id, NEW.status, 1)
    ON CONFLICT (organization_id, course_id, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER enrollment_counts_delete AFTER DELETE ON enrollments BEGIN
    UPDATE enrollment_counts SET n = n - 1 WHERE organization_id = OLD.organization_id AND course_id = OLD.course_id AND status = OLD.status;
END;
-- +goose StatementEnd

-- The history of an upgraded install.
INSERT INTO enrollment_counts (organization_id, course_id, status, n)
SELECT organization_id, course_id, status, COUNT(*) FROM enrollments GROUP BY 1, 2, 3;
INSERT INTO report_daily (organization_id, day, metric, n)
SELECT organization_id, substr(created_at, 1, 10), 'started', COUNT(*)
FROM enrollments GROUP BY 1, 2, 3;
INSERT INTO report_daily (organization_id, day, metric, n)
SELECT organization_id, substr(activated_at, 1, 10), 'confirmed', COUNT(*)
FROM enrollments WHERE activated_at IS NOT NULL GROUP BY 1, 2, 3;
INSERT INTO report_daily (organization_id, day, metric, n)
SELECT organization_id, substr(ended_at, 1, 10), status, COUNT(*)
FROM enrollments WHERE ended_at IS NOT NULL AND status IN ('completed', 'failed', 'cancelled', 'unsubscribed') GROUP BY 1, 2, 3;
INSERT INTO report_daily (organization_id, day, metric, n)
SELECT organization_id, substr(sent_at, 1, 10), 'mail_sent:' || kind, COUNT(*)
FROM mail_messages WHERE organization_id IS NOT NULL AND status IN ('sent', 'stored') AND sent_at IS NOT NULL GROUP BY 1, 2, 3;
INSERT INTO report_daily (organization_id, day, metric, n)
SELECT organization_id, substr(updated_at, 1, 10), 'mail_failed:' || kind, COUNT(*)
FROM mail_messages WHERE organization_id IS NOT NULL AND status = 'failed' GROUP BY 1, 2, 3;
INSERT INTO report_daily (organization_id, day, metric, n)
SELECT organization_id, substr(updated_at, 1, 10), 'mail_retried:' || kind, SUM(attempts - 1)
FROM mail_messages WHERE organization_id IS NOT NULL AND attempts > 1 GROUP BY 1, 2, 3;

INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
SELECT d.organization_id, ci.course_id, d.content_id, 'received', COUNT(*)
FROM deliveries d JOIN content_items ci ON ci.id = d.content_id
WHERE d.status = 'sent' AND d.attempt = 1 GROUP BY 1, 2, 3;
INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
SELECT organization_id, course_id, content_id, 'attempts', COUNT(*) FROM quiz_attempts GROUP BY 1, 2, 3;
INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
SELECT organization_id, course_id, content_id, 'answered', COUNT(*) FROM quiz_attempts WHERE attempt = 1 GROUP BY 1, 2, 3;
INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
SELECT organization_id, course_id, content_id, 'passed', COUNT(*) FROM quiz_attempts WHERE passed GROUP BY 1, 2, 3;
INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
SELECT organization_id, course_id, content_id, 'score:' || (score / 10), COUNT(*) FROM quiz_attempts GROUP BY 1, 2, 3, 4;
INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
SELECT e.organization_id, e.course_id, a.content_id, 'failed', COUNT(*)
FROM enrollments e JOIN quiz_attempts a ON a.id = (SELECT MAX(id) FROM quiz_attempts WHERE enrollment_id = e.id)
WHERE e.status = 'failed' GROUP BY 1, 2, 3;
INSERT INTO report_items (organization_id, course_id, content_id, metric, n)
SELECT e.organization_id, e.course_id, d.content_id, 'unsubscribed', COUNT(*)
FROM enrollments e JOIN deliveries d ON d.id = (SELECT MAX(id) FROM deliveries WHERE enrollment_id = e.id AND status = 'sent')
WHERE e.status = 'unsubscribed' GROUP BY 1, 2, 3;

-- +goose Down
DROP TRIGGER enrollment_counts_delete;
DROP TRIGGER enrollment_counts_update;
DROP TRIGGER enrollment_counts_insert;
DROP TABLE enrollment_counts;
DROP TABLE report_items;
DROP TABLE report_daily;
