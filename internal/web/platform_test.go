package web

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestPlatformHomeNumbers: the platform home shows, for each organization
// of the user, viewers included, its active learners, the emails sent in
// the last 24 hours and the next delivery due, with links into it.
func TestPlatformHomeNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		createStaff(t, db, "viewer@example.com", "viewer password 1")
		viewer, err := db.Read().UserByEmail(ctx, "viewer@example.com")
		if err != nil {
			t.Fatal(err)
		}
		busy, _ := storetest.NewOrganization(t, db, "Busy Academy")
		quiet, _ := storetest.NewOrganization(t, db, "Quiet School")
		hidden, _ := storetest.NewOrganization(t, db, "Not Hers")
		due := time.Date(2031, 5, 6, 7, 8, 0, 0, time.UTC)
		err = db.InTx(ctx, func(q *store.Queries) error {
			for _, id := range []int64{busy, quiet} {
				if err := q.AddMembership(ctx, id, viewer.ID, "viewer"); err != nil {
					return err
				}
			}
			for _, org := range []int64{busy, hidden} {
				course, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: org, Title: "Go", TitleKey: "go", TitleSkeleton: names.Key("Go"), Slug: "go", Enabled: true, Public: true})
				if err != nil {
					return err
				}
				lesson, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: org, CourseID: course, Kind: "lesson", Title: "One", Body: "x", Published: true})
				if err != nil {
					return err
				}
				// Three active learners (one of them enrolled twice over
				// the two statuses), one completed, one unverified.
				for i, status := range []store.EnrollmentStatus{store.EnrollmentActive, store.EnrollmentActive, store.EnrollmentActive, store.EnrollmentCompleted, store.EnrollmentUnverified} {
					l, err := q.SaveLearner(ctx, org, fmt.Sprintf("learner%d@example.com", i))
					if err != nil {
						return err
					}
					e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: org, CourseID: course, LearnerID: l.ID, Status: status, At: time.Now()})
					if err != nil {
						return err
					}
					if status == store.EnrollmentActive {
						if _, _, err := q.ScheduleDelivery(ctx, org, e.ID, lesson, 1, due.Add(time.Duration(i)*time.Hour)); err != nil {
							return err
						}
					}
					m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: &org, Kind: "lesson", Sender: "s@example.com",
						Recipient: l.Email, Subject: "x", MessageID: fmt.Sprintf("<%d.%d@example.com>", org, i), Raw: []byte("x")})
					if err != nil {
						return err
					}
					if i != 4 { // four sent, one still queued
						if _, err := q.RecordMailAttempt(ctx, m.ID, store.MailAttempt{Status: store.MailSent, Transport: "smtp"}); err != nil {
							return err
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		res := app.loggedIn("viewer@example.com", "viewer password 1").get(platformHome)
		if res.status != 200 {
			t.Fatalf("platform home: %d", res.status)
		}
		row := func(orgID int64) string {
			m := regexp.MustCompile(`(?s)<tr data-organization-id="` + itoa(orgID) + `">.*?</tr>`).FindString(res.body)
			if m == "" {
				t.Fatalf("no row for organization %d\n%s", orgID, res.body)
			}
			return m
		}
		for orgID, want := range map[int64][]string{
			busy: {`data-number="active-learners">3<`, `data-number="emails-sent">4<`, `datetime="2031-05-06T07:08:00Z"`, "6 May 2031, 07:08 UTC",
				`href="/email-learning/platform/organizations/` + itoa(busy) + `/courses/"`, `href="/email-learning/platform/organizations/` + itoa(busy) + `/learners/"`},
			quiet: {`data-number="active-learners">0<`, `data-number="emails-sent">0<`, "Nothing scheduled"},
		} {
			r := row(orgID)
			for _, w := range want {
				if !strings.Contains(r, w) {
					t.Errorf("organization %d: row lacks %s\n%s", orgID, w, r)
				}
			}
		}
		if strings.Contains(res.body, "Not Hers") {
			t.Error("the home shows an organization the user is not a member of")
		}

		// A platform admin in no organization is pointed to the list.
		res = app.loggedIn(adminEmail, adminPassword).get(platformHome)
		if res.status != 200 || !strings.Contains(res.body, "You do not belong to any organization yet.") ||
			!strings.Contains(res.body, `href="/email-learning/platform/organizations/">All organizations`) {
			t.Errorf("platform admin without memberships: %d\n%s", res.status, res.body)
		}
	})
}
