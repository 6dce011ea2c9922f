// Package orgs holds the rules of organizations: who may see, create, edit
// and delete them, what a valid name, slug, description and logo are, and
// the public page's view of them.
package orgs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/logo"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"golang.org/x/text/unicode/norm"
)

// Limits of the organization fields.
const (
	MaxNameRunes        = 200
	MaxDescriptionRunes = 2000
	MaxSlugLength       = 60
	PageSize            = 25
	MembersPageSize     = 50
)

// Limits of the sender identity: the From display name, and the postal
// address printed at the foot of course emails.
const (
	MaxSenderNameRunes    = 100
	MaxPostalAddressRunes = 500
	MaxPostalAddressLines = 10
)

// DefaultInvitationTTL is how long an invitation link works.
const DefaultInvitationTTL = 7 * 24 * time.Hour

// Errors every caller may meet.
var (
	ErrNotFound  = problem.New(problem.NotFound, "organization_not_found", "There is no such organization.")
	ErrForbidden = problem.New(problem.Forbidden, "forbidden", "You are not allowed to do this in this organization.")
	// ErrSuspended answers the staff of a suspended organization, on
	// every page and API route inside it.
	ErrSuspended = problem.New(problem.Forbidden, "organization_suspended",
		"This organization is suspended. Contact the platform's administrators.")
	// ErrUnavailable answers the public pages of a suspended
	// organization; it says nothing of why.
	ErrUnavailable = problem.New(problem.Gone, "not_available", "This page is not available.")
	// ErrKeyNeedsOwner: an organization made with a platform key needs an
	// existing account as its owner.
	ErrKeyNeedsOwner = problem.Field("owner_email", "owner_required",
		"An organization created with an API key needs an owner: give the email address of an existing account.")
)

// Config configures a Service.
type Config struct {
	// Mail sends invitations and notices; operations that send email
	// fail without it.
	Mail *mail.Service
	// BaseURL is the site's absolute URL, for links in emails.
	BaseURL string
	// InvitationTTL is how long an invitation link works; default
	// DefaultInvitationTTL.
	InvitationTTL time.Duration
	// Signup says who may sign up for an organization of their own.
	Signup SignupPolicy
}

// Service applies the organization rules on top of the store.
type Service struct {
	db            *store.DB
	mail          *mail.Service
	baseURL       string
	invitationTTL time.Duration
	signup        SignupPolicy
	hooks         []Hook
	now           func() time.Time
	// revokedUses lets the audit log record a revoked key's use once a
	// minute per key and node, so a forgotten script cannot flood it.
	revokedUses *auth.Limiter
}

// NewService returns the organization service backed by db.
func NewService(db *store.DB, cfg Config) *Service {
	if cfg.InvitationTTL <= 0 {
		cfg.InvitationTTL = DefaultInvitationTTL
	}
	return &Service{db: db, mail: cfg.Mail, baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		revokedUses:   auth.NewLimiter(auth.Limit{Every: time.Minute, Burst: 1}),
		invitationTTL: cfg.InvitationTTL, signup: cfg.Signup, now: time.Now}
}

// SetClock replaces the service's clock, for tests of expiry.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// View is an organization as one user sees it: with the user's role and
// what the user may do there.
type View struct {
	store.Organization
	Role             access.Role
	CanEdit          bool
	CanDelete        bool
	CanManageMembers bool
	CanTransfer      bool
	CanViewAudit     bool
	CanEditContent   bool
	// CanSuspend: the actor may suspend the organization, or resume it.
	CanSuspend bool
}

// Authorize loads the organization and the actor's role in it, and checks
// that the actor may take action there. An organization the actor may not
// even see is reported as not found, so ids do not reveal what exists.
// Every package that acts inside an organization starts here.
func Authorize(ctx context.Context, q *store.Queries, actor *store.User, orgID int64, action access.Action) (View, error) {
	if actor == nil {
		return View{}, ErrForbidden
	}
	org, role, err := q.OrganizationAndRole(ctx, orgID, actor.ID)
	if errors.Is(err, store.ErrNotFound) {
		return View{}, ErrNotFound
	}
	if err != nil {
		return View{}, err
	}
	v := View{Organization: org, Role: access.RoleIn(actor, orgID, access.Role(role))}
	if !access.Allowed(actor, v.Role, access.ViewOrganization) {
		return View{}, ErrNotFound
	}
	if org.Suspended() && !access.EntersSuspended(actor) {
		return View{}, ErrSuspended
	}
	if !access.Allowed(actor, v.Role, action) {
		return View{}, ErrForbidden
	}
	v.CanEdit = access.Allowed(actor, v.Role, access.EditOrganization)
	v.CanDelete = access.Allowed(actor, v.Role, access.DeleteOrganization)
	v.CanManageMembers = access.Allowed(actor, v.Role, access.ManageMembers)
	v.CanTransfer = access.Allowed(actor, v.Role, access.TransferOwnership)
	v.CanViewAudit = access.Allowed(actor, v.Role, access.ViewAuditLog)
	v.CanEditContent = access.Allowed(actor, v.Role, access.EditContent)
	v.CanSuspend = access.AllowedOnPlatform(actor, access.SuspendOrganizations)
	return v, nil
}

