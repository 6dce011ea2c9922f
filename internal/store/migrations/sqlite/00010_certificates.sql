-- +goose Up
-- One certificate per completed enrollment. It is issued when the
-- enrollment completes, and claimed when the learner enters the name to
-- print: learner_name, claimed_at and qr_png stay NULL until then.
-- course_title and organization_name are copied when it is issued, so that
-- renaming the course or the organization later does not change a
-- certificate someone holds. number is the certificate's public name, in
-- its verification URL: long and random, so that nobody finds certificates
-- by guessing. qr_png is the QR code of that URL, generated once, at the
-- claim.
CREATE TABLE certificates (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    enrollment_id     INTEGER NOT NULL UNIQUE REFERENCES enrollments (id) ON DELETE CASCADE,
    number            TEXT NOT NULL UNIQUE,
    learner_name      TEXT,
    course_title      TEXT NOT NULL,
    organization_name TEXT NOT NULL,
    completed_at      DATETIME NOT NULL,
    claimed_at        DATETIME,
    qr_png            BLOB,
    created_at        DATETIME NOT NULL
);
CREATE INDEX certificates_organization_idx ON certificates (organization_id);

-- +goose Down
DROP TABLE certificates;
