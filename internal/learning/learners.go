package learning

import (
	"context"
	"errors"
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
	// CanExport tells whether the actor may download the learners and
	// enrollments as CSV.
	CanExport bool
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
		CanManage: access.Allowed(actor, v.Role, access.ManageEnrollments), CanExport: access.Allowed(actor, v.Role, access.ExportLearners)}, nil
}

// ErrLearnerNotFound answers a learner id that is not the organization's.
var ErrLearnerNotFound = problem.New(problem.NotFound, "learner_not_found", "There is no such learner in this organization.")

// Learner returns a learner of an organization with their enrollments in
// it, for anyone who may see the organization.
func (s *Service) Learner(ctx context.Context, actor *store.User, orgID, id int64) (LearnerRow, error) {
	q := s.db.Read()
	if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization); err != nil {
		return LearnerRow{}, err
	}
	l, err := q.Learner(ctx, orgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return LearnerRow{}, ErrLearnerNotFound
	}
	if err != nil {
		return LearnerRow{}, err
	}
	enrollments, err := q.LearnersEnrollments(ctx, orgID, []int64{id})
	if err != nil {
		return LearnerRow{}, err
	}
	return LearnerRow{Learner: l, Enrollments: enrollments}, nil
}

// QuizAttemptQuery selects a page of a course's quiz attempts, newest
// first: zero fields select all, Before continues below an attempt id.
type QuizAttemptQuery struct {
	ContentID    int64
	EnrollmentID int64
	Before       int64
}

// QuizAttemptList is one page of a course's quiz attempts; Next is the
// Before of the following page, 0 on the last.
type QuizAttemptList struct {
	Items []store.QuizAttempt
	Next  int64
}

// QuizAttempts returns one page of a course's quiz attempts with their
// learners' addresses, newest first, for anyone who may see the
// organization's enrollments.
func (s *Service) QuizAttempts(ctx context.Context, actor *store.User, orgID, courseID int64, aq QuizAttemptQuery) (QuizAttemptList, error) {
	q := s.db.Read()
	if _, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization); err != nil {
		return QuizAttemptList{}, err
	}
	if _, err := q.Course(ctx, orgID, courseID); errors.Is(err, store.ErrNotFound) {
		return QuizAttemptList{}, ErrCourseNotFound
	} else if err != nil {
		return QuizAttemptList{}, err
	}
	items, err := q.CourseQuizAttempts(ctx, store.QuizAttemptFilter{OrganizationID: orgID, CourseID: courseID, ContentID: aq.ContentID,
		EnrollmentID: aq.EnrollmentID, Before: aq.Before, Limit: PageSize + 1})
	if err != nil {
		return QuizAttemptList{}, err
	}
	list := QuizAttemptList{Items: items}
	if len(items) > PageSize {
		list.Items = items[:PageSize]
		list.Next = list.Items[PageSize-1].ID
	}
	return list, nil
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