// Page is one page of a list of organizations.
type Page struct {
	Items    []ListItem
	Total    int
	Page     int // from 1
	Pages    int
	Search   string
	CanAdd   bool
	PageSize int
}

// ListItem is an organization in a list, with what the actor may do to it.
type ListItem struct {
	store.OrganizationSummary
	CanEdit   bool
	CanDelete bool
}

// List returns the organizations the actor may see, by name: every one
// for platform admins, the actor's own for everyone else.
func (s *Service) List(ctx context.Context, actor *store.User, search string, page int) (Page, error) {
	if actor == nil {
		return Page{}, ErrForbidden
	}
	page = max(page, 1)
	f := store.OrganizationFilter{Search: search, Offset: store.Offset(page, PageSize), Limit: PageSize, ActorID: actor.ID}
	if !access.AllowedOnPlatform(actor, access.ViewAllOrganizations) {
		f.MemberID = actor.ID
	}
	if actor.APIKey != nil && actor.APIKey.OrganizationID != 0 {
		f.OrganizationID, f.MemberID, f.ActorID = actor.APIKey.OrganizationID, 0, 0
	}
	summaries, total, err := s.db.Read().ListOrganizations(ctx, f)
	if err != nil {
		return Page{}, err
	}
	items := make([]ListItem, len(summaries))
	for i, o := range summaries {
		role := access.RoleIn(actor, o.ID, access.Role(o.ActorRole))
		enters := !o.Suspended() || access.EntersSuspended(actor)
		items[i] = ListItem{OrganizationSummary: o,
			CanEdit:   enters && access.Allowed(actor, role, access.EditOrganization),
			CanDelete: enters && access.Allowed(actor, role, access.DeleteOrganization)}
	}
	return Page{Items: items, Total: total, Page: page, Pages: max(1, (total+PageSize-1)/PageSize), Search: search,
		CanAdd: s.MayCreate(actor), PageSize: PageSize}, nil
}

// Switchable lists the organizations offered in the actor's organization
// switcher: the ones the actor belongs to. Platform admins reach the
// others through the organizations list, which may be long.
func (s *Service) Switchable(ctx context.Context, actor *store.User) ([]store.OrganizationName, error) {
	return s.db.Read().MemberOrganizations(ctx, actor.ID)
}

// Get returns an organization the actor may see.
func (s *Service) Get(ctx context.Context, actor *store.User, orgID int64) (View, error) {
	return Authorize(ctx, s.db.Read(), actor, orgID, access.ViewOrganization)
}

// Detail is an organization with a page of its members and, for those who
// manage members, its open invitations: its page.
type Detail struct {
	View
	Members     []MemberView
	MemberCount int
	Page        int // of the members, from 1
	Pages       int
	Invitations []InvitationView
	// Offer is the open offer of the ownership, for the owner and the
	// member it names; nil otherwise.
	Offer  *store.OwnershipOffer
	Counts Counts
}

// Counts are an organization's numbers as its page shows them.
type Counts struct {
	Members int
	// PendingInvitations counts the open, unexpired invitations; nil for
	// those who may not manage members, who do not see invitations.
	PendingInvitations *int
	Courses            int
	Learners           int
	Enrollments        map[string]int // by status; a status without any is absent
}

// MemberView is a member as the actor sees them: with what the actor may
// do to them.
type MemberView struct {
	store.Member
	CanChangeRole bool
	CanRemove     bool
	IsActor       bool
}

