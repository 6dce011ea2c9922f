-- +goose Up
-- The lessons and quizzes of a course, in order. Positions are kept dense
-- (1, 2, 3, ...) by the domain under the course's lock; they are not
-- UNIQUE so that a move or a reorder may pass through a moment where two
-- items share one. Readers order by position, then id.
CREATE TABLE content_items (
    id                     INTEGER PRIMARY KEY,
    organization_id        INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    course_id              INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    kind                   TEXT NOT NULL CHECK (kind IN ('lesson', 'quiz')),
    title                  TEXT NOT NULL,
    body                   TEXT NOT NULL DEFAULT '',
    position               INTEGER NOT NULL,
    waiting_period_seconds INTEGER NOT NULL DEFAULT 0 CHECK (waiting_period_seconds >= 0),
    published              BOOLEAN NOT NULL DEFAULT FALSE,
    required_score         INTEGER NOT NULL DEFAULT 0 CHECK (required_score BETWEEN 0 AND 100),
    created_at             DATETIME NOT NULL,
    updated_at             DATETIME NOT NULL
);
CREATE INDEX content_items_course_idx ON content_items (course_id, position);

CREATE TABLE quiz_questions (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    content_id      INTEGER NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    text            TEXT NOT NULL
);
CREATE INDEX quiz_questions_content_idx ON quiz_questions (content_id, position);

CREATE TABLE quiz_answers (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    question_id     INTEGER NOT NULL REFERENCES quiz_questions (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    text            TEXT NOT NULL,
    correct         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX quiz_answers_question_idx ON quiz_answers (question_id, position);

-- +goose Down
DROP TABLE quiz_answers;
DROP TABLE quiz_questions;
DROP TABLE content_items;
