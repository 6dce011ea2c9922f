package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Organization is a tenant: it owns courses, learners and memberships.
type Organization struct {
	ID          int64
	Name        string
	Slug        string
	Description string
	IsActive    bool
	LogoETag    string // empty when the organization has no logo
	Sender      Sender
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// SuspendedAt is when a platform admin suspended the organization;
	// nil while it is active. SuspendedBy (nil once the account is gone,
	// or for a platform key) and SuspensionReason are for platform admins.
	SuspendedAt      *time.Time
	SuspendedBy      *int64
	SuspensionReason string
}

// Suspended reports whether the organization is suspended.
func (o Organization) Suspended() bool { return o.SuspendedAt != nil }

// Sender is how an organization signs the emails that speak for it: the
// From display name, the Reply-To address and the postal address of the
// footer. Empty values mean the default: the organization's name, no
// Reply-To, no postal address.
type Sender struct {
	Name          string
	ReplyTo       string
	PostalAddress string
}

// OrganizationSummary is an organization with the counts shown in lists.
type OrganizationSummary struct {
	Organization
	MemberCount int
	CourseCount int
	ActorRole   string // the role of the filter's ActorID in it; "" for none
}

const organizationColumns = `o.id, o.name, o.slug, o.description, o.is_active, COALESCE(l.etag, ''),
	o.sender_name, o.reply_to, o.postal_address, o.created_at, o.updated_at,
	o.suspended_at, o.suspended_by, o.suspension_reason`

const organizationFrom = `organizations o LEFT JOIN organization_logos l ON l.organization_id = o.id`

func scanOrganization(r row, extra ...any) (Organization, error) {
	var (
		o           Organization
		suspendedAt sql.NullTime
		suspendedBy sql.NullInt64
	)
	dest := append([]any{&o.ID, &o.Name, &o.Slug, &o.Description, &o.IsActive, &o.LogoETag,
		&o.Sender.Name, &o.Sender.ReplyTo, &o.Sender.PostalAddress, &o.CreatedAt, &o.UpdatedAt,
		&suspendedAt, &suspendedBy, &o.SuspensionReason}, extra...)
	if err := r.Scan(dest...); err != nil {
		return Organization{}, err
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	o.SuspendedAt, o.SuspendedBy = nullTime(suspendedAt), nullInt(suspendedBy)
	return o, nil
}

// OrganizationByID returns an organization, or ErrNotFound.
func (q *Queries) OrganizationByID(ctx context.Context, id int64) (Organization, error) {
	o, err := scanOrganization(q.queryRow(ctx, `SELECT `+organizationColumns+` FROM `+organizationFrom+` WHERE o.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Organization{}, ErrNotFound
	}
	if err != nil {
		return Organization{}, fmt.Errorf("organization %d: %w", id, err)
	}
	return o, nil
}

// OrganizationAndRole returns an organization and the role of a user in
// it ("" when not a member), or ErrNotFound: what authorizing a request
// reads, in one statement.
func (q *Queries) OrganizationAndRole(ctx context.Context, id, userID int64) (Organization, string, error) {
	var role string
	o, err := scanOrganization(q.queryRow(ctx, `
		SELECT `+organizationColumns+`,
			COALESCE((SELECT m.role FROM memberships m WHERE m.organization_id = o.id AND m.user_id = ?), '')
		FROM `+organizationFrom+` WHERE o.id = ?`, userID, id), &role)
	if errors.Is(err, sql.ErrNoRows) {
		return Organization{}, "", ErrNotFound
	}
	if err != nil {
		return Organization{}, "", fmt.Errorf("organization %d: %w", id, err)
	}
	return o, role, nil
}

// OrganizationBySlug returns the organization with a slug, or ErrNotFound.
func (q *Queries) OrganizationBySlug(ctx context.Context, slug string) (Organization, error) {
	o, err := scanOrganization(q.queryRow(ctx, `SELECT `+organizationColumns+` FROM `+organizationFrom+` WHERE o.slug = ?`, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return Organization{}, ErrNotFound
	}
	if err != nil {
		return Organization{}, fmt.Errorf("organization %q: %w", slug, err)
	}
	return o, nil
}

// OrganizationFilter selects organizations for a list.
type OrganizationFilter struct {
	MemberID int64 // only organizations this user belongs to; 0 for all
	// OrganizationID selects this organization alone (an API key's); 0
	// for all.
	OrganizationID int64
	ActorID        int64  // whose role to report in each summary; 0 for nobody's
	Search         string // part of the name, any case
	Offset         int
	Limit          int
}

// ListOrganizations returns one page of organizations by name, with member
// and course counts, and how many match in all.
func (q *Queries) ListOrganizations(ctx context.Context, f OrganizationFilter) ([]OrganizationSummary, int, error) {
	where := []string{"1 = 1"}
	var args []any
	if f.MemberID != 0 {
		where = append(where, `EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = o.id AND m.user_id = ?)`)
		args = append(args, f.MemberID)
	}
	if f.OrganizationID != 0 {
		where = append(where, `o.id = ?`)
		args = append(args, f.OrganizationID)
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		where = append(where, `o.name_key LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(s))+"%")
	}
	cond := strings.Join(where, " AND ")

	rs, err := q.query(ctx, `
		SELECT `+organizationColumns+`,
			(SELECT COUNT(*) FROM memberships m WHERE m.organization_id = o.id),
			(SELECT COUNT(*) FROM courses c WHERE c.organization_id = o.id),
			COALESCE((SELECT m.role FROM memberships m WHERE m.organization_id = o.id AND m.user_id = ?), '')
		FROM `+organizationFrom+` WHERE `+cond+`
		ORDER BY o.name_key, o.id LIMIT ? OFFSET ?`, append(append([]any{f.ActorID}, args...), f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list organizations: %w", err)
	}
	defer rs.Close()
	var list []OrganizationSummary
	for rs.Next() {
		var s OrganizationSummary
		if s.Organization, err = scanOrganization(rs, &s.MemberCount, &s.CourseCount, &s.ActorRole); err != nil {
			return nil, 0, fmt.Errorf("list organizations: %w", err)
		}
		list = append(list, s)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, fmt.Errorf("list organizations: %w", err)
	}
	// A page that is not full is the last one, and its rows give the
	// total: most people's whole list is one such page.
	if len(list) < f.Limit && (len(list) > 0 || f.Offset == 0) {
		return list, f.Offset + len(list), nil
	}
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM organizations o WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count organizations: %w", err)
	}
	return list, total, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// AllOrganizations lists every organization by name.