// GetDetail returns an organization the actor may see, with one page of
// its members and, when the actor manages members, its open invitations.
func (s *Service) GetDetail(ctx context.Context, actor *store.User, orgID int64, page int) (Detail, error) {
	q := s.db.Read()
	v, err := Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return Detail{}, err
	}
	page = max(page, 1)
	c, err := q.CountOrganization(ctx, orgID, time.Now())
	if err != nil {
		return Detail{}, err
	}
	members, err := q.OrganizationMembers(ctx, orgID, store.Offset(page, MembersPageSize), MembersPageSize)
	if err != nil {
		return Detail{}, err
	}
	total := c.Members
	d := Detail{View: v, MemberCount: total, Page: page, Pages: max(1, (total+MembersPageSize-1)/MembersPageSize)}
	d.Counts = Counts{Members: c.Members, Courses: c.Courses, Learners: c.Learners, Enrollments: c.Enrollments}
	for _, m := range members {
		d.Members = append(d.Members, s.memberView(actor, v.Role, m))
	}
	if v.CanManageMembers {
		if d.Invitations, err = s.openInvitations(ctx, q, orgID); err != nil {
			return Detail{}, err
		}
		d.Counts.PendingInvitations = &c.PendingInvitations
	}
	switch offer, err := ownershipOffer(ctx, q, actor, v); {
	case err == nil:
		d.Offer = &offer
	case !errors.Is(err, ErrNoOwnershipOffer):
		return Detail{}, err
	}
	return d, nil
}

func (s *Service) memberView(actor *store.User, actorRole access.Role, m store.Member) MemberView {
	target := access.Role(m.Role)
	return MemberView{Member: m, IsActor: m.UserID == actor.ID,
		CanChangeRole: access.OnMember(actor, actorRole, access.ChangeRole, m.UserID, target) == access.Allow,
		CanRemove:     access.OnMember(actor, actorRole, access.RemoveMember, m.UserID, target) == access.Allow,
	}
}

// Fields are the values of an organization form or API request. On update,
// nil leaves a field as it is.
type Fields struct {
	Name        *string
	Description *string
	Slug        *string   // update only: the slug stays unless an admin edits it
	Logo        io.Reader // a new logo; nil keeps the current one
	RemoveLogo  bool
	// The sender identity of course emails; empty strings restore the
	// defaults (the organization's name, no Reply-To, no postal address).
	SenderName    *string
	ReplyTo       *string
	PostalAddress *string
	// OwnerEmail, on create only, names the owner when a platform admin
	// creates an organization for someone else; empty makes the actor
	// the owner.
	OwnerEmail string
}

// Create adds an organization, with its logo if one is given. The actor
// becomes its owner, unless f.OwnerEmail names someone else: an existing
// user becomes the owner at once; an unknown address is invited as owner,
// and the actor holds the ownership until the invitation is accepted.
func (s *Service) Create(ctx context.Context, actor *store.User, f Fields) (store.Organization, error) {
	if !s.MayCreate(actor) {
		return store.Organization{}, ErrForbidden
	}
	if !access.AllowedOnPlatform(actor, access.CreateOrganization) && strings.TrimSpace(f.OwnerEmail) != "" && !strings.EqualFold(strings.TrimSpace(f.OwnerEmail), actor.Email) {
		return store.Organization{}, problem.Field("owner_email", "owner_not_settable",
			"Only platform admins create organizations for someone else: leave the owner empty to own it yourself.")
	}
	name, description, sender, err := validate(deref(f.Name), deref(f.Description),
		store.Sender{Name: deref(f.SenderName), ReplyTo: deref(f.ReplyTo), PostalAddress: deref(f.PostalAddress)})
	if err != nil {
		return store.Organization{}, err
	}
	ownerEmail := ""
	if strings.TrimSpace(f.OwnerEmail) != "" {
		if ownerEmail, err = normalizeEmail("owner_email", f.OwnerEmail); err != nil {
			return store.Organization{}, err
		}
	}
	img, err := processLogo(ctx, f.Logo)
	if err != nil {
		return store.Organization{}, err
	}
	var org store.Organization
	err = s.db.InTx(ctx, func(q *store.Queries) error {
		if org, err = s.create(ctx, q, actor, name, description, sender); err != nil {
			return err
		}
		if img != nil {
			if err := q.SetOrganizationLogo(ctx, org.ID, storeLogo(*img)); err != nil {
				return err
			}
		}
		return s.assignFirstOwner(ctx, q, actor, org, ownerEmail)
	})
	if err != nil {
		return store.Organization{}, fmt.Errorf("create organization: %w", err)
	}
	return s.db.Read().OrganizationByID(ctx, org.ID)
}

