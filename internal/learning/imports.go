package learning

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Limits of learner imports. An import sends a confirmation email to each
// new address, so the limits keep an editor from turning the platform into
// a spam cannon: one import per course at a time, and a cap on the rows an
// organization imports in a day.
const (
	// ImportMaxBytes is the largest file taken: 100,000 rows of an address
	// and a name are about 5 MB.
	ImportMaxBytes = 10 << 20
	// ImportMaxRows is the most data rows a file may hold.
	ImportMaxRows = 100_000
	// ImportRowsPerDay is the most rows an organization's imports may hold
	// together in any 24 hours.
	ImportRowsPerDay = 200_000
	// ImportErrorsKept is how many reported rows an import keeps, the
	// first ones by line; its count of them goes on.
	ImportErrorsKept = 10_000
	// ImportsListed is how many of a course's imports its page lists.
	ImportsListed = 50
)

// importChunkRows is how many rows one transaction enrolls; the import's
// progress advances in the same transaction, so a job run again starts
// after the last chunk that committed. Chunks of 500 outgrew SQLite's page
// cache with their emails and ran slower. importRunFor is how long one run of
// the job goes on before it hands the rest to a new run, well within the
// job timeout.
var (
	importChunkRows = 100
	importRunFor    = 20 * time.Second
)

// Why a row of an import was not enrolled: stable codes, for the API.
const (
	ReasonInvalidEmail         = "invalid_email"
	ReasonDuplicate            = "duplicate"
	ReasonBlocked              = "blocked"
	ReasonAlreadyEnrolled      = "already_enrolled"
	ReasonAwaitingConfirmation = "awaiting_confirmation"
	ReasonUnsubscribed         = "unsubscribed"
)

var reasonTexts = map[string]string{
	ReasonInvalidEmail:         "This is not a valid email address.",
	ReasonDuplicate:            "This address is on an earlier line of the file.",
	ReasonBlocked:              "This address is blocked: it gets no email from this organization.",
	ReasonAlreadyEnrolled:      "This address is enrolled in the course already.",
	ReasonAwaitingConfirmation: "This address was sent a confirmation link for the course already, and has not used it yet.",
	ReasonUnsubscribed:         "This learner unsubscribed from the course; only they can enroll again, from the course's public page.",
}

// ImportReasonText is the sentence people read for a reason code.
func ImportReasonText(reason string) string {
	if t, ok := reasonTexts[reason]; ok {
		return t
	}
	return reason
}

// Errors of imports.
var (
	ErrImportNotFound = problem.New(problem.NotFound, "import_not_found", "There is no such import in this course.")
	ErrImportRunning  = problem.New(problem.Conflict, "import_running",
		"An import into this course is still running. Wait for it to finish before starting another.")
	errImportCourseNotFound = problem.New(problem.NotFound, "course_not_found", "There is no such course in this organization.")
)

// ImportTooLarge is the problem of a file over ImportMaxBytes.
func ImportTooLarge() *problem.Error {
	return problem.Newf(problem.TooLarge, "file_too_large", "The file is larger than %d MiB.", ImportMaxBytes>>20)
}

// importRow is a row of a file left to enroll.
type importRow struct {
	line  int
	email string // normalized
}

// parsedImport is a file as the upload reads it.
type parsedImport struct {
	rows     []importRow
	rejected []store.ImportError
	total    int
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// parseImportFile reads a CSV file of addresses. A first row without an
// address in it is a header: the column named email (or holding "mail")
// holds the addresses; without a header it is the first column. Other
// columns, a name among them, are read and left: learners are known by
// their address alone. Rows with an invalid address or an address seen on
// an earlier line are refused here, each with its line.
func parseImportFile(data []byte) (parsedImport, error) {
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return parsedImport{}, problem.New(problem.Malformed, "not_csv",
			"The file is not a CSV file of text in UTF-8. Save it as \"CSV UTF-8\" and upload it again.")
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	r.FieldsPerRecord, r.TrimLeadingSpace, r.ReuseRecord = -1, true, true
	var (
		p      parsedImport
		column = 0
		first  = true
		seen   = map[string]bool{}
	)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if pe, ok := errors.AsType[*csv.ParseError](err); ok {
			return parsedImport{}, problem.Newf(problem.Malformed, "malformed_csv", "The file is not valid CSV: line %d: %v.", pe.Line, pe.Err)
		}
		if err != nil {
			return parsedImport{}, problem.Newf(problem.Malformed, "malformed_csv", "The file could not be read as CSV: %v.", err)
		}
		line, _ := r.FieldPos(0)
		if first {
			first = false
			if c, header := headerColumn(rec); header {
				column = c
				continue
			}
		}
		if p.total++; p.total > ImportMaxRows {
			return parsedImport{}, problem.Newf(problem.TooLarge, "too_many_rows", "The file has more than %d rows: split it into several files.", ImportMaxRows)
		}
		raw := ""
		if column < len(rec) {
			raw = strings.TrimSpace(rec[column])
		}
		email, err := auth.NormalizeEmail(raw)
		switch {
		case err != nil || strings.ContainsFunc(email, unicode.IsControl):
			p.rejected = append(p.rejected, store.ImportError{Line: line, Email: truncate(raw, auth.MaxEmailBytes), Reason: ReasonInvalidEmail})
		case seen[email]:
			p.rejected = append(p.rejected, store.ImportError{Line: line, Email: email, Reason: ReasonDuplicate})
		default:
			seen[email] = true
			p.rows = append(p.rows, importRow{line: line, email: email})
		}
	}
	if p.total == 0 {
		return parsedImport{}, problem.New(problem.Malformed, "empty_file", "The file holds no addresses.")
	}
	return p, nil
}

