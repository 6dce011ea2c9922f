package learning

import (
	"context"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// EnrollmentStatuses are the statuses an enrollment moves through, in the
// order reports show them.
var EnrollmentStatuses = []string{"unverified", "active", "completed", "failed", "cancelled", "unsubscribed"}

// CourseReport is one course's line in the reports: enrollments by status
// and the share of confirmed enrollments that completed the course.
type CourseReport struct {
	store.CourseReport
	Counts []int // by EnrollmentStatuses
	Total  int
	// Confirmed counts the enrollments past the double opt-in: all but
	// the unverified.
	Confirmed int
	// CompletionRate is completed / confirmed enrollments, in percent; 0
	// when none was confirmed.
	CompletionRate float64
}

// Reports is the reports page of an organization.
type Reports struct {
	orgs.View
	Courses []CourseReport
}

// Reports counts each course's enrollments by status, for anyone who may
// see the organization.
func (s *Service) Reports(ctx context.Context, actor *store.User, orgID int64) (Reports, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return Reports{}, err
	}
	list, err := q.CourseReports(ctx, orgID)
	if err != nil {
		return Reports{}, err
	}
	r := Reports{View: v}
	for _, c := range list {
		line := CourseReport{CourseReport: c}
		for _, st := range EnrollmentStatuses {
			line.Counts = append(line.Counts, c.ByStatus[st])
			line.Total += c.ByStatus[st]
		}
		line.Confirmed = line.Total - c.ByStatus["unverified"]
		if line.Confirmed > 0 {
			line.CompletionRate = 100 * float64(c.ByStatus["completed"]) / float64(line.Confirmed)
		}
		r.Courses = append(r.Courses, line)
	}
	return r, nil
}