// MayCreate reports whether the actor may create an organization: platform
// admins, and, while sign-up admits their address, any user, for
// themselves.
func (s *Service) MayCreate(actor *store.User) bool {
	return access.MayCreateOrganization(actor, actor != nil && s.signup.Admits(actor.Email))
}

// SetsOwners reports whether the actor may name another owner of an
// organization they create.
func SetsOwners(actor *store.User) bool {
	return access.AllowedOnPlatform(actor, access.CreateOrganization)
}

// create inserts an organization with a validated name, description and
// sender, and records its creation by actor. It has no owner yet.
func (s *Service) create(ctx context.Context, q *store.Queries, actor *store.User, name, description string, sender store.Sender) (store.Organization, error) {
	if taken, err := nameTaken(ctx, q, name, 0); err != nil {
		return store.Organization{}, err
	} else if taken {
		return store.Organization{}, errNameTaken(name)
	}
	if err := checkSenderName(ctx, q, sender.Name, name, 0); err != nil {
		return store.Organization{}, err
	}
	slug, err := freeSlug(ctx, q, Slugify(name))
	if err != nil {
		return store.Organization{}, err
	}
	org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: name, NameKey: nameKey(name), NameSkeleton: names.Key(name),
		Slug: slug, Description: description, Sender: sender})
	if errors.Is(err, store.ErrConflict) {
		return store.Organization{}, errNameTaken(name) // a concurrent request took it first
	}
	if err != nil {
		return store.Organization{}, err
	}
	err = s.emit(ctx, q, Event{Kind: OrganizationCreated, OrganizationID: org.ID, Actor: actor, Target: name,
		New: map[string]string{"name": name, "slug": slug}})
	return org, err
}

