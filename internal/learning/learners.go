package learning

import (
	"context"
	"fmt"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// PageSize is the length of a page of learners, enrollments or blocked
// addresses.
const PageSize = 50

// pages is how many pages of PageSize total items make, at least one.
func pages(total int) int { return max(1, (total+PageSize-1)/PageSize) }

// LearnerRow is a learner with their enrollments, a line of the list.
type LearnerRow struct {
	store.Learner
	Enrollments []store.Enrollment
}

// LearnerPage is one page of an organization's learners.
type LearnerPage struct {
	orgs.View
	Items  []LearnerRow
	Total  int
	Page   int // from 1
	Pages  int
	Search string
	// CanManage tells whether the actor may cancel enrollments and block
	// addresses.
	CanManage bool
}

// Learners returns one page of an organization's learners by email, with
// their enrollments, for anyone who may see the organization. search
// keeps the learners whose address contains it.
func (s *Service) Learners(ctx context.Context, actor *store.User, orgID int64, search string, page int) (LearnerPage, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return LearnerPage{}, err
	}
	page = max(page, 1)
	learners, total, err := q.ListLearners(ctx, store.LearnerFilter{OrganizationID: orgID, Search: search,
		Offset: store.Offset(page, PageSize), Limit: PageSize})
	if err != nil {
		return LearnerPage{}, err
	}
	ids := make([]int64, len(learners))
	rows := make([]LearnerRow, len(learners))
	byID := map[int64]*LearnerRow{}
	for i, l := range learners {
		ids[i], rows[i] = l.ID, LearnerRow{Learner: l}
		byID[l.ID] = &rows[i]
	}
	enrollments, err := q.LearnersEnrollments(ctx, orgID, ids)
	if err != nil {
		return LearnerPage{}, err
	}
	for _, e := range enrollments {
		byID[e.LearnerID].Enrollments = append(byID[e.LearnerID].Enrollments, e)
	}
	return LearnerPage{View: v, Items: rows, Total: total, Page: page, Pages: pages(total), Search: search,
		CanManage: access.Allowed(actor, v.Role, access.ManageEnrollments)}, nil
}

// EnrollmentList is one page of an organization's enrollments.
type EnrollmentList struct {
	Items []store.Enrollment
	Total int
	Page  int // from 1
	Pages int
}

// EnrollmentQuery selects enrollments: empty fields select all.
type EnrollmentQuery struct {
	Status   string
	CourseID int64
	Page     int
}

// Enrollments returns one page of an organization's enrollments, newest
// first, for anyone who may see the organization.
func (s *Service) Enrollments(ctx context.Context, actor *store.User, orgID int64, eq EnrollmentQuery) (EnrollmentList, error) {
	status := store.EnrollmentStatus(eq.Status)
	if status != "" && !status.Valid() {
		return EnrollmentList{}, problem.Field("status", "invalid_status",
			fmt.Sprintf("Choose one of the statuses: %v.", store.EnrollmentStatuses))
	}
	q := s.db.Read()
	if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization); err != nil {
		return EnrollmentList{}, err
	}
	page := max(eq.Page, 1)
	items, total, err := q.ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: orgID, Status: status, CourseID: eq.CourseID,
		Offset: store.Offset(page, PageSize), Limit: PageSize})
	if err != nil {
		return EnrollmentList{}, err
	}
	return EnrollmentList{Items: items, Total: total, Page: page, Pages: pages(total)}, nil
}
