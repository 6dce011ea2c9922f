package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// importErrorsPerPage is how many reported rows the import's page shows
// at once.
const importErrorsPerPage = 100

// importJSON is a learner import in the API.
type importJSON struct {
	ID          int64             `json:"id"`
	CourseID    int64             `json:"course_id"`
	Status      string            `json:"status"`
	Total       int               `json:"total"`
	Done        int               `json:"done"`
	Enrolled    int               `json:"enrolled"`
	ErrorCount  int               `json:"error_count"`
	Errors      []importErrorJSON `json:"errors"`
	ConsentHeld bool              `json:"consent_held"`
	Failure     string            `json:"failure"`
	CreatedAt   time.Time         `json:"created_at"`
	FinishedAt  *time.Time        `json:"finished_at"`
}

type importErrorJSON struct {
	Line   int    `json:"line"`
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

func toImportJSON(v learning.ImportView) importJSON {
	li := v.Import
	j := importJSON{ID: li.ID, CourseID: li.CourseID, Status: string(li.Status), Total: li.Total, Done: li.Done, Enrolled: li.Enrolled,
		ErrorCount: li.ErrorCount, Errors: []importErrorJSON{}, ConsentHeld: li.ConsentHeld, Failure: li.Failure,
		CreatedAt: li.CreatedAt, FinishedAt: li.FinishedAt}
	for _, e := range v.Errors {
		j.Errors = append(j.Errors, importErrorJSON{Line: e.Line, Email: e.Email, Reason: e.Reason})
	}
	return j
}

// consentParam reads ?consent=: "held" states that the organization holds
// the learners' consent.
func consentParam(r *http.Request) (bool, error) {
	switch r.URL.Query().Get("consent") {
	case "":
		return false, nil
	case "held":
		return true, nil
	}
	return false, problem.New(problem.Malformed, "invalid_consent",
		"consent is \"held\" when the organization holds the learners' consent, or left out.")
}

// readImportBody reads a CSV upload, whole, within ImportMaxBytes and the
// upload timeout.
func (s *Server) readImportBody(w http.ResponseWriter, r *http.Request, body io.Reader) ([]byte, error) {
	read := s.uploadDeadline(w)
	data, err := io.ReadAll(io.LimitReader(body, learning.ImportMaxBytes+1))
	read(err)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, uploadTooSlow()
	case errors.As(err, new(*http.MaxBytesError)), err == nil && len(data) > learning.ImportMaxBytes:
		return nil, learning.ImportTooLarge()
	case err != nil:
		return nil, problem.New(problem.Malformed, "malformed_body", "The request body could not be read. Please try again.")
	}
	return data, nil
}

// apiImportCreate takes a CSV file of addresses (the body, text/csv) to
// enroll in a course; the job does the work, so the answer is 202 with
// the import as it starts.
func (s *Server) apiImportCreate(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		return err
	}
	user := currentUser(r.Context())
	// The body is read only for someone who may import.
	if err := s.learning.CheckImport(r.Context(), user, orgID, courseID); err != nil {
		return err
	}
	consent, err := consentParam(r)
	if err != nil {
		return err
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "text/csv" {
		return problem.New(problem.UnsupportedType, "unsupported_media_type", "Send the file as the request body, with the type text/csv.")
	}
	file, err := s.readImportBody(w, r, http.MaxBytesReader(w, r.Body, learning.ImportMaxBytes))
	if err != nil {
		return err
	}
	li, err := s.learning.StartImport(r.Context(), user, orgID, courseID, file, consent)
	if p, ok := problem.As(err); ok && p.Kind == problem.Throttled {
		w.Header().Set("Retry-After", "3600")
	}
	if err != nil {
		return err
	}
	v, err := s.learning.Import(r.Context(), user, orgID, courseID, li.ID, 1, learning.ImportErrorsKept)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/organizations/%d/courses/%d/imports/%d", orgID, courseID, li.ID))
	writeJSON(w, http.StatusAccepted, toImportJSON(v))
	return nil
}

// apiImportGet returns an import as it progresses, with every reported row
// it keeps.
func (s *Server) apiImportGet(w http.ResponseWriter, r *http.Request) error {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		return err
	}
	id, err := pathInt64(r, "import_id")
	if err != nil {
		return err
	}
	v, err := s.learning.Import(r.Context(), currentUser(r.Context()), orgID, courseID, id, 1, learning.ImportErrorsKept)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toImportJSON(v))
	return nil
}

// importsPage is the data of a course's imports page: the upload form
// and the imports made.
type importsPage struct {
	learning.ImportList
	formErrors
	Consent bool
}