// assignFirstOwner makes the owner of a new organization: the actor, or
// the user with ownerEmail, or, for an unknown address, the actor until
// the invitation sent to it is accepted.
func (s *Service) assignFirstOwner(ctx context.Context, q *store.Queries, actor *store.User, org store.Organization, ownerEmail string) error {
	if actor.APIKey != nil {
		// A key has no account to own the organization.
		owner, err := q.UserByEmail(ctx, ownerEmail)
		if errors.Is(err, store.ErrNotFound) || ownerEmail == "" {
			return ErrKeyNeedsOwner
		}
		if err != nil {
			return err
		}
		return s.addMember(ctx, q, actor, org, owner, access.Owner, true)
	}
	if ownerEmail == "" || ownerEmail == actor.Email {
		return s.addMember(ctx, q, actor, org, *actor, access.Owner, false)
	}
	owner, err := q.UserByEmail(ctx, ownerEmail)
	switch {
	case err == nil:
		return s.addMember(ctx, q, actor, org, owner, access.Owner, true)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if err := s.addMember(ctx, q, actor, org, *actor, access.Owner, false); err != nil {
		return err
	}
	_, err = s.invite(ctx, q, actor, org, ownerEmail, access.Owner)
	return err
}

// Update changes the given fields of an organization. Fields not given,
// the logo included, stay as they are.
func (s *Service) Update(ctx context.Context, actor *store.User, orgID int64, f Fields) (store.Organization, error) {
	if f.Logo != nil {
		// A logo is decoded before the transaction, so that the write lock
		// is not held meanwhile; only for someone who may edit, so that
		// nobody else makes the server decode images or learns what it
		// thinks of them. The transaction checks again.
		if _, err := Authorize(ctx, s.db.Read(), actor, orgID, access.EditOrganization); err != nil {
			return store.Organization{}, fmt.Errorf("update organization %d: %w", orgID, err)
		}
	}
	img, err := processLogo(ctx, f.Logo)
	if err != nil {
		return store.Organization{}, err
	}
	err = s.db.InTx(ctx, func(q *store.Queries) error {
		v, err := Authorize(ctx, q, actor, orgID, access.EditOrganization)
		if err != nil {
			return err
		}
		name, description, sender, err := validate(or(f.Name, v.Name), or(f.Description, v.Description), store.Sender{
			Name: or(f.SenderName, v.Sender.Name), ReplyTo: or(f.ReplyTo, v.Sender.ReplyTo), PostalAddress: or(f.PostalAddress, v.Sender.PostalAddress)})
		if err != nil {
			return err
		}
		slug := v.Slug
		if f.Slug != nil && *f.Slug != v.Slug {
			if slug, err = validSlug(*f.Slug); err != nil {
				return err
			}
			if taken, err := q.OrganizationSlugTaken(ctx, slug, orgID); err != nil {
				return err
			} else if taken {
				return slugTaken(slug)
			}
		}
		shared, err := keepName(ctx, q, v.Organization, name)
		if err != nil {
			return err
		}
		if sender.Name != v.Sender.Name || name != v.Name {
			if err := checkSenderName(ctx, q, sender.Name, name, orgID); err != nil {
				return err
			}
		}
		err = q.UpdateOrganization(ctx, orgID, store.OrganizationFields{Name: name, NameKey: nameKey(name),
			NameSkeleton: names.Key(name), NameSkeletonShared: shared, Slug: slug, Description: description, Sender: sender})
		if errors.Is(err, store.ErrConflict) {
			return problem.New(problem.Conflict, "conflict", "Another change to this organization's name or address came first. Reload and try again.")
		}
		if err != nil {
			return err
		}
		old, changed := map[string]string{}, map[string]string{}
		note := func(field, before, after string) {
			if before != after {
				old[field], changed[field] = before, after
			}
		}
		note("name", v.Name, name)
		note("description", v.Description, description)
		note("slug", v.Slug, slug)
		note("sender_name", v.Sender.Name, sender.Name)
		note("reply_to", v.Sender.ReplyTo, sender.ReplyTo)
		note("postal_address", v.Sender.PostalAddress, sender.PostalAddress)
		switch {
		case img != nil:
			if err := q.SetOrganizationLogo(ctx, orgID, storeLogo(*img)); err != nil {
				return err
			}
			note("logo", trimETag(v.LogoETag), trimETag(img.ETag))
		case f.RemoveLogo && v.LogoETag != "":
			if err := q.DeleteOrganizationLogo(ctx, orgID); err != nil {
				return err
			}
			note("logo", trimETag(v.LogoETag), "")
		}
		if len(changed) == 0 {
			return nil
		}
		return s.emit(ctx, q, Event{Kind: OrganizationUpdated, OrganizationID: orgID, Actor: actor, Target: "settings", Old: old, New: changed})
	})
	if err != nil {
		return store.Organization{}, fmt.Errorf("update organization %d: %w", orgID, err)
	}
	return s.db.Read().OrganizationByID(ctx, orgID)
}

// trimETag names a logo version in the audit log without the quotes of
// an HTTP entity tag.
func trimETag(etag string) string { return strings.Trim(etag, `"`) }

// Removal is what deleting an organization would remove.
type Removal struct {
	View
	Contents store.OrganizationContents
}

// PrepareDelete returns what deleting an organization would remove, for
// the confirmation page.
func (s *Service) PrepareDelete(ctx context.Context, actor *store.User, orgID int64) (Removal, error) {
	q := s.db.Read()
	v, err := Authorize(ctx, q, actor, orgID, access.DeleteOrganization)
	if err != nil {
		return Removal{}, err
	}
	c, err := q.CountOrganizationContents(ctx, orgID)
	if err != nil {
		return Removal{}, err
	}
	return Removal{View: v, Contents: c}, nil
}

// Delete removes an organization and everything it owns in one
// transaction. confirmName must repeat the organization's name, so that a
// slip of the hand deletes nothing.
func (s *Service) Delete(ctx context.Context, actor *store.User, orgID int64, confirmName string) error {
	return s.db.InTx(ctx, func(q *store.Queries) error {
		v, err := Authorize(ctx, q, actor, orgID, access.DeleteOrganization)
		if err != nil {
			return err
		}
		if !sameName(confirmName, v.Name) {
			return problem.Field("confirm_name", "confirmation_mismatch",
				fmt.Sprintf("Type the organization's name, %q, to confirm the deletion.", v.Name))
		}
		// Hooks hear of the deletion; its audit entry goes with the rest.
		if err := s.emit(ctx, q, Event{Kind: OrganizationDeleted, OrganizationID: orgID, Actor: actor, Target: v.Name}); err != nil {
			return err
		}
		return q.DeleteOrganization(ctx, orgID)
	})
}

// Public returns an active organization and its public, enabled courses,
// for the public page; anyone may see it. A suspended one is
// ErrUnavailable.
func (s *Service) Public(ctx context.Context, orgID int64) (store.Organization, []store.Course, error) {
	q := s.db.Read()
	org, err := q.OrganizationByID(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !org.IsActive) {
		return store.Organization{}, nil, ErrNotFound
	}
	if err != nil {
		return store.Organization{}, nil, err
	}
	if org.Suspended() {
		return store.Organization{}, nil, ErrUnavailable
	}
	courses, err := q.PublicCourses(ctx, orgID)
	if err != nil {
		return store.Organization{}, nil, err
	}
	return org, courses, nil
}

// IDBySlug returns the id of the active organization with a slug;
// ErrUnavailable when it is suspended.
func (s *Service) IDBySlug(ctx context.Context, slug string) (int64, error) {
	org, err := s.db.Read().OrganizationBySlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !org.IsActive) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if org.Suspended() {
		return 0, ErrUnavailable
	}
	return org.ID, nil
}

