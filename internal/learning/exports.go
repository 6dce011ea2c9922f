package learning

import (
	"context"
	"fmt"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// exportPageSize is how many rows an export reads from the database at a
// time: each page is written out before the next is read, so an export
// holds one page whatever its length. Tests make it smaller.
var exportPageSize = 1000

// ExportedEnrollment is a line of the enrollments export.
type ExportedEnrollment struct {
	store.EnrollmentExportRow
	CourseID    int64
	CourseTitle string
	// ItemsTotal counts the course's published lessons and quizzes, the
	// other half of the progress next to ItemsSent.
	ItemsTotal int
}

// QuizSummary sums up an enrollment's quiz results: the quizzes answered
// and passed, the answers given in all, and the mean of each answered
// quiz's best score, in whole percent (nil when none was answered). The
// best score is what the learner reached on the quiz, however many tries
// it took; the mean puts the quizzes of a course in one number.
func (e ExportedEnrollment) QuizSummary() (answered, passed, attempts int, meanBest *int) {
	total := 0
	for _, r := range e.Quizzes {
		answered++
		attempts += r.Attempts
		total += r.BestScore
		if r.Passed {
			passed++
		}
	}
	if answered > 0 {
		mean := (total + answered/2) / answered
		meanBest = &mean
	}
	return answered, passed, attempts, meanBest
}

// EnrollmentExport is an organization's enrollments, ready to be read.
type EnrollmentExport struct {
	orgs.View
	db      *store.DB
	courses []store.ExportCourse
}

// ExportEnrollments checks that the actor may export the organization's
// enrollments and returns them to be read with Each: refusals come here,
// before anything is written.
func (s *Service) ExportEnrollments(ctx context.Context, actor *store.User, orgID int64) (EnrollmentExport, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ExportLearners)
	if err != nil {
		return EnrollmentExport{}, err
	}
	courses, err := q.ExportCourses(ctx, orgID)
	if err != nil {
		return EnrollmentExport{}, err
	}
	return EnrollmentExport{View: v, db: s.db, courses: courses}, nil
}

// Each calls fn with every enrollment, course by course (by id), and in a
// course by learner, a page at a time. It stops at fn's first error.
func (x EnrollmentExport) Each(ctx context.Context, fn func(ExportedEnrollment) error) error {
	q := x.db.Read()
	var page []store.EnrollmentExportRow // each page read into the last one's memory
	for _, c := range x.courses {
		var after int64
		for {
			var err error
			page, err = q.EnrollmentExportPage(ctx, x.ID, c.ID, after, exportPageSize, page)
			if err != nil {
				return fmt.Errorf("export enrollments: %w", err)
			}
			for _, e := range page {
				if err := fn(ExportedEnrollment{EnrollmentExportRow: e, CourseID: c.ID, CourseTitle: c.Title, ItemsTotal: c.PublishedItems}); err != nil {
					return err
				}
			}
			if len(page) < exportPageSize {
				break
			}
			after = page[len(page)-1].LearnerID
		}
	}
	return nil
}

// LearnerExport is an organization's learners, ready to be read.
type LearnerExport struct {
	orgs.View
	db *store.DB
}

// ExportLearners checks that the actor may export the organization's
// learners and returns them to be read with Each.
func (s *Service) ExportLearners(ctx context.Context, actor *store.User, orgID int64) (LearnerExport, error) {
	v, err := orgs.Authorize(ctx, s.db.Read(), actor, orgID, access.ExportLearners)
	if err != nil {
		return LearnerExport{}, err
	}
	return LearnerExport{View: v, db: s.db}, nil
}

// Each calls fn with every learner by address, as the learners' list
// orders them, a page at a time. It stops at fn's first error.
func (x LearnerExport) Each(ctx context.Context, fn func(store.LearnerExportRow) error) error {
	q := x.db.Read()
	after := ""
	for {
		page, err := q.LearnerExportPage(ctx, x.ID, after, exportPageSize)
		if err != nil {
			return fmt.Errorf("export learners: %w", err)
		}
		for _, l := range page {
			if err := fn(l); err != nil {
				return err
			}
		}
		if len(page) < exportPageSize {
			return nil
		}
		after = page[len(page)-1].Email
	}
}
