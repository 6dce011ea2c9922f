-- +goose Up
-- A course's quiz attempts are listed newest first, a page at a time: the
-- course is copied from the quiz (an item never changes course) so that an
-- index gives them in order, rather than a join and a sort of them all.
ALTER TABLE quiz_attempts ADD COLUMN course_id BIGINT;
UPDATE quiz_attempts SET course_id = (SELECT ci.course_id FROM content_items ci WHERE ci.id = quiz_attempts.content_id);
ALTER TABLE quiz_attempts ALTER COLUMN course_id SET NOT NULL;
CREATE INDEX quiz_attempts_course_idx ON quiz_attempts (course_id, id);
CREATE INDEX quiz_attempts_content_idx ON quiz_attempts (content_id, id);

-- +goose Down
DROP INDEX quiz_attempts_content_idx;
DROP INDEX quiz_attempts_course_idx;
ALTER TABLE quiz_attempts DROP COLUMN course_id;