// Logo returns the logo of an active organization.
func (s *Service) Logo(ctx context.Context, orgID int64) (store.Logo, error) {
	l, err := s.db.Read().OrganizationLogo(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Logo{}, problem.New(problem.NotFound, "logo_not_found", "This organization has no logo.")
	}
	return l, err
}

// validate checks and cleans a name, a description and a sender
// identity, and reports every field in error at once.
func validate(name, description string, sender store.Sender) (string, string, store.Sender, error) {
	name, nameErr := names.Clean(name)
	description = strings.TrimSpace(strings.ReplaceAll(description, "\r\n", "\n"))
	fields := map[string]string{}
	switch {
	case nameErr != nil:
		fields["name"] = names.Message("name", nameErr)
	case name == "":
		fields["name"] = "Enter a name."
	case utf8.RuneCountInString(name) > MaxNameRunes:
		fields["name"] = fmt.Sprintf("The name is too long: use at most %d characters.", MaxNameRunes)
	}
	switch {
	case !utf8.ValidString(description):
		fields["description"] = "The description is not valid text."
	case utf8.RuneCountInString(description) > MaxDescriptionRunes:
		fields["description"] = fmt.Sprintf("The description is too long: use at most %d characters.", MaxDescriptionRunes)
	case strings.ContainsFunc(description, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		fields["description"] = "The description may not contain control characters."
	}
	sender = validateSender(sender, fields)
	if len(fields) > 0 {
		return "", "", store.Sender{}, &problem.Error{Kind: problem.Invalid, Code: "invalid_organization", Message: "The organization was not saved: correct the marked fields.", Fields: fields}
	}
	return name, description, sender, nil
}

// validateSender cleans a sender identity, adding to fields what is wrong
// with it. The name becomes the display name of a From header: it is
// cleaned as other names are (no line breaks, invisible or text-direction
// characters), and may not hold the characters that make a name look like
// an address; it is encoded when the header is written, whatever it holds.
func validateSender(s store.Sender, fields map[string]string) store.Sender {
	name, err := names.Clean(s.Name)
	switch {
	case err != nil:
		fields["sender_name"] = names.Message("sender name", err)
	case utf8.RuneCountInString(name) > MaxSenderNameRunes:
		fields["sender_name"] = fmt.Sprintf("The sender name is too long: use at most %d characters.", MaxSenderNameRunes)
	case strings.ContainsAny(name, `<>"@`):
		fields["sender_name"] = `The sender name may not contain <, >, " or @: it is shown as a name, beside the platform's address.`
	}
	replyTo := strings.TrimSpace(s.ReplyTo)
	if replyTo != "" {
		if replyTo, err = auth.NormalizeEmail(replyTo); err != nil {
			fields["reply_to"] = "Enter a valid email address for replies, or leave it empty."
		}
	}
	postal, problemText := cleanPostalAddress(s.PostalAddress)
	if problemText != "" {
		fields["postal_address"] = problemText
	}
	return store.Sender{Name: name, ReplyTo: replyTo, PostalAddress: postal}
}

// cleanPostalAddress trims each line of a postal address and the address
// as a whole, or says what is wrong with it.
func cleanPostalAddress(text string) (string, string) {
	if !utf8.ValidString(text) {
		return "", "The postal address is not valid text."
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if err := names.CheckText(line); err != nil {
			return "", names.Message("postal address", err) + " Put each part on a line of its own."
		}
		lines[i] = line
	}
	text = strings.Trim(strings.Join(lines, "\n"), "\n")
	switch {
	case utf8.RuneCountInString(text) > MaxPostalAddressRunes:
		return "", fmt.Sprintf("The postal address is too long: use at most %d characters.", MaxPostalAddressRunes)
	case strings.Count(text, "\n")+1 > MaxPostalAddressLines:
		return "", fmt.Sprintf("The postal address is too long: use at most %d lines.", MaxPostalAddressLines)
	}
	return text, ""
}

// checkSenderName refuses a sender name that is, or looks like, another
// organization's name: as organization names are unique for likeness, so
// that one organization cannot pass for another in a learner's inbox.
// The organization's own name is always allowed.
func checkSenderName(ctx context.Context, q *store.Queries, senderName, orgName string, orgID int64) error {
	if senderName == "" || names.Key(senderName) == names.Key(orgName) {
		return nil
	}
	taken, err := nameTaken(ctx, q, senderName, orgID)
	if err != nil || !taken {
		return err
	}
	return problem.FieldConflict("sender_name", "sender_name_taken",
		fmt.Sprintf("%q is the name of another organization: choose a name of your own.", senderName))
}

// nameTaken reports whether an organization other than except has the
// name in another case, or a name that looks like it.
func nameTaken(ctx context.Context, q *store.Queries, name string, except int64) (bool, error) {
	return q.OrganizationNameTaken(ctx, nameKey(name), names.Key(name), except)
}

// keepName checks the name an organization is saved with, and reports
// whether its skeleton is to be marked shared. A name that looks like
// another organization's is refused, unless it is the organization's own,
// unchanged: the two were there before names were compared for likeness
// (see store.nameSkeletonsMigration). The organization then keeps its
// skeleton shared while another holds it unshared, and takes it over when
// none does.
func keepName(ctx context.Context, q *store.Queries, org store.Organization, name string) (shared bool, err error) {
	taken, err := nameTaken(ctx, q, name, org.ID)
	switch {
	case err != nil || !taken:
		return false, err
	case name != org.Name:
		return false, errNameTaken(name)
	}
	return q.OrganizationSkeletonHeld(ctx, names.Key(name), org.ID)
}

// sameName reports whether what a person typed is the name: as they would
// have saved it.
func sameName(typed, name string) bool {
	cleaned, err := names.Clean(typed)
	return strings.TrimSpace(typed) == name || err == nil && cleaned == name
}

func errNameTaken(name string) error {
	msg := fmt.Sprintf("An organization named %q already exists.", name)
	return problem.FieldConflict("name", "name_taken", msg)
}

func slugTaken(slug string) error {
	msg := fmt.Sprintf("The address %q is taken by another organization.", slug)
	return problem.FieldConflict("slug", "slug_taken", msg)
}

// nameKey is a name as compared for uniqueness, beside names.Key: case
// does not count. It also orders and finds organizations by name.
func nameKey(name string) string { return strings.ToLower(name) }

// slugLetters spells the lower-case Latin letters that have no
// decomposition in ASCII.
var slugLetters = strings.NewReplacer("ß", "ss", "æ", "ae", "œ", "oe", "ø", "o", "đ", "d", "ð", "d",
	"þ", "th", "ł", "l", "ı", "i", "ħ", "h", "ŧ", "t", "ŋ", "ng", "ĸ", "k")

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Slugify turns a name into a URL slug: lower-case ASCII letters and
// digits joined by single hyphens, "organization" when nothing is left.
// Other Latin letters are transliterated rather than dropped: decomposed
// (NFKD) with their accents and other marks left out, so "Schöol" gives
// "school" and "École" "ecole", the same in every language (a German
// "oe" for "ö" would be wrong in Finnish or Turkish); the letters that do
// not decompose (ß, æ, ø, ł, ...) are spelt out by slugLetters.
func Slugify(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range norm.NFKD.String(slugLetters.Replace(strings.ToLower(name))) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			hyphen = false
		case unicode.Is(unicode.Mn, r):
			// An accent of the letter before: the letter stays whole.
		default:
			hyphen = true
		}
	}
	slug := b.String()
	if len(slug) > MaxSlugLength-4 { // room for a "-123" suffix
		slug = strings.TrimRight(slug[:MaxSlugLength-4], "-")
	}
	if slug == "" {
		return "organization"
	}
	return slug
}

