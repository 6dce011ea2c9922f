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

// CourseReport is one course's line in the reports.
type CourseReport struct {
	store.CourseReport
	ReportCounts
}

// ReportCounts are enrollments by status and the share of confirmed
// enrollments that completed: one course's, or every course's together.
type ReportCounts struct {
	Counts []int // by EnrollmentStatuses
	Total  int
	// Confirmed counts the enrollments past the double opt-in: all but
	// the unverified.
	Confirmed int
	// CompletionRate is completed / confirmed enrollments, in percent; 0
	// when none was confirmed.
	CompletionRate float64
}

func reportCounts(byStatus map[string]int) ReportCounts {
	var c ReportCounts
	for _, st := range EnrollmentStatuses {
		c.Counts = append(c.Counts, byStatus[st])
		c.Total += byStatus[st]
	}
	c.Confirmed = c.Total - byStatus["unverified"]
	if c.Confirmed > 0 {
		c.CompletionRate = 100 * float64(byStatus["completed"]) / float64(c.Confirmed)
	}
	return c
}

// Reports is the reports page of an organization.
type Reports struct {
	orgs.View
	Courses []CourseReport
	Totals  ReportCounts // of every course
}

// Reports counts each course's enrollments by status, and all of them,
// for anyone who may see the organization.
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
	all := map[string]int{}
	for _, c := range list {
		r.Courses = append(r.Courses, CourseReport{CourseReport: c, ReportCounts: reportCounts(c.ByStatus)})
		for st, n := range c.ByStatus {
			all[st] += n
		}
	}
	r.Totals = reportCounts(all)
	return r, nil
}
