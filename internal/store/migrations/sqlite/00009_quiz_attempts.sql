-- +goose Up
-- One answered quiz email: what the learner chose and how it scored. A
-- delivery is answered once (UNIQUE delivery_id); a retry is a delivery
-- of its own, so each attempt has its row.
CREATE TABLE quiz_attempts (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    enrollment_id   INTEGER NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    delivery_id     INTEGER NOT NULL UNIQUE REFERENCES deliveries (id) ON DELETE CASCADE,
    content_id      INTEGER NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    score           INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    passed          BOOLEAN NOT NULL,
    -- JSON: the chosen answer ids by question id, {"12": [31, 33], "13": []}
    answers         TEXT NOT NULL,
    created_at      DATETIME NOT NULL
);
CREATE INDEX quiz_attempts_enrollment_idx ON quiz_attempts (enrollment_id, content_id);

-- +goose Down
DROP TABLE quiz_attempts;