// freeSlug returns base, or base with the smallest free numeric suffix.
func freeSlug(ctx context.Context, q *store.Queries, base string) (string, error) {
	slug := base
	for i := 2; ; i++ {
		taken, err := q.OrganizationSlugTaken(ctx, slug, 0)
		if err != nil || !taken {
			return slug, err
		}
		slug = fmt.Sprintf("%s-%d", base, i)
	}
}

func validSlug(slug string) (string, error) {
	slug = strings.TrimSpace(slug)
	if len(slug) > MaxSlugLength || !slugPattern.MatchString(slug) {
		return "", problem.Field("slug", "invalid_slug",
			fmt.Sprintf("The address may hold lower-case letters, digits and single hyphens, at most %d characters.", MaxSlugLength))
	}
	return slug, nil
}

func processLogo(ctx context.Context, r io.Reader) (*logo.Image, error) {
	if r == nil {
		return nil, nil
	}
	img, err := logo.Process(ctx, r)
	if p, ok := problem.As(err); ok {
		// Forms show the message next to the logo field.
		return nil, &problem.Error{Kind: p.Kind, Code: p.Code, Message: p.Message, Fields: map[string]string{"logo": p.Message}}
	}
	if err != nil {
		return nil, err
	}
	return &img, nil
}

func storeLogo(img logo.Image) store.Logo {
	return store.Logo{ContentType: img.ContentType, Data: img.Data, ETag: img.ETag,
		ThumbContentType: img.ThumbContentType, Thumb: img.Thumb, ThumbETag: img.ThumbETag}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func or(s *string, fallback string) string {
	if s == nil {
		return fallback
	}
	return *s
}

// Summary is one organization on the platform home, with the numbers that
// matter today.
type Summary struct {
	ID             int64
	Name           string
	Role           access.Role
	ActiveLearners int
	EmailsSentDay  int        // sent in the last 24 hours
	NextDelivery   *time.Time // the earliest scheduled delivery; nil when nothing is scheduled
}

// Overview lists the organizations the actor is a member of, by name, with
// their numbers: each number is one query across all of them.
func (s *Service) Overview(ctx context.Context, actor *store.User) ([]Summary, error) {
	q := s.db.Read()
	memberships, err := q.UserMemberships(ctx, actor.ID)
	if err != nil || len(memberships) == 0 {
		return nil, err
	}
	learners, err := q.MemberActiveLearners(ctx, actor.ID)
	if err != nil {
		return nil, err
	}
	sent, err := q.MemberEmailsSent(ctx, actor.ID, time.Now().Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	next, err := q.MemberNextDeliveries(ctx, actor.ID)
	if err != nil {
		return nil, err
	}
	var list []Summary
	for _, m := range memberships {
		role := access.Role(m.Role)
		if !access.Allowed(actor, role, access.ViewOrganization) {
			continue
		}
		sum := Summary{ID: m.OrganizationID, Name: m.OrganizationName, Role: role,
			ActiveLearners: learners[m.OrganizationID], EmailsSentDay: sent[m.OrganizationID]}
		if due, ok := next[m.OrganizationID]; ok {
			sum.NextDelivery = &due
		}
		list = append(list, sum)
	}
	return list, nil
}

// AdmitImported checks the name and sender identity of an organization
// brought in from an export as creating one checks them, inside the
// import's transaction, and returns its fields with a free slug: the one
// it had when no organization here holds it, else that slug numbered.
func AdmitImported(ctx context.Context, q *store.Queries, name, description, slug string, sender store.Sender) (store.OrganizationFields, error) {
	name, description, sender, err := validate(name, description, sender)
	if err != nil {
		return store.OrganizationFields{}, err
	}
	if taken, err := nameTaken(ctx, q, name, 0); err != nil {
		return store.OrganizationFields{}, err
	} else if taken {
		return store.OrganizationFields{}, errNameTaken(name)
	}
	if err := checkSenderName(ctx, q, sender.Name, name, 0); err != nil {
		return store.OrganizationFields{}, err
	}
	if slug, err = validSlug(slug); err != nil {
		slug = Slugify(name)
	}
	if slug, err = freeSlug(ctx, q, slug); err != nil {
		return store.OrganizationFields{}, err
	}
	return store.OrganizationFields{Name: name, NameKey: nameKey(name), NameSkeleton: names.Key(name),
		Slug: slug, Description: description, Sender: sender}, nil
}
