package learning_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// The enrollments export reads a page at a time: every enrollment comes
// once, course by course and by learner, across pages and courses, and
// nothing of another organization.
func TestEnrollmentExportReadsEveryPageInOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		learning.SetExportPageSize(t, 2)
		f := newEnrollFixture(t, db)
		var second int64
		err := db.InTx(ctx, func(q *store.Queries) (err error) {
			second, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.org, Title: "Second", TitleKey: "second",
				TitleSkeleton: names.Key("Second"), Slug: "second", Enabled: true})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		enroll := func(org, course int64, email string) {
			t.Helper()
			if _, err := f.s.EnrollDirectly(ctx, f.root, org, course, email); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 5 { // two full pages and a short one
			email := fmt.Sprintf("first%d@example.com", i)
			enroll(f.org, f.course, email)
			want = append(want, fmt.Sprintf("%d %s", f.course, email))
		}
		enroll(f.other, f.otherCourse, "elsewhere@example.com")
		for i := range 4 { // two full pages, then an empty one
			email := fmt.Sprintf("second%d@example.com", i)
			enroll(f.org, second, email)
			want = append(want, fmt.Sprintf("%d %s", second, email))
		}

		x, err := f.s.ExportEnrollments(ctx, f.viewer, f.org)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := x.Each(ctx, func(e learning.ExportedEnrollment) error {
			got = append(got, fmt.Sprintf("%d %s", e.CourseID, e.LearnerEmail))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("exported\n%v\nwant\n%v", got, want)
		}

		// The first error of the caller's ends the export, and is what it
		// returns.
		stop := errors.New("the client went away")
		calls := 0
		err = x.Each(ctx, func(learning.ExportedEnrollment) error {
			if calls++; calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Errorf("stopping at the third row: %v after %d rows", err, calls)
		}

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := x.Each(cancelled, func(learning.ExportedEnrollment) error { return nil }); err == nil {
			t.Error("an export with its request gone ended without an error")
		}
	})
}