// headerColumn tells whether a first row is a header, and which of its
// columns holds the addresses.
func headerColumn(rec []string) (int, bool) {
	column := -1
	for i, f := range rec {
		f = strings.ToLower(strings.TrimSpace(f))
		if strings.Contains(f, "@") {
			return 0, false
		}
		if column < 0 && strings.Contains(f, "mail") {
			column = i
		}
	}
	return max(column, 0), true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// spool writes the rows to enroll as the job reads them back: a line
// number and an address per line, which holds no tab or line break.
func spool(rows []importRow) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strconv.Itoa(r.line))
		b.WriteByte('\t')
		b.WriteString(r.email)
		b.WriteByte('\n')
	}
	return b.String()
}

func unspool(s string) ([]importRow, error) {
	rows := make([]importRow, 0, strings.Count(s, "\n"))
	for l := range strings.Lines(s) {
		num, email, ok := strings.Cut(strings.TrimSuffix(l, "\n"), "\t")
		line, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("spooled row %q is damaged", l)
		}
		rows = append(rows, importRow{line: line, email: email})
	}
	return rows, nil
}

// importCourse returns the course an import goes into, checking that the
// actor may take action in its organization.
func importCourse(ctx context.Context, q *store.Queries, actor *store.User, orgID, courseID int64, action access.Action) (orgs.View, store.Course, error) {
	v, err := orgs.Authorize(ctx, q, actor, orgID, action)
	if err != nil {
		return orgs.View{}, store.Course{}, err
	}
	c, err := q.EnrollmentCourse(ctx, orgID, courseID)
	if errors.Is(err, store.ErrNotFound) {
		return orgs.View{}, store.Course{}, errImportCourseNotFound
	}
	return v, c, err
}

// CheckImport tells whether actor may import learners into the course:
// the upload's body is read only then.
func (s *Service) CheckImport(ctx context.Context, actor *store.User, orgID, courseID int64) error {
	_, _, err := importCourse(ctx, s.db.Read(), actor, orgID, courseID, access.ImportLearners)
	return err
}

