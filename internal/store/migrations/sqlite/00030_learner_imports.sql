-- +goose Up
-- Learner imports: a CSV file of addresses enrolled into a course by a
-- background job, a chunk of rows per transaction. done counts the rows
-- worked, the ones refused at upload (rejected) included, and advances in
-- the transaction that enrolls a chunk, so a job run again resumes after
-- the last chunk that committed. consent_stated_by/at record who said the
-- organization holds the learners' consent (no confirmation email), and
-- when. At most one import per course runs at a time.
CREATE TABLE learner_imports (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id   INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    course_id         INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    created_by        INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_by_name   TEXT NOT NULL,
    consent_held      BOOLEAN NOT NULL DEFAULT FALSE,
    consent_stated_by TEXT,
    consent_stated_at DATETIME,
    status            TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    total             INTEGER NOT NULL,
    rejected          INTEGER NOT NULL,
    done              INTEGER NOT NULL,
    enrolled          INTEGER NOT NULL DEFAULT 0,
    error_count       INTEGER NOT NULL DEFAULT 0,
    failure           TEXT NOT NULL DEFAULT '',
    created_at        DATETIME NOT NULL,
    finished_at       DATETIME
);
CREATE INDEX learner_imports_course_idx ON learner_imports (organization_id, course_id, id);
CREATE INDEX learner_imports_created_idx ON learner_imports (organization_id, created_at);
CREATE UNIQUE INDEX learner_imports_running_idx ON learner_imports (course_id) WHERE status = 'running';

-- The rows left to work, spooled at upload as one text ("line TAB email"
-- per row) and deleted when the import ends: kept apart from the import's
-- row, which changes with every chunk.
CREATE TABLE learner_import_files (
    import_id INTEGER PRIMARY KEY REFERENCES learner_imports (id) ON DELETE CASCADE,
    rows      TEXT NOT NULL
);

-- The rows reported, by line; only the first ones are kept (error_count
-- counts them all).
CREATE TABLE learner_import_errors (
    import_id INTEGER NOT NULL REFERENCES learner_imports (id) ON DELETE CASCADE,
    line      INTEGER NOT NULL,
    email     TEXT NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- +goose Down
DROP TABLE learner_import_errors;
DROP TABLE learner_import_files;
DROP TABLE learner_imports;
