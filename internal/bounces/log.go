package bounces

import (
	"context"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// LogPageSize is how many entries a page of the bounce log holds.
const LogPageSize = 50

// LogPage is one page of an organization's bounce log, newest first.
type LogPage struct {
	orgs.View
	Items []store.Bounce
	// Next is the id to continue below; 0 on the last page.
	Next int64
}

// Log returns the entries of an organization's bounce log below the id
// before (0: the newest), for anyone who may see the organization: its
// enrollment pages show the same bounces.
func (s *Service) Log(ctx context.Context, actor *store.User, orgID, before int64) (LogPage, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return LogPage{}, err
	}
	items, err := q.ListBounces(ctx, orgID, before, LogPageSize+1)
	if err != nil {
		return LogPage{}, err
	}
	p := LogPage{View: v, Items: items}
	if len(items) > LogPageSize {
		p.Items = items[:LogPageSize]
		p.Next = p.Items[LogPageSize-1].ID
	}
	return p, nil
}