// StartImport takes a CSV file of addresses to enroll in a course. The
// file is read and its rows checked at once (their shape, duplicates), so
// the answer gives the total and the rows refused; the job enrolls the
// rest, each new address with the double opt-in confirmation email as
// public enrollment sends it. With consentHeld the actor states that the
// organization holds the learners' consent: they are enrolled as active at
// once, without an email, and the audit log records who said so and when.
func (s *Service) StartImport(ctx context.Context, actor *store.User, orgID, courseID int64, file []byte, consentHeld bool) (store.LearnerImport, error) {
	if len(file) > ImportMaxBytes {
		return store.LearnerImport{}, ImportTooLarge()
	}
	at := s.now().UTC()
	var li store.LearnerImport
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		_, course, err := importCourse(ctx, q, actor, orgID, courseID, access.ImportLearners)
		if err != nil {
			return err
		}
		if !course.Enabled {
			return problem.Newf(problem.Conflict, "course_disabled", "The course %q is disabled: enable it before importing learners.", course.Title)
		}
		p, err := parseImportFile(file)
		if err != nil {
			return err
		}
		// One import of the organization starts at a time: two started at
		// once on PostgreSQL would each read the day's rows below the cap.
		if err := q.LockOrganization(ctx, orgID); err != nil {
			return err
		}
		used, err := q.ImportedRowsSince(ctx, orgID, at.Add(-24*time.Hour))
		if err != nil {
			return err
		}
		if used+p.total > ImportRowsPerDay {
			return problem.Newf(problem.Throttled, "import_limit",
				"This organization may import at most %d rows in 24 hours, and has imported %d: this file of %d rows is over the limit. Try again later.",
				ImportRowsPerDay, used, p.total)
		}
		ni := store.NewLearnerImport{OrganizationID: orgID, CourseID: courseID, CreatedByName: orgs.ActorName(actor), ConsentHeld: consentHeld,
			Total: p.total, Rejected: len(p.rejected), ErrorCount: len(p.rejected), Rows: spool(p.rows), At: at}
		if actor.ID != 0 {
			ni.CreatedBy = actor.ID
		}
		li, err = q.CreateLearnerImport(ctx, ni)
		if errors.Is(err, store.ErrConflict) {
			return ErrImportRunning
		}
		if err != nil {
			return err
		}
		if err := q.AddImportErrors(ctx, li.ID, p.rejected[:min(len(p.rejected), ImportErrorsKept)]); err != nil {
			return err
		}
		_, err = q.Enqueue(ctx, ImportArgs{ImportID: li.ID}, nil)
		return err
	})
	if err != nil {
		return store.LearnerImport{}, fmt.Errorf("import learners into course %d of organization %d: %w", courseID, orgID, err)
	}
	return li, nil
}

// ImportView is an import as its page and the API show it.
type ImportView struct {
	orgs.View
	Course store.Course
	Import store.LearnerImport
	// Errors is a page of the rows reported, by line.
	Errors      []store.ImportError
	Page, Pages int
	// CanImport tells whether the actor may start another import.
	CanImport bool
}

// Import returns an import of a course with a page of its reported rows
// (page from 1, of limit rows), for anyone who may see the organization.
func (s *Service) Import(ctx context.Context, actor *store.User, orgID, courseID, id int64, page, limit int) (ImportView, error) {
	q := s.db.Read()
	v, course, err := importCourse(ctx, q, actor, orgID, courseID, access.ViewOrganization)
	if err != nil {
		return ImportView{}, err
	}
	li, err := q.LearnerImport(ctx, orgID, courseID, id)
	if errors.Is(err, store.ErrNotFound) {
		return ImportView{}, ErrImportNotFound
	}
	if err != nil {
		return ImportView{}, err
	}
	page = max(page, 1)
	iv := ImportView{View: v, Course: course, Import: li, Page: page, CanImport: access.Allowed(actor, v.Role, access.ImportLearners)}
	kept := min(li.ErrorCount, ImportErrorsKept)
	iv.Pages = max(1, (kept+limit-1)/limit)
	if iv.Errors, err = q.ImportErrors(ctx, id, store.Offset(page, limit), limit); err != nil {
		return ImportView{}, err
	}
	return iv, nil
}

// ImportList is a course's imports, newest first.
type ImportList struct {
	orgs.View
	Course    store.Course
	Items     []store.LearnerImport
	CanImport bool
}

// Imports lists the latest ImportsListed imports of a course, for anyone
// who may see the organization.
func (s *Service) Imports(ctx context.Context, actor *store.User, orgID, courseID int64) (ImportList, error) {
	q := s.db.Read()
	v, course, err := importCourse(ctx, q, actor, orgID, courseID, access.ViewOrganization)
	if err != nil {
		return ImportList{}, err
	}
	items, err := q.ListLearnerImports(ctx, orgID, courseID, ImportsListed)
	if err != nil {
		return ImportList{}, err
	}
	return ImportList{View: v, Course: course, Items: items, CanImport: access.Allowed(actor, v.Role, access.ImportLearners)}, nil
}

// ImportArgs is the job that enrolls the rows of an import.
type ImportArgs struct {
	ImportID int64 `json:"import_id"`
}

// Kind names the job for River.
func (ImportArgs) Kind() string { return "learner_import" }

// InsertOpts puts the job on the mail queue, which every node that works
// jobs works: its work is to enroll and queue emails.
func (ImportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: mail.Queue, MaxAttempts: 10}
}

type importWorker struct {
	river.WorkerDefaults[ImportArgs]
	learning *Service
}

