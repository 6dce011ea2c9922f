package orgs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// AuditPageSize is how many audit entries a page shows, and the API's
// default; AuditMaxLimit is the most the API gives at once.
const (
	AuditPageSize = 50
	AuditMaxLimit = 200
)

// AuditEntry is one entry of an organization's audit log, with its values
// taken apart for display.
type AuditEntry struct {
	store.AuditEntry
	Changes []Change
}

// Change is one value an audited action changed.
type Change struct {
	Field    string
	Label    string // the field as people name it
	Old, New string
}

// AuditQuery selects entries of an audit log, as the page's form and the
// API give it. Empty fields select everything.
type AuditQuery struct {
	Kinds []string // event kinds, any of them
	Actor string   // the actor's email address
	// From and To are RFC 3339 times or dates (YYYY-MM-DD, UTC): entries
	// at or after From and before To; a date as To includes its day.
	From, To string
	Before   int64 // older than this entry: the previous page's last
	Limit    int   // 0: AuditPageSize; at most AuditMaxLimit
}

// AuditPage is a page of an organization's audit log, newest first.
type AuditPage struct {
	View
	Query   AuditQuery
	Entries []AuditEntry
	// Next is the id to pass as before for the following page; 0 on the
	// last one.
	Next int64
	// CanExport tells whether the actor may download the entries as CSV.
	CanExport bool
}

// Audit returns a page of the entries of an organization's audit log that
// the query selects, for those who may read the log. A query it cannot
// read is a Malformed problem naming the field; the page then still
// carries the organization.
func (s *Service) Audit(ctx context.Context, actor *store.User, orgID int64, aq AuditQuery) (AuditPage, error) {
	q := s.db.Read()
	v, err := Authorize(ctx, q, actor, orgID, access.ViewAuditLog)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{View: v, Query: aq, CanExport: access.Allowed(actor, v.Role, access.ExportAuditLog)}
	filter, limit, err := auditFilter(aq)
	if err != nil {
		return page, err
	}
	list, err := q.FilteredAuditLog(ctx, orgID, filter, limit+1)
	if err != nil {
		return page, err
	}
	if len(list) > limit {
		list = list[:limit]
		page.Next = list[len(list)-1].ID
	}
	for _, e := range list {
		page.Entries = append(page.Entries, AuditEntry{AuditEntry: e, Changes: changes(decodeValues(e.OldValue), decodeValues(e.NewValue))})
	}
	return page, nil
}

// auditFilter checks a query and turns it into the store's filter.
func auditFilter(aq AuditQuery) (store.AuditFilter, int, error) {
	f := store.AuditFilter{Before: aq.Before, ActorEmail: strings.ToLower(strings.TrimSpace(aq.Actor))}
	seen := map[string]bool{}
	for _, k := range aq.Kinds {
		if _, ok := eventLabels[EventKind(k)]; !ok {
			if len(k) > 60 {
				k = k[:60] + "…"
			}
			return f, 0, malformedQuery("kind", "unknown_kind", fmt.Sprintf("There is no event kind %q.", k))
		}
		if !seen[k] {
			seen[k] = true
			f.Actions = append(f.Actions, k)
		}
	}
	if len(f.ActorEmail) > 320 {
		return f, 0, malformedQuery("actor", "invalid_actor", "The actor is an email address, at most 320 characters long.")
	}
	var err error
	if f.From, err = auditTime("from", aq.From, false); err != nil {
		return f, 0, err
	}
	if f.To, err = auditTime("to", aq.To, true); err != nil {
		return f, 0, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, 0, malformedQuery("to", "invalid_time_range", "The end of the time range must come after its start.")
	}
	limit := aq.Limit
	switch {
	case limit == 0:
		limit = AuditPageSize
	case limit < 0 || limit > AuditMaxLimit:
		return f, 0, malformedQuery("limit", "invalid_limit", fmt.Sprintf("The limit is a whole number from 1 to %d.", AuditMaxLimit))
	}
	return f, limit, nil
}

// auditTime reads a bound of the time range: an RFC 3339 time, or a date
// in UTC, whose end is the next midnight when it ends the range.
func auditTime(field, value string, end bool) (time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return time.Time{}, nil
	}
	if d, err := time.Parse(time.DateOnly, value); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, malformedQuery(field, "invalid_time",
			fmt.Sprintf("The %q time is neither a date (2026-03-01) nor an RFC 3339 time (2026-03-01T09:30:00Z).", field))
	}
	return t.UTC(), nil
}

func malformedQuery(field, code, message string) error {
	return &problem.Error{Kind: problem.Malformed, Code: code, Message: message, Fields: map[string]string{field: message}}
}

// EventKinds lists every event kind, by label, for choosing among them.
func EventKinds() []EventKind {
	list := make([]EventKind, 0, len(eventLabels))
	for k := range eventLabels {
		list = append(list, k)
	}
	sort.Slice(list, func(i, j int) bool { return eventLabels[list[i]] < eventLabels[list[j]] })
	return list
}

func changes(old, new map[string]string) []Change {
	fields := map[string]bool{}
	for k := range old {
		fields[k] = true
	}
	for k := range new {
		fields[k] = true
	}
	list := make([]Change, 0, len(fields))
	for f := range fields {
		list = append(list, Change{Field: f, Label: FieldLabel(f), Old: old[f], New: new[f]})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Field < list[j].Field })
	return list
}

// AuditExportPageSize is how many entries an export of the audit log
// reads at a time.
const AuditExportPageSize = 1000

// AuditExport is the entries of an audit log that a query selects, ready
// to be read.
type AuditExport struct {
	View
	db     *store.DB
	filter store.AuditFilter
}

// ExportAudit checks that the actor may export the organization's audit
// log and the query's filters (as Audit does; its Before and Limit are
// not used), and returns the entries to be read with Each: refusals and
// bad filters come here, before anything is written.
func (s *Service) ExportAudit(ctx context.Context, actor *store.User, orgID int64, aq AuditQuery) (AuditExport, error) {
	v, err := Authorize(ctx, s.db.Read(), actor, orgID, access.ExportAuditLog)
	if err != nil {
		return AuditExport{}, err
	}
	aq.Before, aq.Limit = 0, 0
	filter, _, err := auditFilter(aq)
	if err != nil {
		return AuditExport{}, err
	}
	return AuditExport{View: v, db: s.db, filter: filter}, nil
}

// Each calls fn with every entry the query selects, newest first, a page
// at a time along the same indexes as the log's pages. It stops at fn's
// first error. An entry's Changes are valid until fn returns: the next
// entry's reuse their memory.
func (x AuditExport) Each(ctx context.Context, fn func(AuditEntry) error) error {
	q, f := x.db.Read(), x.filter
	var (
		list    []store.AuditEntry // each page read into the last one's memory
		changes changeReader
	)
	for {
		var err error
		list, err = q.FilteredAuditLogInto(ctx, x.ID, f, AuditExportPageSize, list)
		if err != nil {
			return fmt.Errorf("export the audit log: %w", err)
		}
		for _, e := range list {
			if err := fn(AuditEntry{AuditEntry: e, Changes: changes.read(e.OldValue, e.NewValue)}); err != nil {
				return err
			}
		}
		if len(list) < AuditExportPageSize {
			return nil
		}
		f.Before = list[len(list)-1].ID
	}
}
