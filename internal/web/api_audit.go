package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
)

// organizationCountsJSON are the numbers of an organization's page.
type organizationCountsJSON struct {
	Members int `json:"members"`
	// Null for those who may not manage members, as the page shows them
	// no invitations.
	PendingInvitations *int           `json:"pending_invitations"`
	Courses            int            `json:"courses"`
	Learners           int            `json:"learners"`
	Enrollments        map[string]int `json:"enrollments"` // every status, 0 included
}

func organizationCounts(c orgs.Counts) *organizationCountsJSON {
	j := &organizationCountsJSON{Members: c.Members, PendingInvitations: c.PendingInvitations,
		Courses: c.Courses, Learners: c.Learners, Enrollments: map[string]int{}}
	for _, st := range learning.EnrollmentStatuses {
		j.Enrollments[st] = c.Enrollments[st]
	}
	return j
}

// auditQuery reads the audit log's filters from a page's or API request's
// query: kind (repeated or comma-separated), actor, from and to.
func auditQuery(r *http.Request) orgs.AuditQuery {
	v := r.URL.Query()
	aq := orgs.AuditQuery{Actor: v.Get("actor"), From: v.Get("from"), To: v.Get("to")}
	for _, kinds := range v["kind"] {
		for _, k := range strings.Split(kinds, ",") {
			if k = strings.TrimSpace(k); k != "" {
				aq.Kinds = append(aq.Kinds, k)
			}
		}
	}
	return aq
}

// auditCursorPrefix starts every audit cursor, so that another list's
// cursor is refused rather than read as an entry.
const auditCursorPrefix = "audit:"

// auditCursor is the cursor of the page after the entry with this id:
// opaque to clients, who pass it back as it is.
func auditCursor(before int64) string {
	if before == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(auditCursorPrefix + strconv.FormatInt(before, 10)))
}

func parseAuditCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	id, ok := strings.CutPrefix(string(b), auditCursorPrefix)
	n, perr := strconv.ParseInt(id, 10, 64)
	if err != nil || !ok || perr != nil || n < 1 {
		return 0, problem.New(problem.Malformed, "invalid_cursor", "The cursor is not one this API gave out.")
	}
	return n, nil
}

// auditEntryJSON is an entry of the audit log in the API: the kind keeps
// its identifier, which the pages show as a label.
type auditEntryJSON struct {
	ID           int64             `json:"id"`
	Kind         string            `json:"kind"`
	ActorID      *int64            `json:"actor_id"`
	ActorEmail   string            `json:"actor_email"`
	Target       string            `json:"target"`
	TargetUserID *int64            `json:"target_user_id"`
	Changes      []auditChangeJSON `json:"changes"`
	CreatedAt    time.Time         `json:"created_at"`
}

type auditChangeJSON struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

func auditEntry(e orgs.AuditEntry) auditEntryJSON {
	j := auditEntryJSON{ID: e.ID, Kind: e.Action, ActorID: e.ActorID, ActorEmail: e.ActorEmail, Target: e.Target,
		TargetUserID: e.TargetUserID, Changes: make([]auditChangeJSON, 0, len(e.Changes)), CreatedAt: e.CreatedAt}
	for _, c := range e.Changes {
		j.Changes = append(j.Changes, auditChangeJSON{Field: c.Field, Old: c.Old, New: c.New})
	}
	return j
}

