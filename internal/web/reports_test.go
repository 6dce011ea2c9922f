package web

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestReportsAndDeletionCounts fills two courses with enrollments in
// every status and reads them back from the reports page, the course's
// delete page and the organization's.
func TestReportsAndDeletionCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		var goID, emptyID int64
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			if goID, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: 1, Title: "Go", TitleKey: "go", TitleSkeleton: names.Key("Go"), Slug: "go", Public: true}); err != nil {
				return err
			}
			if emptyID, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: 1, Title: "Empty", TitleKey: "empty", TitleSkeleton: names.Key("Empty"), Slug: "empty"}); err != nil {
				return err
			}
			statuses := []store.EnrollmentStatus{"unverified", "active", "active", "completed", "completed", "completed", "failed", "unsubscribed"}
			for i, st := range statuses {
				l, err := q.SaveLearner(ctx, 1, fmt.Sprintf("l%d@example.com", i))
				if err != nil {
					return err
				}
				if _, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: 1, CourseID: goID, LearnerID: l.ID, Status: st, At: time.Now()}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		admin := app.loggedIn(adminEmail, adminPassword)
		res := admin.get(organizationPath(1) + "reports/")
		if res.status != http.StatusOK {
			t.Fatalf("reports: %d", res.status)
		}
		// unverified, active, completed, failed, cancelled, unsubscribed, total, rate: 3 of 7 confirmed completed.
		row := regexp.MustCompile(fmt.Sprintf(`(?s)<tr data-course-id="%d">.*?</tr>`, goID)).FindString(res.body)
		cells := regexp.MustCompile(`<td class="num[^"]*">([^<]*)</td>`).FindAllStringSubmatch(row, -1)
		var got []string
		for _, c := range cells {
			got = append(got, c[1])
		}
		if want := "1 2 3 1 0 1 8 43%"; strings.Join(got, " ") != want {
			t.Errorf("the Go row reads %q, want %q\n%s", strings.Join(got, " "), want, row)
		}
		empty := regexp.MustCompile(fmt.Sprintf(`(?s)<tr data-course-id="%d">.*?</tr>`, emptyID)).FindString(res.body)
		if !strings.Contains(empty, "(disabled)") || !strings.Contains(empty, `<td class="num completion">—</td>`) {
			t.Errorf("the empty course's row:\n%s", empty)
		}

		if page := admin.get(fmt.Sprintf("%scourses/%d/delete", organizationPath(1), goID)); !strings.Contains(page.body, "8 enrollments with what was sent to them") {
			t.Errorf("the course's delete page does not count its enrollments:\n%s", page.body)
		}
		if page := admin.get(organizationPath(1) + "delete"); !strings.Contains(page.body, "8 learners and 8 enrollments") {
			t.Errorf("the organization's delete page does not count its learners:\n%s", page.body)
		}
	})
}