// Work enrolls the import's rows a chunk at a time for importRunFor, then
// hands the rest to a new run. On its last attempt an error fails the
// import, so that the course can take another.
func (w *importWorker) Work(ctx context.Context, job *river.Job[ImportArgs]) error {
	err := w.learning.WorkImport(ctx, job.Args.ImportID)
	if err != nil && job.Attempt >= job.MaxAttempts {
		failure := "The import stopped on an error and was given up. The rows worked are enrolled; import the rest again."
		if ferr := w.learning.failImport(context.WithoutCancel(ctx), job.Args.ImportID, failure); ferr != nil {
			return errors.Join(err, ferr)
		}
	}
	return err
}

// WorkImport enrolls the rows of an import left to work, a chunk per
// transaction, for about importRunFor; then it enqueues a job for the
// rest. Each chunk starts where the import's count of rows worked says,
// read under the import's lock, so a run after a crash, or two runs at
// once, enroll nobody twice.
func (s *Service) WorkImport(ctx context.Context, id int64) error {
	spooled, err := s.db.Read().LearnerImportRows(ctx, id)
	if err != nil {
		return err
	}
	rows, err := unspool(spooled)
	if err != nil {
		return fmt.Errorf("import %d: %w", id, err)
	}
	began := time.Now()
	for {
		var finished bool
		err := s.db.InTx(ctx, func(q *store.Queries) error {
			var err error
			finished, err = s.importChunk(ctx, q, id, rows)
			return err
		})
		if err != nil {
			return fmt.Errorf("import %d: %w", id, err)
		}
		if finished {
			return nil
		}
		if time.Since(began) >= importRunFor {
			err := s.db.InTx(ctx, func(q *store.Queries) error {
				_, err := q.Enqueue(ctx, ImportArgs{ImportID: id}, nil)
				return err
			})
			if err != nil {
				return fmt.Errorf("import %d: hand on: %w", id, err)
			}
			return nil
		}
	}
}

// importChunk enrolls the next chunk of an import in q's transaction, or
// ends the import when no row is left, and reports whether it ended.
func (s *Service) importChunk(ctx context.Context, q *store.Queries, id int64, rows []importRow) (bool, error) {
	li, err := q.LockLearnerImport(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil // the course or organization was deleted
	}
	if err != nil || li.Status != store.ImportRunning {
		return true, err
	}
	at := s.now().UTC()
	org, err := q.OrganizationByID(ctx, li.OrganizationID)
	if err != nil {
		return false, err
	}
	course, err := q.EnrollmentCourse(ctx, li.OrganizationID, li.CourseID)
	if err != nil {
		return false, err
	}
	if !course.Enabled {
		return true, s.endImport(ctx, q, li, course, store.ImportFailed,
			fmt.Sprintf("The course was disabled while the import ran; %d of %d rows were worked.", li.Done, li.Total), at)
	}
	// A suspended organization sends nothing: its import ends where it was.
	if org.Suspended() {
		return true, s.endImport(ctx, q, li, course, store.ImportFailed,
			fmt.Sprintf("The organization was suspended while the import ran; %d of %d rows were worked.", li.Done, li.Total), at)
	}
	start := li.Done - li.Rejected
	if start >= len(rows) {
		return true, s.endImport(ctx, q, li, course, store.ImportDone, "", at)
	}
	chunk := rows[start:min(start+importChunkRows, len(rows))]
	batch := s.mail.NewBatch()
	bctx := mail.WithBatch(ctx, batch)
	emails := make([]string, len(chunk))
	for i, r := range chunk {
		emails[i] = r.email
	}
	blocked, err := q.BlockedAmong(ctx, org.ID, emails)
	if err != nil {
		return false, err
	}
	var reported []store.ImportError
	enrolled := 0
	for _, r := range chunk {
		reason := ReasonBlocked
		if !blocked[r.email] {
			reason, err = s.importOne(bctx, q, org, course, li.ConsentHeld, r.email, at)
		}
		if err != nil {
			return false, fmt.Errorf("line %d, %s: %w", r.line, r.email, err)
		}
		if reason != "" {
			reported = append(reported, store.ImportError{Line: r.line, Email: r.email, Reason: reason})
		} else {
			enrolled++
		}
	}
	room := max(0, ImportErrorsKept-li.ErrorCount)
	if err := q.AddImportErrors(ctx, id, reported[:min(len(reported), room)]); err != nil {
		return false, err
	}
	if err := batch.Enqueue(ctx, q); err != nil {
		return false, err
	}
	if err := q.AdvanceLearnerImport(ctx, id, store.ImportProgress{Done: len(chunk), Enrolled: enrolled, Errors: len(reported)}); err != nil {
		return false, err
	}
	if start+len(chunk) < len(rows) {
		return false, nil
	}
	if li, err = q.LockLearnerImport(ctx, id); err != nil {
		return false, err
	}
	return true, s.endImport(ctx, q, li, course, store.ImportDone, "", at)
}

