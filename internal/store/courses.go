package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Course is a sequence of lessons and quizzes in an organization.
type Course struct {
	ID             int64
	OrganizationID int64
	Title          string
	Slug           string
	Description    string
	Enabled        bool
	Public         bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

const courseColumns = `c.id, c.organization_id, c.title, c.slug, c.description, c.enabled, c.public, c.created_at, c.updated_at`

func scanCourse(r row, extra ...any) (Course, error) {
	var c Course
	dest := append([]any{&c.ID, &c.OrganizationID, &c.Title, &c.Slug, &c.Description, &c.Enabled, &c.Public, &c.CreatedAt, &c.UpdatedAt}, extra...)
	if err := r.Scan(dest...); err != nil {
		return Course{}, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// NewCourse holds the fields of a course to create. TitleKey (the title in
// lower case) and TitleSkeleton (names.Key of the title) are what titles
// are compared on, each unique within the organization.
type NewCourse struct {
	OrganizationID int64
	Title          string
	TitleKey       string
	TitleSkeleton  string
	Slug           string
	Description    string
	Enabled        bool
	Public         bool
}

// CreateCourse inserts a course. A title or slug taken in the organization
// gives ErrConflict.
func (q *Queries) CreateCourse(ctx context.Context, c NewCourse) (int64, error) {
	t := now()
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO courses (organization_id, title, title_key, title_skeleton, slug, description, enabled, public, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.OrganizationID, c.Title, c.TitleKey, c.TitleSkeleton, c.Slug, c.Description, c.Enabled, c.Public, t, t).Scan(&id)
	if isUniqueViolation(err) {
		return 0, fmt.Errorf("create course %q: %w", c.Title, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("create course %q: %w", c.Title, err)
	}
	return id, nil
}

const courseQuery = `SELECT ` + courseColumns + ` FROM courses c WHERE c.organization_id = ? AND c.id = ?`

// Course returns a course of an organization, or ErrNotFound: a course id
// is only ever looked up with its organization.
func (q *Queries) Course(ctx context.Context, orgID, id int64) (Course, error) {
	c, err := scanCourse(q.queryRow(ctx, courseQuery, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Course{}, ErrNotFound
	}
	if err != nil {
		return Course{}, fmt.Errorf("course %d of organization %d: %w", id, orgID, err)
	}
	return c, nil
}

// CourseBySlug returns the course of an organization with a slug, or
// ErrNotFound.
func (q *Queries) CourseBySlug(ctx context.Context, orgID int64, slug string) (Course, error) {
	c, err := scanCourse(q.queryRow(ctx, `SELECT `+courseColumns+` FROM courses c WHERE c.organization_id = ? AND c.slug = ?`, orgID, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return Course{}, ErrNotFound
	}
	if err != nil {
		return Course{}, fmt.Errorf("course %q of organization %d: %w", slug, orgID, err)
	}
	return c, nil
}

// LockCourse returns a course like Course and makes the transaction the
// only one changing it or its content until it ends, so that what a rule
// read (is the course enabled, how many items are published, which
// positions are taken) still holds when the transaction writes. On SQLite
// every write transaction already holds the database's write lock from
// its first statement (BEGIN IMMEDIATE), so a plain read does.
func (q *Queries) LockCourse(ctx context.Context, orgID, id int64) (Course, error) {
	query := `SELECT ` + courseColumns + ` FROM courses c WHERE c.organization_id = ? AND c.id = ?`
	if q.dialect == Postgres {
		query += ` FOR UPDATE`
	}
	c, err := scanCourse(q.queryRow(ctx, query, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Course{}, ErrNotFound
	}
	if err != nil {
		return Course{}, fmt.Errorf("lock course %d of organization %d: %w", id, orgID, err)
	}
	return c, nil
}

// CourseSummary is a course with the counts shown in lists.
type CourseSummary struct {
	Course
	ContentCount   int
	PublishedCount int
}

// CourseFilter selects the courses of one organization for a list.
type CourseFilter struct {
	OrganizationID int64
	Search         string // part of the title, any case
	Offset         int
	Limit          int
}

// ListCourses returns one page of an organization's courses by title, with
// their content counts, and how many match in all.
func (q *Queries) ListCourses(ctx context.Context, f CourseFilter) ([]CourseSummary, int, error) {
	cond := `c.organization_id = ?`
	args := []any{f.OrganizationID}
	if s := strings.TrimSpace(f.Search); s != "" {
		cond += ` AND c.title_key LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(s))+"%")
	}
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM courses c WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count courses of organization %d: %w", f.OrganizationID, err)
	}
	rs, err := q.query(ctx, `
		SELECT `+courseColumns+`,
			(SELECT COUNT(*) FROM content_items i WHERE i.organization_id = c.organization_id AND i.course_id = c.id),
			(SELECT COUNT(*) FROM content_items i WHERE i.organization_id = c.organization_id AND i.course_id = c.id AND i.published)
		FROM courses c WHERE `+cond+`
		ORDER BY c.title_key, c.id LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list courses of organization %d: %w", f.OrganizationID, err)
	}
	defer rs.Close()
	var list []CourseSummary
	for rs.Next() {
		var s CourseSummary
		if s.Course, err = scanCourse(rs, &s.ContentCount, &s.PublishedCount); err != nil {
			return nil, 0, fmt.Errorf("list courses of organization %d: %w", f.OrganizationID, err)
		}
		list = append(list, s)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, fmt.Errorf("list courses of organization %d: %w", f.OrganizationID, err)
	}
	return list, total, nil
}

// PublicCourses lists the enabled, public courses of an organization by
// title: what its public page offers.
func (q *Queries) PublicCourses(ctx context.Context, orgID int64) ([]Course, error) {
	rs, err := q.query(ctx, `
		SELECT `+courseColumns+`
		FROM courses c WHERE c.organization_id = ? AND c.enabled AND c.public ORDER BY c.title_key, c.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("public courses of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []Course
	for rs.Next() {
		c, err := scanCourse(rs)
		if err != nil {
			return nil, fmt.Errorf("public courses of organization %d: %w", orgID, err)
		}
		list = append(list, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("public courses of organization %d: %w", orgID, err)
	}
	return list, nil
}

// CourseFields are the editable fields of a course; the slug is fixed at
// creation. TitleKey and TitleSkeleton are as in NewCourse; a skeleton
// marked shared, which an older course of the organization has too, is
// left out of its uniqueness.
type CourseFields struct {
	Title               string
	TitleKey            string
	TitleSkeleton       string
	TitleSkeletonShared bool
	Description         string
	Enabled             bool
	Public              bool
}

// UpdateCourse replaces the editable fields of a course. A title taken in
// the organization gives ErrConflict, a missing course ErrNotFound.
func (q *Queries) UpdateCourse(ctx context.Context, orgID, id int64, f CourseFields) error {
	n, err := q.exec(ctx, `
		UPDATE courses SET title = ?, title_key = ?, title_skeleton = ?, title_skeleton_shared = ?,
			description = ?, enabled = ?, public = ?, updated_at = ?
		WHERE organization_id = ? AND id = ?`,
		f.Title, f.TitleKey, f.TitleSkeleton, f.TitleSkeletonShared, f.Description, f.Enabled, f.Public, now(), orgID, id)
	if isUniqueViolation(err) {
		return fmt.Errorf("update course %d: %w", id, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("update course %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("update course %d: %w", id, ErrNotFound)
	}
	return nil
}

// CourseTitleTaken reports whether a course of the organization other
// than except has the title key or the title skeleton, shared or not.
func (q *Queries) CourseTitleTaken(ctx context.Context, orgID int64, titleKey, titleSkeleton string, except int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM courses WHERE organization_id = ? AND (title_key = ? OR title_skeleton = ?) AND id <> ?`,
		orgID, titleKey, titleSkeleton, except)
}

// CourseSkeletonHeld reports whether a course of the organization other
// than except has the title skeleton and holds it in the unique index (it
// is not marked shared).
func (q *Queries) CourseSkeletonHeld(ctx context.Context, orgID int64, titleSkeleton string, except int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM courses WHERE organization_id = ? AND title_skeleton = ? AND NOT title_skeleton_shared AND id <> ?`,
		orgID, titleSkeleton, except)
}

// CourseSlugTaken reports whether a course of the organization has the
// slug.
func (q *Queries) CourseSlugTaken(ctx context.Context, orgID int64, slug string) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM courses WHERE organization_id = ? AND slug = ?`, orgID, slug)
}

// DeleteCourse removes a course; foreign keys cascade to its content (and
// to whatever else refers to it).
func (q *Queries) DeleteCourse(ctx context.Context, orgID, id int64) error {
	n, err := q.exec(ctx, `DELETE FROM courses WHERE organization_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return fmt.Errorf("delete course %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete course %d: %w", id, ErrNotFound)
	}
	return nil
}
