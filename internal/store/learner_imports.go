package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ImportStatus is where a learner import stands.
type ImportStatus string

const (
	ImportRunning ImportStatus = "running" // rows are being worked
	ImportDone    ImportStatus = "done"    // every row was worked
	ImportFailed  ImportStatus = "failed"  // stopped before the end; Failure says why
)

// LearnerImport is a CSV file of addresses enrolled into a course in the
// background.
type LearnerImport struct {
	ID             int64
	OrganizationID int64
	CourseID       int64
	CreatedBy      *int64 // nil when the account is gone
	CreatedByName  string // who uploaded it, as the audit log names them
	ConsentHeld    bool
	// ConsentStatedBy and ConsentStatedAt record who stated that the
	// organization holds the learners' consent, and when; empty and nil
	// for an import whose learners confirm by email.
	ConsentStatedBy string
	ConsentStatedAt *time.Time
	Status          ImportStatus
	Total           int // data rows in the file
	Rejected        int // rows refused at upload, counted in Done from the start
	Done            int // rows worked
	Enrolled        int
	ErrorCount      int // rows reported, all of them; only the first are kept
	Failure         string
	CreatedAt       time.Time
	FinishedAt      *time.Time
}

// ImportError is one row of an import that was not enrolled, and why.
type ImportError struct {
	Line   int
	Email  string
	Reason string
}

const learnerImportColumns = `id, organization_id, course_id, created_by, created_by_name, consent_held, consent_stated_by,
	consent_stated_at, status, total, rejected, done, enrolled, error_count, failure, created_at, finished_at`

func scanLearnerImport(r row) (LearnerImport, error) {
	var (
		li               LearnerImport
		createdBy        sql.NullInt64
		statedBy         sql.NullString
		statedAt, finish sql.NullTime
		status           string
	)
	if err := r.Scan(&li.ID, &li.OrganizationID, &li.CourseID, &createdBy, &li.CreatedByName, &li.ConsentHeld, &statedBy,
		&statedAt, &status, &li.Total, &li.Rejected, &li.Done, &li.Enrolled, &li.ErrorCount, &li.Failure, &li.CreatedAt, &finish); err != nil {
		return LearnerImport{}, err
	}
	li.CreatedBy, li.ConsentStatedBy, li.Status = nullInt(createdBy), statedBy.String, ImportStatus(status)
	li.ConsentStatedAt, li.FinishedAt = nullTime(statedAt), nullTime(finish)
	li.CreatedAt = li.CreatedAt.UTC()
	return li, nil
}

// NewLearnerImport holds what an upload gives an import.
type NewLearnerImport struct {
	OrganizationID int64
	CourseID       int64
	CreatedBy      int64 // 0 for none
	CreatedByName  string
	ConsentHeld    bool // stated by CreatedByName at At
	Total          int
	Rejected       int
	ErrorCount     int
	// Rows are the rows left to work, spooled for the job.
	Rows string
	At   time.Time
}

// CreateLearnerImport records a running import and its spooled rows. A
// course with an import running already gives ErrConflict.
func (q *Queries) CreateLearnerImport(ctx context.Context, ni NewLearnerImport) (LearnerImport, error) {
	at := dbTime(ni.At)
	var createdBy, statedBy, statedAt any
	if ni.CreatedBy != 0 {
		createdBy = ni.CreatedBy
	}
	if ni.ConsentHeld {
		statedBy, statedAt = ni.CreatedByName, at
	}
	li, err := scanLearnerImport(q.queryRow(ctx, `
		INSERT INTO learner_imports (organization_id, course_id, created_by, created_by_name, consent_held, consent_stated_by,
			consent_stated_at, status, total, rejected, done, error_count, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING `+learnerImportColumns,
		ni.OrganizationID, ni.CourseID, createdBy, ni.CreatedByName, ni.ConsentHeld, statedBy, statedAt, string(ImportRunning),
		ni.Total, ni.Rejected, ni.Rejected, ni.ErrorCount, at))
	if isUniqueViolation(err) {
		return LearnerImport{}, fmt.Errorf("create import into course %d: %w", ni.CourseID, ErrConflict)
	}
	if err != nil {
		return LearnerImport{}, fmt.Errorf("create import into course %d: %w", ni.CourseID, err)
	}
	if _, err := q.exec(ctx, `INSERT INTO learner_import_files (import_id, rows) VALUES (?, ?)`, li.ID, ni.Rows); err != nil {
		return LearnerImport{}, fmt.Errorf("spool the rows of import %d: %w", li.ID, err)
	}
	return li, nil
}

