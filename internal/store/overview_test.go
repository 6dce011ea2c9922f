package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestMemberOverview: the numbers of the platform home count only the
// organizations the user belongs to, and in them only active learners,
// emails sent or stored in the window and scheduled deliveries.
func TestMemberOverview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollmentFixture(t, db)
		now := time.Now().UTC()
		soon := now.Add(90 * time.Minute).Truncate(time.Microsecond)
		var ada store.User
		f.tx(t, func(q *store.Queries) error {
			var err error
			if ada, err = q.CreateUser(ctx, store.NewUser{Email: "ada@example.com"}); err != nil {
				return err
			}
			// Ada is a viewer of A; B is not hers.
			if err := q.AddMembership(ctx, f.orgA, ada.ID, "viewer"); err != nil {
				return err
			}
			for _, org := range []struct {
				id, course int64
			}{{f.orgA, f.courseA}, {f.orgB, f.other}} {
				lesson, err := q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: org.id, CourseID: org.course, Kind: "lesson", Title: "One", Body: "x", Published: true})
				if err != nil {
					return err
				}
				for i, status := range []store.EnrollmentStatus{store.EnrollmentActive, store.EnrollmentActive, store.EnrollmentCompleted, store.EnrollmentUnverified} {
					l, err := q.SaveLearner(ctx, org.id, fmt.Sprintf("learner%d@example.com", i))
					if err != nil {
						return err
					}
					e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: org.id, CourseID: org.course, LearnerID: l.ID, Status: status, At: now})
					if err != nil {
						return err
					}
					if status == store.EnrollmentActive {
						if _, _, err := q.ScheduleDelivery(ctx, org.id, e.ID, lesson, 1, soon.Add(time.Duration(i)*time.Hour)); err != nil {
							return err
						}
					}
					m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: &org.id, Kind: "lesson", Sender: "s@example.com",
						Recipient: l.Email, Subject: "x", MessageID: fmt.Sprintf("<%d.%d@example.com>", org.id, i), Raw: []byte("x")})
					if err != nil {
						return err
					}
					if i < 3 { // three sent or stored, one still queued
						status := store.MailSent
						if i == 2 {
							status = store.MailStored
						}
						if _, err := q.RecordMailAttempt(ctx, m.ID, store.MailAttempt{Status: status, Transport: "smtp"}); err != nil {
							return err
						}
					}
				}
			}
			return nil
		})
		q := db.Read()
		learners, err := q.MemberActiveLearners(ctx, ada.ID)
		if err != nil || len(learners) != 1 || learners[f.orgA] != 2 {
			t.Errorf("active learners = %v, %v; want 2 in A only", learners, err)
		}
		sent, err := q.MemberEmailsSent(ctx, ada.ID, now.Add(-time.Minute))
		if err != nil || len(sent) != 1 || sent[f.orgA] != 3 {
			t.Errorf("emails sent = %v, %v; want 3 in A only", sent, err)
		}
		if sent, err := q.MemberEmailsSent(ctx, ada.ID, time.Now().Add(time.Minute)); err != nil || len(sent) != 0 {
			t.Errorf("emails sent since a minute from now = %v, %v; want none", sent, err)
		}
		next, err := q.MemberNextDeliveries(ctx, ada.ID)
		if err != nil || len(next) != 1 || !next[f.orgA].Equal(soon) {
			t.Errorf("next deliveries = %v, %v; want A's at %v", next, err, soon)
		}
		// Someone in no organization gets nothing.
		if n, err := q.MemberActiveLearners(ctx, ada.ID+1000); err != nil || len(n) != 0 {
			t.Errorf("a user of no organization: %v, %v", n, err)
		}
	})
}
