package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/csvout"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// exportWriteTimeout is how long a client may take to read the next
// thousand rows of an export before the answer is cut. Each flush gives
// it that long again: the server's write timeout would otherwise cut any
// export that takes longer than it as a whole.
const exportWriteTimeout = time.Minute

// streamedResponse is an answer that csvout flushes as it writes.
type streamedResponse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s streamedResponse) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s streamedResponse) Flush() error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// exportFilename names an export's file: the organization's slug, what
// it holds and the day it was made, such as acme-enrollments-2026-03-01.csv.
// Slugs are ASCII letters, digits and hyphens, so the name needs no
// escaping in Content-Disposition.
func exportFilename(slug, kind string, at time.Time) string {
	return fmt.Sprintf("%s-%s-%s.csv", slug, kind, at.UTC().Format(time.DateOnly))
}

// streamCSV answers a CSV file: the header row, then each row that rows
// writes with write, flushed as it goes. Everything that can be refused
// was refused before (and answered as an API error); an error met once
// the file has begun cannot be answered any more, so the response is
// aborted, and the client sees a transfer that broke off rather than a
// file that looks whole.
func (s *Server) streamCSV(w http.ResponseWriter, r *http.Request, filename string, header []string,
	rows func(ctx context.Context, write func(cells ...string) error) error) {
	h := w.Header()
	h.Set("Content-Type", csvout.ContentType)
	h.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		// The routes' GET patterns answer HEAD too: its answer has no
		// body, so reading the rows would be work thrown away.
		w.WriteHeader(http.StatusOK)
		return
	}
	out := streamedResponse{w: w, rc: http.NewResponseController(w)}
	err := out.rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout))
	if errors.Is(err, http.ErrNotSupported) {
		err = nil
	}
	w.WriteHeader(http.StatusOK)
	cw := csvout.NewWriter(out)
	if err == nil {
		err = cw.Write(header...)
	}
	if err == nil {
		err = rows(r.Context(), cw.Write)
	}
	if err == nil {
		err = cw.Flush()
	}
	if err == nil {
		return
	}
	if r.Context().Err() != nil {
		s.logger.Info("client went away during an export", "path", loggedPath(r), "err", err)
	} else {
		s.logger.Error("export broken off", "path", loggedPath(r), "err", err)
	}
	panic(http.ErrAbortHandler)
}

func csvInt(n int) string { return strconv.Itoa(n) }

// orDash is a value of an audited change as the audit page shows it: an
// empty one is a dash.
func orDash(v string) string {
	if v == "" {
		return "—"
	}
	return v
}

var enrollmentExportHeader = []string{"id", "course_id", "course", "learner_email", "learner_name", "status",
	"created_at", "activated_at", "ended_at", "items_sent", "items_total",
	"quizzes_answered", "quizzes_passed", "quiz_attempts", "quiz_score_mean",
	"certificate_number", "certificate_revoked"}

func (s *Server) apiExportEnrollments(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	x, err := s.learning.ExportEnrollments(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		return err
	}
	release, err := s.exports.take(currentUser(r.Context()))
	if err != nil {
		return err
	}
	defer release()
	s.streamCSV(w, r, exportFilename(x.Slug, "enrollments", time.Now()), enrollmentExportHeader,
		func(ctx context.Context, write func(...string) error) error {
			var c cells
			return x.Each(ctx, func(e learning.ExportedEnrollment) error {
				answered, passed, attempts, mean := e.QuizSummary()
				c.reset()
				c.int(e.ID)
				c.int(e.CourseID)
				c.time(&e.CreatedAt)
				c.time(e.ActivatedAt)
				c.time(e.EndedAt)
				if mean != nil {
					c.int(int64(*mean))
				} else {
					c.empty()
				}
				v := c.values()
				revoked := ""
				if e.CertificateNumber != "" {
					revoked = strconv.FormatBool(e.CertificateRevoked)
				}
				return write(v[0], v[1], e.CourseTitle,
					e.LearnerEmail, e.LearnerName, string(e.Status),
					v[2], v[3], v[4], csvInt(e.ItemsSent), csvInt(e.ItemsTotal),
					csvInt(answered), csvInt(passed), csvInt(attempts), v[5],
					e.CertificateNumber, revoked)
			})
		})
	return nil
}

// cells formats a row's numbers, and its times as RFC 3339 in UTC to the
// second (nil: an empty cell), into one buffer that becomes one string,
// rather than a string each: an export writes millions of them.
type cells struct {
	buf  []byte
	ends []int
	list []string
}

func (c *cells) reset() { c.buf, c.ends = c.buf[:0], c.ends[:0] }

func (c *cells) int(n int64) {
	c.buf = strconv.AppendInt(c.buf, n, 10)
	c.ends = append(c.ends, len(c.buf))
}

func (c *cells) time(t *time.Time) {
	if t != nil {
		c.buf = t.UTC().AppendFormat(c.buf, time.RFC3339)
	}
	c.ends = append(c.ends, len(c.buf))
}

func (c *cells) empty() { c.ends = append(c.ends, len(c.buf)) }

// values returns the cells in the order they were added, valid until the
// next reset.
func (c *cells) values() []string {
	all := string(c.buf)
	c.list = c.list[:0]
	from := 0
	for _, end := range c.ends {
		c.list = append(c.list, all[from:end])
		from = end
	}
	return c.list
}

var learnerExportHeader = []string{"id", "email", "name", "created_at", "enrollments", "blocked"}

func (s *Server) apiExportLearners(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	x, err := s.learning.ExportLearners(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		return err
	}
	release, err := s.exports.take(currentUser(r.Context()))
	if err != nil {
		return err
	}
	defer release()
	s.streamCSV(w, r, exportFilename(x.Slug, "learners", time.Now()), learnerExportHeader,
		func(ctx context.Context, write func(...string) error) error {
			var c cells
			return x.Each(ctx, func(l store.LearnerExportRow) error {
				c.reset()
				c.int(l.ID)
				c.time(&l.CreatedAt)
				v := c.values()
				return write(v[0], l.Email, l.Name, v[1], csvInt(l.Enrollments), strconv.FormatBool(l.Blocked))
			})
		})
	return nil
}

var auditExportHeader = []string{"id", "created_at", "kind", "description", "actor_email", "target", "changes"}

func (s *Server) apiExportAudit(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	x, err := s.orgs.ExportAudit(r.Context(), currentUser(r.Context()), id, auditQuery(r))
	if err != nil {
		return err
	}
	release, err := s.exports.take(currentUser(r.Context()))
	if err != nil {
		return err
	}
	defer release()
	s.streamCSV(w, r, exportFilename(x.Slug, "audit-log", time.Now()), auditExportHeader,
		func(ctx context.Context, write func(...string) error) error {
			var (
				changes strings.Builder
				c       cells
			)
			return x.Each(ctx, func(e orgs.AuditEntry) error {
				changes.Reset()
				for i, c := range e.Changes {
					if i > 0 {
						changes.WriteByte('\n')
					}
					changes.WriteString(c.Label)
					changes.WriteString(": ")
					changes.WriteString(orDash(c.Old))
					changes.WriteString(" → ")
					changes.WriteString(orDash(c.New))
				}
				c.reset()
				c.int(e.ID)
				c.time(&e.CreatedAt)
				v := c.values()
				return write(v[0], v[1], e.Action, orgs.EventLabel(e.Action),
					e.ActorEmail, e.Target, changes.String())
			})
		})
	return nil
}
