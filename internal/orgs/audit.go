package orgs

import (
	"context"
	"sort"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/store"
)

// AuditPageSize is how many audit entries a page shows.
const AuditPageSize = 50

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

// AuditPage is a page of an organization's audit log, newest first.
type AuditPage struct {
	View
	Entries []AuditEntry
	// Next is the id to pass as before for the following page; 0 on the
	// last one.
	Next int64
}

// Audit returns up to AuditPageSize entries of an organization's audit
// log older than the entry before (0: the newest).
func (s *Service) Audit(ctx context.Context, actor *store.User, orgID, before int64) (AuditPage, error) {
	q := s.db.Read()
	v, err := Authorize(ctx, q, actor, orgID, access.ViewAuditLog)
	if err != nil {
		return AuditPage{}, err
	}
	list, err := q.AuditLog(ctx, orgID, before, AuditPageSize+1)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{View: v}
	if len(list) > AuditPageSize {
		list = list[:AuditPageSize]
		page.Next = list[len(list)-1].ID
	}
	for _, e := range list {
		page.Entries = append(page.Entries, AuditEntry{AuditEntry: e, Changes: changes(decodeValues(e.OldValue), decodeValues(e.NewValue))})
	}
	return page, nil
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
