package orgs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// MaxSuspensionReasonRunes is the longest reason given for a suspension.
const MaxSuspensionReasonRunes = 500

var (
	errAlreadySuspended = problem.New(problem.Conflict, "organization_suspended_already", "This organization is already suspended.")
	errNotSuspended     = problem.New(problem.Conflict, "organization_not_suspended", "This organization is not suspended.")
)

// Suspend suspends an organization: until it is resumed its staff and its
// API keys are refused (Authorize), its public pages answer that they are
// not available, and its deliveries are held. reason, optional, is for
// platform admins. Only they (and platform keys) may; anyone else gets
// what Authorize would give them (not found) or forbidden.
func (s *Service) Suspend(ctx context.Context, actor *store.User, orgID int64, reason string) (store.Organization, error) {
	reason = strings.TrimSpace(reason)
	if err := s.maySuspend(ctx, actor, orgID); err != nil {
		return store.Organization{}, fmt.Errorf("suspend organization %d: %w", orgID, err)
	}
	if err := checkSuspensionReason(reason); err != nil {
		return store.Organization{}, err
	}
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		org, err := organizationForSuspension(ctx, q, orgID)
		if err != nil {
			return err
		}
		var by *int64
		if actor.APIKey == nil {
			by = &actor.ID
		}
		switch err := q.SuspendOrganization(ctx, orgID, by, reason, s.now()); {
		case errors.Is(err, store.ErrConflict):
			return errAlreadySuspended
		case errors.Is(err, store.ErrNotFound):
			return ErrNotFound
		case err != nil:
			return err
		}
		held, err := q.HoldOrganizationDeliveries(ctx, orgID)
		if err != nil {
			return err
		}
		// The reason stays out of the log, which the organization's
		// admins read once it is resumed.
		return s.emit(ctx, q, Event{Kind: OrganizationSuspended, OrganizationID: orgID, Actor: actor, Target: org.Name,
			New: map[string]string{"deliveries_held": strconv.FormatInt(held, 10)}})
	})
	if err != nil {
		return store.Organization{}, fmt.Errorf("suspend organization %d: %w", orgID, err)
	}
	return s.db.Read().OrganizationByID(ctx, orgID)
}

// Resume ends an organization's suspension: its staff and keys work
// again, its public pages come back, and its held deliveries are
// scheduled again at their time, so the next pass sends them, late, in
// the order they were due.
func (s *Service) Resume(ctx context.Context, actor *store.User, orgID int64) (store.Organization, error) {
	if err := s.maySuspend(ctx, actor, orgID); err != nil {
		return store.Organization{}, fmt.Errorf("resume organization %d: %w", orgID, err)
	}
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		org, err := organizationForSuspension(ctx, q, orgID)
		if err != nil {
			return err
		}
		switch err := q.ResumeOrganization(ctx, orgID); {
		case errors.Is(err, store.ErrConflict):
			return errNotSuspended
		case errors.Is(err, store.ErrNotFound):
			return ErrNotFound
		case err != nil:
			return err
		}
		released, err := q.ReleaseOrganizationDeliveries(ctx, orgID)
		if err != nil {
			return err
		}
		return s.emit(ctx, q, Event{Kind: OrganizationResumed, OrganizationID: orgID, Actor: actor, Target: org.Name,
			New: map[string]string{"deliveries_released": strconv.FormatInt(released, 10)}})
	})
	if err != nil {
		return store.Organization{}, fmt.Errorf("resume organization %d: %w", orgID, err)
	}
	return s.db.Read().OrganizationByID(ctx, orgID)
}

// maySuspend checks that actor may suspend and resume organizations. Those
// who may not learn nothing more than Authorize tells them: an
// organization they cannot see is not found.
func (s *Service) maySuspend(ctx context.Context, actor *store.User, orgID int64) error {
	if access.AllowedOnPlatform(actor, access.SuspendOrganizations) {
		return nil
	}
	if _, err := Authorize(ctx, s.db.Read(), actor, orgID, access.ViewOrganization); err != nil {
		return err
	}
	return ErrForbidden
}

// organizationForSuspension reads the organization, for its name. It
// locks nothing: the conditional update that follows decides between
// concurrent suspensions (or resumptions), and on PostgreSQL it takes only
// the lock of an update that changes no key, which a delivery job
// recording an email (whose foreign key shares the organization's row)
// does not wait for. With the row locked FOR UPDATE first, such a job,
// holding the deliveries the suspension then updates, and the suspension
// would wait for each other.
func organizationForSuspension(ctx context.Context, q *store.Queries, orgID int64) (store.Organization, error) {
	org, err := q.OrganizationByID(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Organization{}, ErrNotFound
	}
	return org, err
}

func checkSuspensionReason(reason string) error {
	if utf8.RuneCountInString(reason) > MaxSuspensionReasonRunes {
		return problem.Field("reason", "reason_invalid",
			fmt.Sprintf("Keep the reason within %d characters.", MaxSuspensionReasonRunes))
	}
	if err := names.CheckText(reason); err != nil {
		return problem.Field("reason", "reason_invalid", "Write the reason on one line, without control characters.")
	}
	return nil
}

// PrepareSuspend returns the organization for the suspension's
// confirmation page, for those who may suspend it.
func (s *Service) PrepareSuspend(ctx context.Context, actor *store.User, orgID int64) (View, error) {
	if err := s.maySuspend(ctx, actor, orgID); err != nil {
		return View{}, err
	}
	return s.Get(ctx, actor, orgID)
}
