package store

import (
	"context"
	"fmt"
	"time"
)

// Organization is a tenant: it owns courses, learners and memberships.
type Organization struct {
	ID          int64
	Name        string
	Slug        string
	Description string
	IsActive    bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// AllOrganizations lists every organization by name.
func (q *Queries) AllOrganizations(ctx context.Context) ([]Organization, error) {
	rows, err := q.query(ctx, `
		SELECT id, name, slug, description, is_active, created_at, updated_at
		FROM organizations ORDER BY name_key, id`)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	defer rows.Close()
	var orgs []Organization
	for rows.Next() {
		var o Organization
		if err := rows.Scan(&o.ID, &o.Name, &o.Slug, &o.Description, &o.IsActive, &o.CreatedAt, &o.UpdatedAt); err != nil {
			return nil, fmt.Errorf("list organizations: %w", err)
		}
		o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
		orgs = append(orgs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	return orgs, nil
}