func (s *Server) apiAuditLog(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	aq := auditQuery(r)
	if aq.Before, err = parseAuditCursor(r.URL.Query().Get("cursor")); err != nil {
		return err
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		if aq.Limit, err = strconv.Atoi(l); err != nil || aq.Limit < 1 {
			return problem.Newf(problem.Malformed, "invalid_limit", "The limit is a whole number from 1 to %d.", orgs.AuditMaxLimit)
		}
	}
	page, err := s.orgs.Audit(r.Context(), currentUser(r.Context()), id, aq)
	if err != nil {
		return err
	}
	out := listJSON[auditEntryJSON]{Items: make([]auditEntryJSON, 0, len(page.Entries)), NextCursor: auditCursor(page.Next)}
	for _, e := range page.Entries {
		out.Items = append(out.Items, auditEntry(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// auditPage is the audit log page: the entries, the filters' form and the
// link to older entries with the same filters.
type auditPage struct {
	orgs.AuditPage
	Kind     string // the kind chosen in the form
	Kinds    []eventKindOption
	OlderURL string
	// ExportURL downloads the entries the filters select; "" for those
	// who may not, or for filters the log cannot read.
	ExportURL string
	formErrors
}

type eventKindOption struct{ Kind, Label string }

// auditOlderURL is the address of the page after next, with the filters
// of this one.
func auditOlderURL(aq orgs.AuditQuery, next int64) string {
	if next == 0 {
		return ""
	}
	v := auditFilterValues(aq)
	v.Set("before", strconv.FormatInt(next, 10))
	return "?" + v.Encode()
}

// auditExportURL is the address of the CSV file of the entries the
// filters select.
func auditExportURL(orgID int64, aq orgs.AuditQuery) string {
	u := fmt.Sprintf("/api/v1/organizations/%d/exports/audit.csv", orgID)
	if q := auditFilterValues(aq).Encode(); q != "" {
		u += "?" + q
	}
	return u
}

// auditFilterValues are the filters of a query as a query string holds
// them.
func auditFilterValues(aq orgs.AuditQuery) url.Values {
	v := url.Values{}
	for _, k := range aq.Kinds {
		v.Add("kind", k)
	}
	for name, value := range map[string]string{"actor": aq.Actor, "from": aq.From, "to": aq.To} {
		if value != "" {
			v.Set(name, value)
		}
	}
	return v
}

// reportsJSON is the reports page as the API gives it: an object, so that
// series over time can join the courses later.
type reportsJSON struct {
	Courses []courseReportJSON `json:"courses"`
	Totals  reportTotalsJSON   `json:"totals"`
	Series  activityJSON       `json:"series"`
}

type courseReportJSON struct {
	CourseID int64  `json:"course_id"`
	Title    string `json:"title"`
	Enabled  bool   `json:"enabled"`
	reportTotalsJSON
}

// reportTotalsJSON are the enrollments of a course, or of all, by status.
type reportTotalsJSON struct {
	Enrollments map[string]int `json:"enrollments"` // every status, 0 included
	Total       int            `json:"total"`
	Confirmed   int            `json:"confirmed"`
	// CompletionRate is completed / confirmed, from 0 to 1; null when
	// none was confirmed.
	CompletionRate *float64 `json:"completion_rate"`
}

func reportTotals(c learning.ReportCounts) reportTotalsJSON {
	j := reportTotalsJSON{Enrollments: map[string]int{}, Total: c.Total, Confirmed: c.Confirmed}
	for i, st := range learning.EnrollmentStatuses {
		j.Enrollments[st] = c.Counts[i]
	}
	if c.Confirmed > 0 {
		rate := c.CompletionRate / 100
		j.CompletionRate = &rate
	}
	return j
}

func (s *Server) apiReports(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rep, err := s.learning.Reports(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		return err
	}
	rng, err := reportRange(r)
	if err != nil {
		return err
	}
	act, err := s.learning.Activity(r.Context(), currentUser(r.Context()), id, rng)
	if err != nil {
		return err
	}
	out := reportsJSON{Courses: make([]courseReportJSON, 0, len(rep.Courses)), Totals: reportTotals(rep.Totals), Series: toActivityJSON(act)}
	for _, c := range rep.Courses {
		out.Courses = append(out.Courses, courseReportJSON{CourseID: c.CourseID, Title: c.Title, Enabled: c.Enabled,
			reportTotalsJSON: reportTotals(c.ReportCounts)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
