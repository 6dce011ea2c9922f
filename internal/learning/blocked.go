package learning

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Blocking an address stops every future email to it from the
// organization (or, platform-wide, from every organization): enrollment
// requests from it are answered as usual but send nothing, and the
// delivery engine checks store.EmailBlocked before each email. Its
// enrollments keep their status, so lifting the block resumes them.

// ErrNotBlocked answers the removal of an address that is not blocked.
var ErrNotBlocked = problem.New(problem.NotFound, "not_blocked", "This address is not blocked.")

// BlockedPage is one page of blocked addresses: an organization's, or,
// with PlatformWide, those blocked for every organization.
type BlockedPage struct {
	orgs.View    // the organization; empty when PlatformWide
	PlatformWide bool
	Items        []store.BlockedEmail
	Total        int
	Page         int // from 1
	Pages        int
	// CanManage tells whether the actor may add and remove addresses.
	CanManage bool
}

// BlockedEmails returns one page of an organization's blocked addresses,
// for anyone who may see the organization.
func (s *Service) BlockedEmails(ctx context.Context, actor *store.User, orgID int64, page int) (BlockedPage, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return BlockedPage{}, err
	}
	p, err := blockedPage(ctx, q, orgID, page)
	p.View, p.CanManage = v, access.Allowed(actor, v.Role, access.ManageEnrollments)
	return p, err
}

// PlatformBlockedEmails returns one page of the addresses blocked for
// every organization, for platform admins.
func (s *Service) PlatformBlockedEmails(ctx context.Context, actor *store.User, page int) (BlockedPage, error) {
	if !access.AllowedOnPlatform(actor, access.ManageBlockedEmails) {
		return BlockedPage{}, orgs.ErrForbidden
	}
	p, err := blockedPage(ctx, s.db.Read(), 0, page)
	p.PlatformWide, p.CanManage = true, true
	return p, err
}

func blockedPage(ctx context.Context, q *store.Queries, orgID int64, page int) (BlockedPage, error) {
	page = max(page, 1)
	items, total, err := q.ListBlockedEmails(ctx, orgID, store.Offset(page, PageSize), PageSize)
	if err != nil {
		return BlockedPage{}, err
	}
	return BlockedPage{Items: items, Total: total, Page: page, Pages: pages(total)}, nil
}

// BlockEmail blocks an address for an organization.
func (s *Service) BlockEmail(ctx context.Context, actor *store.User, orgID int64, email string) (store.BlockedEmail, error) {
	var b store.BlockedEmail
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageEnrollments); err != nil {
			return err
		}
		var err error
		b, err = block(ctx, q, actor, orgID, email)
		return err
	})
	if err != nil {
		return store.BlockedEmail{}, fmt.Errorf("block address in organization %d: %w", orgID, err)
	}
	return b, nil
}

// UnblockEmail lifts an organization's block of an address; a
// platform-wide block of it stays.
func (s *Service) UnblockEmail(ctx context.Context, actor *store.User, orgID int64, email string) error {
	return s.UnblockEmailNoted(ctx, actor, orgID, email, "")
}

// MaxUnblockNote is the longest note an unblock takes, in characters.
const MaxUnblockNote = 500

// UnblockEmailNoted is UnblockEmail with a note saying why (a learner
// whose mailbox works again), which the audit log keeps with the entry
// every unblock writes: a block mailschool made after a bounce is lifted
// by a person, on the record.
func (s *Service) UnblockEmailNoted(ctx context.Context, actor *store.User, orgID int64, email, note string) error {
	note = strings.TrimSpace(note)
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ManageEnrollments); err != nil {
			return err
		}
		if utf8.RuneCountInString(note) > MaxUnblockNote {
			return problem.Field("note", "note_too_long", fmt.Sprintf("The note is longer than %d characters.", MaxUnblockNote))
		}
		if err := unblock(ctx, q, orgID, email); err != nil {
			return err
		}
		e := orgs.Event{Kind: orgs.AddressUnblocked, OrganizationID: orgID, Actor: actor, Target: strings.ToLower(strings.TrimSpace(email))}
		if note != "" {
			e.New = map[string]string{"note": note}
		}
		return orgs.Record(ctx, q, e)
	})
	if err != nil {
		return fmt.Errorf("unblock address in organization %d: %w", orgID, err)
	}
	return nil
}

// BlockEmailEverywhere blocks an address for every organization, for
// platform admins.
func (s *Service) BlockEmailEverywhere(ctx context.Context, actor *store.User, email string) (store.BlockedEmail, error) {
	if !access.AllowedOnPlatform(actor, access.ManageBlockedEmails) {
		return store.BlockedEmail{}, orgs.ErrForbidden
	}
	var b store.BlockedEmail
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		b, err = block(ctx, q, actor, 0, email)
		return err
	})
	if err != nil {
		return store.BlockedEmail{}, fmt.Errorf("block address platform-wide: %w", err)
	}
	return b, nil
}

// UnblockEmailEverywhere lifts a platform-wide block; organizations'
// own blocks of the address stay.
func (s *Service) UnblockEmailEverywhere(ctx context.Context, actor *store.User, email string) error {
	if !access.AllowedOnPlatform(actor, access.ManageBlockedEmails) {
		return orgs.ErrForbidden
	}
	err := s.db.InTx(ctx, func(q *store.Queries) error { return unblock(ctx, q, 0, email) })
	if err != nil {
		return fmt.Errorf("unblock address platform-wide: %w", err)
	}
	return nil
}

func block(ctx context.Context, q *store.Queries, actor *store.User, orgID int64, email string) (store.BlockedEmail, error) {
	email, err := auth.NormalizeEmail(email)
	if err != nil {
		return store.BlockedEmail{}, err
	}
	b, err := q.BlockEmail(ctx, orgID, email, actor.ID)
	if errors.Is(err, store.ErrConflict) {
		msg := fmt.Sprintf("%s is blocked already.", email)
		return store.BlockedEmail{}, problem.FieldConflict("email", "already_blocked", msg)
	}
	return b, err
}

func unblock(ctx context.Context, q *store.Queries, orgID int64, email string) error {
	email, err := auth.NormalizeEmail(email)
	if err != nil {
		return err
	}
	if err := q.UnblockEmail(ctx, orgID, email); errors.Is(err, store.ErrNotFound) {
		return ErrNotBlocked
	} else if err != nil {
		return err
	}
	return nil
}