func importsPath(orgID, courseID int64) string {
	return fmt.Sprintf("/email-learning/platform/organizations/%d/courses/%d/imports/", orgID, courseID)
}

func (s *Server) importList(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	list, err := s.learning.Imports(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "imports.html", "Import learners into "+list.Course.Title, importsPage{ImportList: list})
}

// importCreate takes the upload form: a multipart form with the file and
// the consent box.
func (s *Server) importCreate(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	if err := s.learning.CheckImport(r.Context(), user, orgID, courseID); err != nil {
		s.pageError(w, r, err)
		return
	}
	file, consent, readErr := s.readImportForm(w, r)
	r = answerable(r, readErr)
	err = readErr
	var li store.LearnerImport
	if err == nil {
		li, err = s.learning.StartImport(r.Context(), user, orgID, courseID, file, consent)
	}
	if err == nil {
		http.Redirect(w, r, fmt.Sprintf("%s%d/", importsPath(orgID, courseID), li.ID), http.StatusSeeOther)
		return
	}
	p, ok := problem.As(err)
	if !ok || p.Kind == problem.NotFound || p.Kind == problem.Forbidden {
		s.pageError(w, r, err)
		return
	}
	list, loadErr := s.learning.Imports(r.Context(), user, orgID, courseID)
	if loadErr != nil {
		s.pageError(w, r, loadErr)
		return
	}
	page := importsPage{ImportList: list, Consent: consent, formErrors: errorsFor(p, fieldSet{"file": true})}
	if fileProblems[p.Code] {
		page.formErrors = formErrors{Fields: map[string]string{"file": p.Message}}
	}
	s.render(w, r, statusOf(p.Kind), "imports.html", "Import learners into "+list.Course.Title, page)
}

// fileProblems are the problems with the file itself, shown beside it.
var fileProblems = map[string]bool{"not_csv": true, "malformed_csv": true, "empty_file": true, "too_many_rows": true,
	"file_too_large": true, "file_missing": true, "upload_timeout": true}

// readImportForm reads the upload form part by part: the consent box and
// the file, within ImportMaxBytes; the rest of a larger file is read past,
// up to a limit, so that the browser gets the page that says so.
func (s *Server) readImportForm(w http.ResponseWriter, r *http.Request) (file []byte, consent bool, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, 2*learning.ImportMaxBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, false, problem.New(problem.Malformed, "malformed_form", "Choose a CSV file to upload.")
	}
	var fileErr error
	seen := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.As(err, new(*http.MaxBytesError)) {
				return nil, consent, learning.ImportTooLarge()
			}
			return nil, consent, problem.New(problem.Malformed, "malformed_form", "The form could not be read. Please try again.")
		}
		switch part.FormName() {
		case "consent":
			v, _ := io.ReadAll(io.LimitReader(part, 16))
			consent = string(v) == "held"
		case "file":
			seen = true
			file, fileErr = s.readImportBody(w, r, part)
			if fileErr != nil {
				io.Copy(io.Discard, part)
			}
		}
		part.Close()
	}
	switch {
	case fileErr != nil:
		return nil, consent, fileErr
	case !seen || len(file) == 0:
		return nil, consent, problem.Field("file", "file_missing", "Choose a CSV file to upload.")
	}
	return file, consent, nil
}

// importPage is the data of an import's page.
type importPage struct {
	learning.ImportView
	Reported []reportedRow
}

type reportedRow struct {
	Line   int
	Email  string
	Reason string // as people read it
}

// Running tells whether the import goes on: the page then refreshes.
func (p importPage) Running() bool { return p.Import.Status == store.ImportRunning }

// Percent is how much of the file was worked, rounded down.
func (p importPage) Percent() int {
	if p.Import.Total == 0 {
		return 100
	}
	return p.Import.Done * 100 / p.Import.Total
}

// KeptAll tells whether every reported row is listed.
func (p importPage) KeptAll() bool { return p.Import.ErrorCount <= learning.ImportErrorsKept }

// ErrorsKept is how many reported rows are listed at most.
func (p importPage) ErrorsKept() int { return learning.ImportErrorsKept }

func (s *Server) importDetail(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	id, err := pathInt64(r, "import_id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	v, err := s.learning.Import(r.Context(), currentUser(r.Context()), orgID, courseID, id, page, importErrorsPerPage)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p := importPage{ImportView: v}
	for _, e := range v.Errors {
		p.Reported = append(p.Reported, reportedRow{Line: e.Line, Email: e.Email, Reason: learning.ImportReasonText(e.Reason)})
	}
	s.render(w, r, http.StatusOK, "import.html", fmt.Sprintf("Import %d into %s", v.Import.ID, v.Course.Title), p)
}