func (q *Queries) AllOrganizations(ctx context.Context) ([]Organization, error) {
	return q.organizations(ctx, `SELECT `+organizationColumns+` FROM `+organizationFrom+` ORDER BY o.name_key, o.id`)
}

// OrganizationName is an organization's id and name, all that a list of
// choices shows.
type OrganizationName struct {
	ID   int64
	Name string
}

// MemberOrganizations lists the organizations a user belongs to, by name.
func (q *Queries) MemberOrganizations(ctx context.Context, userID int64) ([]OrganizationName, error) {
	rs, err := q.query(ctx, `
		SELECT o.id, o.name FROM memberships m JOIN organizations o ON o.id = m.organization_id
		WHERE m.user_id = ? ORDER BY o.name_key, o.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("organizations of user %d: %w", userID, err)
	}
	defer rs.Close()
	var list []OrganizationName
	for rs.Next() {
		var o OrganizationName
		if err := rs.Scan(&o.ID, &o.Name); err != nil {
			return nil, fmt.Errorf("organizations of user %d: %w", userID, err)
		}
		list = append(list, o)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("organizations of user %d: %w", userID, err)
	}
	return list, nil
}

func (q *Queries) organizations(ctx context.Context, query string, args ...any) ([]Organization, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	defer rs.Close()
	var list []Organization
	for rs.Next() {
		o, err := scanOrganization(rs)
		if err != nil {
			return nil, fmt.Errorf("list organizations: %w", err)
		}
		list = append(list, o)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	return list, nil
}

// OrganizationFields are the editable fields of an organization. NameKey
// (the name in lower case) and NameSkeleton (names.Key of the name) are
// what names are compared on; each is unique, but a skeleton marked
// shared, which an older organization has too, is left out.
type OrganizationFields struct {
	Name               string
	NameKey            string
	NameSkeleton       string
	NameSkeletonShared bool
	Slug               string
	Description        string
	Sender             Sender
}

// CreateOrganization inserts an active organization. A taken name or slug
// gives ErrConflict.
func (q *Queries) CreateOrganization(ctx context.Context, f OrganizationFields) (Organization, error) {
	t := now()
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO organizations (name, name_key, name_skeleton, name_skeleton_shared, slug, description,
			sender_name, reply_to, postal_address, is_active, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?) RETURNING id`,
		f.Name, f.NameKey, f.NameSkeleton, f.NameSkeletonShared, f.Slug, f.Description,
		f.Sender.Name, f.Sender.ReplyTo, f.Sender.PostalAddress, t, t).Scan(&id)
	if isUniqueViolation(err) {
		return Organization{}, fmt.Errorf("create organization %q: %w", f.Name, ErrConflict)
	}
	if err != nil {
		return Organization{}, fmt.Errorf("create organization %q: %w", f.Name, err)
	}
	return q.OrganizationByID(ctx, id)
}