// LearnerImport returns an import of a course of an organization, or
// ErrNotFound.
func (q *Queries) LearnerImport(ctx context.Context, orgID, courseID, id int64) (LearnerImport, error) {
	return q.learnerImport(ctx, fmt.Sprintf("import %d of course %d", id, courseID),
		`organization_id = ? AND course_id = ? AND id = ?`, orgID, courseID, id)
}

// LockLearnerImport returns an import by id for its job and makes the
// transaction the only one changing it until it ends, so that two runs of
// the job never work the same rows. On SQLite every write transaction
// already holds the database's write lock (BEGIN IMMEDIATE).
func (q *Queries) LockLearnerImport(ctx context.Context, id int64) (LearnerImport, error) {
	cond := `id = ?`
	if q.dialect == Postgres {
		cond += ` FOR UPDATE`
	}
	return q.learnerImport(ctx, fmt.Sprintf("lock import %d", id), cond, id)
}

func (q *Queries) learnerImport(ctx context.Context, what, cond string, args ...any) (LearnerImport, error) {
	li, err := scanLearnerImport(q.queryRow(ctx, `SELECT `+learnerImportColumns+` FROM learner_imports WHERE `+cond, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return LearnerImport{}, ErrNotFound
	}
	if err != nil {
		return LearnerImport{}, fmt.Errorf("%s: %w", what, err)
	}
	return li, nil
}

// LearnerImportRows returns the rows an import spooled; "" once it ended.
func (q *Queries) LearnerImportRows(ctx context.Context, id int64) (string, error) {
	var rows string
	err := q.queryRow(ctx, `SELECT rows FROM learner_import_files WHERE import_id = ?`, id).Scan(&rows)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("rows of import %d: %w", id, err)
	}
	return rows, nil
}

// ListLearnerImports returns a course's imports, newest first.
func (q *Queries) ListLearnerImports(ctx context.Context, orgID, courseID int64, limit int) ([]LearnerImport, error) {
	rs, err := q.query(ctx, `SELECT `+learnerImportColumns+` FROM learner_imports
		WHERE organization_id = ? AND course_id = ? ORDER BY id DESC LIMIT ?`, orgID, courseID, limit)
	if err != nil {
		return nil, fmt.Errorf("imports of course %d: %w", courseID, err)
	}
	defer rs.Close()
	var list []LearnerImport
	for rs.Next() {
		li, err := scanLearnerImport(rs)
		if err != nil {
			return nil, fmt.Errorf("imports of course %d: %w", courseID, err)
		}
		list = append(list, li)
	}
	return list, rs.Err()
}