// importOne enrolls one address of an import that is not blocked, by the
// rules of public enrollment without its limits per address and client, or
// as active at once when the organization holds consent. It returns why
// the address was not enrolled, or "".
func (s *Service) importOne(ctx context.Context, q *store.Queries, org store.Organization, course store.Course, consentHeld bool, email string, at time.Time) (string, error) {
	learner, err := q.SaveLearner(ctx, org.ID, email)
	if err != nil {
		return "", err
	}
	ne := store.NewEnrollment{OrganizationID: org.ID, CourseID: course.ID, LearnerID: learner.ID, Status: store.EnrollmentActive, At: at}
	var token string
	if !consentHeld {
		var hash string
		token, hash = auth.NewToken()
		ne.Status, ne.TokenHash, ne.ExpiresAt = store.EnrollmentUnverified, hash, at.Add(ConfirmValidity)
	}
	e, created, err := q.CreateEnrollment(ctx, ne)
	if err != nil {
		return "", err
	}
	if !created {
		switch e.Status {
		case store.EnrollmentActive, store.EnrollmentCompleted:
			return ReasonAlreadyEnrolled, nil
		case store.EnrollmentUnsubscribed:
			return ReasonUnsubscribed, nil
		case store.EnrollmentUnverified:
			if !consentHeld {
				return ReasonAwaitingConfirmation, nil
			}
		}
		// Cancelled or failed (or, with consent, unverified): start again.
		if consentHeld {
			if activated, err := q.ActivateEnrollment(ctx, org.ID, e.ID, e.Status, at); err != nil || !activated {
				return ReasonAlreadyEnrolled, err
			}
		} else {
			r := store.Reopening{OrganizationID: org.ID, ID: e.ID, From: e.Status, ExpiresAt: ne.ExpiresAt, TokenHash: ne.TokenHash, At: at}
			if reopened, err := q.ReopenEnrollment(ctx, r); err != nil || !reopened {
				return ReasonAlreadyEnrolled, err
			}
		}
		if e, err = q.Enrollment(ctx, org.ID, e.ID); err != nil {
			return "", err
		}
	}
	if err := s.emitEnrollment(ctx, q, EnrollmentCreated, e); err != nil {
		return "", err
	}
	if consentHeld {
		return "", runHooks(ctx, q, s.onActivate, e)
	}
	return "", s.sendConfirmation(ctx, q, org, e, token)
}

// endImport ends a running import and records it in the audit log, with
// its counts and who stated consent, in q's transaction.
func (s *Service) endImport(ctx context.Context, q *store.Queries, li store.LearnerImport, course store.Course, to store.ImportStatus, failure string, at time.Time) error {
	ended, err := q.FinishLearnerImport(ctx, li.ID, to, failure, at)
	if err != nil || !ended {
		return err
	}
	values := map[string]string{"course": course.Title, "rows": strconv.Itoa(li.Total), "enrolled": strconv.Itoa(li.Enrolled),
		"reported": strconv.Itoa(li.ErrorCount), "status": string(to), "consent_held": "no"}
	if li.ConsentHeld {
		values["consent_held"] = "yes"
		values["consent_stated_by"] = li.ConsentStatedBy
		values["consent_stated_at"] = li.ConsentStatedAt.Format(time.RFC3339)
	}
	// The upload's actor, by the name recorded then: the account may be
	// gone, and an API key has none.
	actor := &store.User{Email: li.CreatedByName}
	if li.CreatedBy != nil {
		actor.ID = *li.CreatedBy
	}
	return orgs.Record(ctx, q, orgs.Event{Kind: orgs.LearnersImported, OrganizationID: li.OrganizationID, Actor: actor,
		Target: course.Title, New: values})
}

// failImport ends a running import as failed, with why.
func (s *Service) failImport(ctx context.Context, id int64, failure string) error {
	return s.db.InTx(ctx, func(q *store.Queries) error {
		li, err := q.LockLearnerImport(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		course, err := q.EnrollmentCourse(ctx, li.OrganizationID, li.CourseID)
		if err != nil {
			return err
		}
		return s.endImport(ctx, q, li, course, store.ImportFailed, failure, s.now().UTC())
	})
}