// UpdateOrganization replaces the editable fields of an organization.
func (q *Queries) UpdateOrganization(ctx context.Context, id int64, f OrganizationFields) error {
	n, err := q.exec(ctx, `
		UPDATE organizations SET name = ?, name_key = ?, name_skeleton = ?, name_skeleton_shared = ?, slug = ?, description = ?,
			sender_name = ?, reply_to = ?, postal_address = ?, updated_at = ?
		WHERE id = ?`,
		f.Name, f.NameKey, f.NameSkeleton, f.NameSkeletonShared, f.Slug, f.Description,
		f.Sender.Name, f.Sender.ReplyTo, f.Sender.PostalAddress, now(), id)
	if isUniqueViolation(err) {
		return fmt.Errorf("update organization %d: %w", id, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("update organization %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("update organization %d: %w", id, ErrNotFound)
	}
	return nil
}

// OrganizationNameTaken reports whether another organization than except
// has the name key or the name skeleton, shared or not.
func (q *Queries) OrganizationNameTaken(ctx context.Context, nameKey, nameSkeleton string, except int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM organizations WHERE (name_key = ? OR name_skeleton = ?) AND id <> ?`, nameKey, nameSkeleton, except)
}

// OrganizationSkeletonHeld reports whether another organization than
// except has the name skeleton and holds it in the unique index (it is not
// marked shared).
func (q *Queries) OrganizationSkeletonHeld(ctx context.Context, nameSkeleton string, except int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM organizations WHERE name_skeleton = ? AND NOT name_skeleton_shared AND id <> ?`, nameSkeleton, except)
}

// OrganizationSlugTaken reports whether another organization than except
// has the slug.
func (q *Queries) OrganizationSlugTaken(ctx context.Context, slug string, except int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM organizations WHERE slug = ? AND id <> ?`, slug, except)
}

func (q *Queries) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := q.queryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check existence: %w", err)
	}
	return true, nil
}

// OrganizationContents counts what an organization owns, for the delete
// confirmation.
type OrganizationContents struct {
	Courses     int
	Members     int
	Emails      int
	Learners    int
	Enrollments int
	HasLogo     bool
}

// CountOrganizationContents counts the rows that deleting an organization
// removes.
func (q *Queries) CountOrganizationContents(ctx context.Context, id int64) (OrganizationContents, error) {
	var c OrganizationContents
	var logos int
	err := q.queryRow(ctx, `
		SELECT
			(SELECT COUNT(*) FROM courses WHERE organization_id = ?),
			(SELECT COUNT(*) FROM memberships WHERE organization_id = ?),
			(SELECT COUNT(*) FROM mail_messages WHERE organization_id = ?),
			(SELECT COUNT(*) FROM learners WHERE organization_id = ?),
			(SELECT COUNT(*) FROM enrollments WHERE organization_id = ?),
			(SELECT COUNT(*) FROM organization_logos WHERE organization_id = ?)`,
		id, id, id, id, id, id).Scan(&c.Courses, &c.Members, &c.Emails, &c.Learners, &c.Enrollments, &logos)
	if err != nil {
		return OrganizationContents{}, fmt.Errorf("count contents of organization %d: %w", id, err)
	}
	c.HasLogo = logos > 0
	return c, nil
}

// DeleteOrganization removes an organization; foreign keys cascade to
// everything it owns.
func (q *Queries) DeleteOrganization(ctx context.Context, id int64) error {
	n, err := q.exec(ctx, `DELETE FROM organizations WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete organization %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete organization %d: %w", id, ErrNotFound)
	}
	return nil
}

// Logo is a stored organization logo: the image and its thumbnail.
type Logo struct {
	ContentType      string
	Data             []byte
	ETag             string
	ThumbContentType string
	Thumb            []byte
	ThumbETag        string
}

// SetOrganizationLogo stores or replaces an organization's logo.
func (q *Queries) SetOrganizationLogo(ctx context.Context, orgID int64, l Logo) error {
	_, err := q.exec(ctx, `
		INSERT INTO organization_logos (organization_id, content_type, data, etag, thumb_content_type, thumb, thumb_etag, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (organization_id) DO UPDATE SET
			content_type = excluded.content_type, data = excluded.data, etag = excluded.etag,
			thumb_content_type = excluded.thumb_content_type, thumb = excluded.thumb, thumb_etag = excluded.thumb_etag,
			updated_at = excluded.updated_at`,
		orgID, l.ContentType, l.Data, l.ETag, l.ThumbContentType, l.Thumb, l.ThumbETag, now())
	if err != nil {
		return fmt.Errorf("store logo of organization %d: %w", orgID, err)
	}
	return nil
}

// DeleteOrganizationLogo removes an organization's logo, if it has one.
func (q *Queries) DeleteOrganizationLogo(ctx context.Context, orgID int64) error {
	if _, err := q.exec(ctx, `DELETE FROM organization_logos WHERE organization_id = ?`, orgID); err != nil {
		return fmt.Errorf("remove logo of organization %d: %w", orgID, err)
	}
	return nil
}