// ImportedRowsSince is how many rows an organization's imports created at
// or after since hold, for the daily cap.
func (q *Queries) ImportedRowsSince(ctx context.Context, orgID int64, since time.Time) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COALESCE(SUM(total), 0) FROM learner_imports WHERE organization_id = ? AND created_at >= ?`,
		orgID, dbTime(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("rows imported into organization %d: %w", orgID, err)
	}
	return n, nil
}

// ImportProgress is what a worked chunk adds to an import.
type ImportProgress struct {
	Done, Enrolled, Errors int
}

// AdvanceLearnerImport adds a worked chunk to an import's counts.
func (q *Queries) AdvanceLearnerImport(ctx context.Context, id int64, p ImportProgress) error {
	_, err := q.exec(ctx, `UPDATE learner_imports SET done = done + ?, enrolled = enrolled + ?, error_count = error_count + ?
		WHERE id = ?`, p.Done, p.Enrolled, p.Errors, id)
	if err != nil {
		return fmt.Errorf("advance import %d: %w", id, err)
	}
	return nil
}

// FinishLearnerImport ends a running import as done or failed, with why
// it failed, and drops its spooled rows. It reports whether the import was
// still running.
func (q *Queries) FinishLearnerImport(ctx context.Context, id int64, to ImportStatus, failure string, at time.Time) (bool, error) {
	n, err := q.exec(ctx, `UPDATE learner_imports SET status = ?, failure = ?, finished_at = ? WHERE id = ? AND status = ?`,
		string(to), failure, dbTime(at), id, string(ImportRunning))
	if err != nil {
		return false, fmt.Errorf("finish import %d: %w", id, err)
	}
	if _, err := q.exec(ctx, `DELETE FROM learner_import_files WHERE import_id = ?`, id); err != nil {
		return false, fmt.Errorf("drop the rows of import %d: %w", id, err)
	}
	return n == 1, nil
}

// importErrorsPerStatement keeps a statement's parameters well within
// every dialect's limit.
const importErrorsPerStatement = 200

// AddImportErrors records reported rows of an import. A line recorded
// already is left as it is, so a chunk worked again adds nothing twice.
func (q *Queries) AddImportErrors(ctx context.Context, importID int64, list []ImportError) error {
	for len(list) > 0 {
		n := min(len(list), importErrorsPerStatement)
		var b strings.Builder
		args := make([]any, 0, 4*n)
		b.WriteString(`INSERT INTO learner_import_errors (import_id, line, email, reason) VALUES `)
		for i, e := range list[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?)")
			args = append(args, importID, e.Line, e.Email, e.Reason)
		}
		b.WriteString(` ON CONFLICT (import_id, line) DO NOTHING`)
		if _, err := q.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("record %d rows reported by import %d: %w", n, importID, err)
		}
		list = list[n:]
	}
	return nil
}

// ImportErrors returns up to limit reported rows of an import by line,
// from offset.
func (q *Queries) ImportErrors(ctx context.Context, importID int64, offset, limit int) ([]ImportError, error) {
	rs, err := q.query(ctx, `SELECT line, email, reason FROM learner_import_errors WHERE import_id = ?
		ORDER BY line LIMIT ? OFFSET ?`, importID, limit, min(offset, maxOffset))
	if err != nil {
		return nil, fmt.Errorf("rows reported by import %d: %w", importID, err)
	}
	defer rs.Close()
	list := []ImportError{}
	for rs.Next() {
		var e ImportError
		if err := rs.Scan(&e.Line, &e.Email, &e.Reason); err != nil {
			return nil, fmt.Errorf("rows reported by import %d: %w", importID, err)
		}
		list = append(list, e)
	}
	return list, rs.Err()
}

// CountImportErrors is how many reported rows of an import are kept.
func (q *Queries) CountImportErrors(ctx context.Context, importID int64) (int, error) {
	var n int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM learner_import_errors WHERE import_id = ?`, importID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows reported by import %d: %w", importID, err)
	}
	return n, nil
}

// BlockedAmong returns which of the (normalized) addresses may not be
// mailed on behalf of an organization, as EmailBlocked tells for one: an
// import checks a chunk's addresses with one query.
func (q *Queries) BlockedAmong(ctx context.Context, orgID int64, emails []string) (map[string]bool, error) {
	blocked := map[string]bool{}
	if len(emails) == 0 {
		return blocked, nil
	}
	in, arg := `email = ANY(?)`, any(emails)
	if q.dialect != Postgres {
		list, _ := json.Marshal(emails) // strings always encode
		in, arg = `email IN (SELECT value FROM json_each(?))`, string(list)
	}
	rs, err := q.query(ctx, `SELECT email FROM blocked_emails WHERE organization_id = ? AND `+in+`
		UNION SELECT email FROM blocked_emails WHERE organization_id IS NULL AND `+in, orgID, arg, arg)
	if err != nil {
		return nil, fmt.Errorf("blocked addresses among %d in organization %d: %w", len(emails), orgID, err)
	}
	defer rs.Close()
	for rs.Next() {
		var email string
		if err := rs.Scan(&email); err != nil {
			return nil, fmt.Errorf("blocked addresses in organization %d: %w", orgID, err)
		}
		blocked[email] = true
	}
	return blocked, rs.Err()
}
