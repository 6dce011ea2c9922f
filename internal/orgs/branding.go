package orgs

import (
	"context"
	"errors"

	"github.com/mailschool/mailschool/internal/store"
)

// Branding returns the organization that a learner-facing page speaks for:
// its name and logo head the page. Unlike Public, it also returns an
// organization that is switched off, whose emails' unsubscribe links must
// keep working; whether to link to its public page is the caller's choice
// (only an active one has one).
func (s *Service) Branding(ctx context.Context, orgID int64) (store.Organization, error) {
	org, err := s.db.Read().OrganizationByID(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Organization{}, ErrNotFound
	}
	return org, err
}
