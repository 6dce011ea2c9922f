package store

import (
	"context"
	"fmt"
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

// NewCourse holds the fields of a course to create. TitleKey is the title
// as compared for uniqueness within the organization.
type NewCourse struct {
	OrganizationID int64
	Title          string
	TitleKey       string
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
		INSERT INTO courses (organization_id, title, title_key, slug, description, enabled, public, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.OrganizationID, c.Title, c.TitleKey, c.Slug, c.Description, c.Enabled, c.Public, t, t).Scan(&id)
	if isUniqueViolation(err) {
		return 0, fmt.Errorf("create course %q: %w", c.Title, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("create course %q: %w", c.Title, err)
	}
	return id, nil
}

// PublicCourses lists the enabled, public courses of an organization by
// title: what its public page offers.
func (q *Queries) PublicCourses(ctx context.Context, orgID int64) ([]Course, error) {
	rs, err := q.query(ctx, `
		SELECT id, organization_id, title, slug, description, enabled, public, created_at, updated_at
		FROM courses WHERE organization_id = ? AND enabled AND public ORDER BY title_key, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("public courses of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []Course
	for rs.Next() {
		var c Course
		if err := rs.Scan(&c.ID, &c.OrganizationID, &c.Title, &c.Slug, &c.Description, &c.Enabled, &c.Public, &c.CreatedAt, &c.UpdatedAt); err != nil {
			return nil, fmt.Errorf("public courses of organization %d: %w", orgID, err)
		}
		c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
		list = append(list, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("public courses of organization %d: %w", orgID, err)
	}
	return list, nil
}