// OrganizationLogo returns the logo of an active organization, or
// ErrNotFound.
func (q *Queries) OrganizationLogo(ctx context.Context, orgID int64) (Logo, error) {
	var l Logo
	err := q.queryRow(ctx, `
		SELECT l.content_type, l.data, l.etag, l.thumb_content_type, l.thumb, l.thumb_etag
		FROM organization_logos l JOIN organizations o ON o.id = l.organization_id
		WHERE l.organization_id = ? AND o.is_active`, orgID).
		Scan(&l.ContentType, &l.Data, &l.ETag, &l.ThumbContentType, &l.Thumb, &l.ThumbETag)
	if errors.Is(err, sql.ErrNoRows) {
		return Logo{}, ErrNotFound
	}
	if err != nil {
		return Logo{}, fmt.Errorf("logo of organization %d: %w", orgID, err)
	}
	return l, nil
}

// OrganizationCounts are the numbers of an organization's page.
type OrganizationCounts struct {
	Members            int
	PendingInvitations int // open and not expired
	Courses            int
	Learners           int
	Enrollments        map[string]int // by status; a status without any is absent
}

// CountOrganization counts an organization's members, pending
// invitations, courses, learners and enrollments by status, each by an
// index on the organization.
func (q *Queries) CountOrganization(ctx context.Context, id int64, now time.Time) (OrganizationCounts, error) {
	c := OrganizationCounts{Enrollments: map[string]int{}}
	err := q.queryRow(ctx, `
		SELECT
			(SELECT COUNT(*) FROM memberships WHERE organization_id = ?),
			(SELECT COUNT(*) FROM invitations WHERE organization_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?),
			(SELECT COUNT(*) FROM courses WHERE organization_id = ?),
			(SELECT COUNT(*) FROM learners WHERE organization_id = ?)`,
		id, id, now.UTC().Truncate(time.Microsecond), id, id).Scan(&c.Members, &c.PendingInvitations, &c.Courses, &c.Learners)
	if err != nil {
		return OrganizationCounts{}, fmt.Errorf("count organization %d: %w", id, err)
	}
	// From the counters the enrollments' triggers keep (migration 00029),
	// not the enrollments themselves: an organization may have millions.
	rs, err := q.query(ctx, `SELECT status, SUM(n) FROM enrollment_counts WHERE organization_id = ? AND n > 0 GROUP BY status`, id)
	if err != nil {
		return OrganizationCounts{}, fmt.Errorf("count enrollments of organization %d: %w", id, err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			status string
			n      int
		)
		if err := rs.Scan(&status, &n); err != nil {
			return OrganizationCounts{}, fmt.Errorf("count enrollments of organization %d: %w", id, err)
		}
		c.Enrollments[status] = n
	}
	if err := rs.Err(); err != nil {
		return OrganizationCounts{}, fmt.Errorf("count enrollments of organization %d: %w", id, err)
	}
	return c, nil
}

// SuspendOrganization marks an active organization suspended at a time,
// by an account (nil for a platform key), with a reason. ErrConflict when
// it is suspended already, ErrNotFound when it does not exist.
func (q *Queries) SuspendOrganization(ctx context.Context, id int64, by *int64, reason string, at time.Time) error {
	n, err := q.exec(ctx, `UPDATE organizations SET suspended_at = ?, suspended_by = ?, suspension_reason = ?
		WHERE id = ? AND suspended_at IS NULL`, dbTime(at), by, reason, id)
	if err != nil {
		return fmt.Errorf("suspend organization %d: %w", id, err)
	}
	if n == 0 {
		return q.suspensionMiss(ctx, id, "suspend")
	}
	return nil
}

// ResumeOrganization ends an organization's suspension. ErrConflict when
// it is not suspended, ErrNotFound when it does not exist.
func (q *Queries) ResumeOrganization(ctx context.Context, id int64) error {
	n, err := q.exec(ctx, `UPDATE organizations SET suspended_at = NULL, suspended_by = NULL, suspension_reason = ''
		WHERE id = ? AND suspended_at IS NOT NULL`, id)
	if err != nil {
		return fmt.Errorf("resume organization %d: %w", id, err)
	}
	if n == 0 {
		return q.suspensionMiss(ctx, id, "resume")
	}
	return nil
}

func (q *Queries) suspensionMiss(ctx context.Context, id int64, what string) error {
	if found, err := q.exists(ctx, `SELECT 1 FROM organizations WHERE id = ?`, id); err != nil {
		return fmt.Errorf("%s organization %d: %w", what, id, err)
	} else if !found {
		return fmt.Errorf("%s organization %d: %w", what, id, ErrNotFound)
	}
	return fmt.Errorf("%s organization %d: %w", what, id, ErrConflict)
}
