package store

import (
	"context"
	"fmt"
)

// CourseReport counts a course's enrollments by status.
type CourseReport struct {
	CourseID int64
	Title    string
	Enabled  bool
	ByStatus map[string]int
}

// CourseReports counts the enrollments of every course of an organization
// by status, courses by title.
func (q *Queries) CourseReports(ctx context.Context, orgID int64) ([]CourseReport, error) {
	rs, err := q.query(ctx, `
		SELECT c.id, c.title, c.enabled, COALESCE(e.status, ''), COUNT(e.id)
		FROM courses c LEFT JOIN enrollments e ON e.course_id = c.id AND e.organization_id = c.organization_id
		WHERE c.organization_id = ?
		GROUP BY c.id, c.title, c.title_key, c.enabled, e.status
		ORDER BY c.title_key, c.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("course reports of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	var list []CourseReport
	for rs.Next() {
		var (
			id      int64
			title   string
			enabled bool
			status  string
			n       int
		)
		if err := rs.Scan(&id, &title, &enabled, &status, &n); err != nil {
			return nil, fmt.Errorf("course reports of organization %d: %w", orgID, err)
		}
		if len(list) == 0 || list[len(list)-1].CourseID != id {
			list = append(list, CourseReport{CourseID: id, Title: title, Enabled: enabled, ByStatus: map[string]int{}})
		}
		if status != "" {
			list[len(list)-1].ByStatus[status] = n
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("course reports of organization %d: %w", orgID, err)
	}
	return list, nil
}
