package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// enrollmentFixture is two organizations with a course each.
type enrollmentFixture struct {
	db             *store.DB
	orgA, orgB     int64
	courseA, other int64 // a course of orgA, one of orgB
}

func newEnrollmentFixture(t testing.TB, db *store.DB) enrollmentFixture {
	t.Helper()
	ctx := context.Background()
	f := enrollmentFixture{db: db}
	err := db.InTx(ctx, func(q *store.Queries) error {
		for i, dst := range []struct{ org, course *int64 }{{&f.orgA, &f.courseA}, {&f.orgB, &f.other}} {
			o, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: fmt.Sprintf("Org %d", i), NameKey: fmt.Sprintf("org %d", i), NameSkeleton: names.Key(fmt.Sprintf("Org %d", i)), Slug: fmt.Sprintf("org-%d", i)})
			if err != nil {
				return err
			}
			*dst.org = o.ID
			if *dst.course, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: o.ID, Title: "Go", TitleKey: "go", TitleSkeleton: names.Key("Go"), Slug: "go", Enabled: true, Public: true}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f enrollmentFixture) tx(t testing.TB, fn func(q *store.Queries) error) {
	t.Helper()
	if err := f.db.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestLearnersAndEnrollments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollmentFixture(t, db)
		at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))

		var ada, again, adaB store.Learner
		f.tx(t, func(q *store.Queries) error {
			var err error
			if ada, err = q.SaveLearner(ctx, f.orgA, "ada@example.com"); err != nil {
				return err
			}
			if again, err = q.SaveLearner(ctx, f.orgA, "ada@example.com"); err != nil {
				return err
			}
			adaB, err = q.SaveLearner(ctx, f.orgB, "ada@example.com")
			return err
		})
		if again.ID != ada.ID || adaB.ID == ada.ID || adaB.OrganizationID != f.orgB {
			t.Errorf("learners: %+v, again %+v, in B %+v", ada, again, adaB)
		}

		var e store.Enrollment
		f.tx(t, func(q *store.Queries) error {
			var created bool
			var err error
			e, created, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgA, CourseID: f.courseA, LearnerID: ada.ID,
				Status: store.EnrollmentUnverified, TokenHash: "h1", ExpiresAt: at.Add(time.Hour), RequestedIP: "192.0.2.1", At: at})
			if err != nil || !created {
				return fmt.Errorf("create: %v, created %v", err, created)
			}
			// The same learner and course: the existing one comes back.
			dup, created, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgA, CourseID: f.courseA, LearnerID: ada.ID,
				Status: store.EnrollmentActive, At: at})
			if err != nil || created || dup.ID != e.ID || dup.Status != store.EnrollmentUnverified {
				return fmt.Errorf("create again: %+v, created %v, %v", dup, created, err)
			}
			return nil
		})
		if e.LearnerEmail != "ada@example.com" || e.CourseTitle != "Go" || e.CourseSlug != "go" || e.RequestedIP != "192.0.2.1" ||
			e.ConfirmExpiresAt == nil || !e.ConfirmExpiresAt.Equal(at.Add(time.Hour).Truncate(time.Microsecond)) ||
			e.ConfirmSentAt == nil || !e.ConfirmSentAt.Equal(at.Truncate(time.Microsecond)) || e.ActivatedAt != nil {
			t.Errorf("created enrollment: %+v", e)
		}
		// Ids are looked up with their organization.
		if _, err := db.Read().Enrollment(ctx, f.orgB, e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("enrollment of A through B: %v", err)
		}
		if got, used, err := db.Read().EnrollmentByTokenHash(ctx, "h1"); err != nil || used || got.ID != e.ID {
			t.Errorf("by pending token: %+v %v %v", got, used, err)
		}

		// The throttle: a new link only when none went out since.
		reopen := func(from store.EnrollmentStatus, hash string, sentBefore time.Time) bool {
			t.Helper()
			var ok bool
			f.tx(t, func(q *store.Queries) error {
				var err error
				ok, err = q.ReopenEnrollment(ctx, store.Reopening{OrganizationID: f.orgA, ID: e.ID, From: from, SentBefore: sentBefore,
					TokenHash: hash, ExpiresAt: at.Add(2 * time.Hour), RequestedIP: "192.0.2.2", At: at.Add(time.Minute)})
				return err
			})
			return ok
		}
		if reopen(store.EnrollmentUnverified, "h2", at.Add(-time.Minute)) {
			t.Error("a new link went out within the throttle")
		}
		if reopen(store.EnrollmentActive, "h2", at) {
			t.Error("a new link for a status the enrollment does not have")
		}
		if !reopen(store.EnrollmentUnverified, "h2", at) {
			t.Fatal("no new link after the throttle")
		}
		if _, _, err := db.Read().EnrollmentByTokenHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the replaced link still found: %v", err)
		}

		confirm := func(orgID int64, hash string, when time.Time) bool {
			t.Helper()
			var ok bool
			f.tx(t, func(q *store.Queries) error {
				var err error
				ok, err = q.ConfirmEnrollment(ctx, orgID, hash, "192.0.2.3", when)
				return err
			})
			return ok
		}
		if confirm(f.orgA, "h2", at.Add(2*time.Hour)) {
			t.Error("an expired link confirmed")
		}
		if confirm(f.orgB, "h2", at) {
			t.Error("a link confirmed through another organization")
		}
		if !confirm(f.orgA, "h2", at.Add(time.Hour)) {
			t.Fatal("the link did not confirm")
		}
		if confirm(f.orgA, "h2", at.Add(time.Hour)) {
			t.Error("the link confirmed twice")
		}
		e, used, err := db.Read().EnrollmentByTokenHash(ctx, "h2")
		if err != nil || !used || e.Status != store.EnrollmentActive || e.ActivatedAt == nil || e.ConfirmExpiresAt != nil ||
			e.ConfirmedIP != "192.0.2.3" || e.RequestedIP != "192.0.2.2" {
			t.Errorf("after confirming: %+v used %v %v", e, used, err)
		}

		mailed := func(sentBefore time.Time) bool {
			t.Helper()
			var ok bool
			f.tx(t, func(q *store.Queries) error {
				var err error
				ok, err = q.MarkEnrollmentMailed(ctx, f.orgA, e.ID, store.EnrollmentActive, sentBefore, at.Add(3*time.Hour))
				return err
			})
			return ok
		}
		if mailed(at) || !mailed(at.Add(time.Minute)) || mailed(at.Add(2*time.Hour)) {
			t.Error("reminders ignore the throttle")
		}

		end := func(orgID int64, to store.EnrollmentStatus) bool {
			t.Helper()
			var ok bool
			f.tx(t, func(q *store.Queries) error {
				var err error
				ok, err = q.EndEnrollment(ctx, orgID, e.ID, to, at.Add(4*time.Hour))
				return err
			})
			return ok
		}
		if end(f.orgB, store.EnrollmentCancelled) {
			t.Error("ended through another organization")
		}
		if !end(f.orgA, store.EnrollmentUnsubscribed) || end(f.orgA, store.EnrollmentCancelled) {
			t.Error("an enrollment ends once")
		}
		e, _ = db.Read().Enrollment(ctx, f.orgA, e.ID)
		if e.Status != store.EnrollmentUnsubscribed || e.EndedAt == nil {
			t.Errorf("after unsubscribing: %+v", e)
		}
		// Ended, it opens again without a throttle, and activates directly.
		if !reopen(store.EnrollmentUnsubscribed, "h3", time.Time{}) {
			t.Error("an ended enrollment did not reopen")
		}
		var activated bool
		f.tx(t, func(q *store.Queries) error {
			var err error
			activated, err = q.ActivateEnrollment(ctx, f.orgA, e.ID, store.EnrollmentUnverified, at.Add(5*time.Hour))
			return err
		})
		e, _ = db.Read().Enrollment(ctx, f.orgA, e.ID)
		if !activated || e.Status != store.EnrollmentActive || e.EndedAt != nil || e.ConfirmExpiresAt != nil {
			t.Errorf("activated directly: %v %+v", activated, e)
		}
		if _, _, err := db.Read().EnrollmentByTokenHash(ctx, "h3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the link of a directly activated enrollment: %v", err)
		}
	})
}

// Finishing an enrollment returns it as reading it afterwards would, and
// only once, through its own organization, while it is active.
func TestFinishEnrollmentReturnsIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollmentFixture(t, db)
		at := time.Now().Add(-time.Hour)
		var id int64
		f.tx(t, func(q *store.Queries) error {
			l, err := q.SaveLearner(ctx, f.orgA, "ada@example.com")
			if err != nil {
				return err
			}
			e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgA, CourseID: f.courseA, LearnerID: l.ID,
				Status: store.EnrollmentActive, At: at})
			id = e.ID
			return err
		})
		finish := func(orgID int64) (store.Enrollment, bool) {
			t.Helper()
			var (
				e     store.Enrollment
				ended bool
			)
			f.tx(t, func(q *store.Queries) error {
				var err error
				e, ended, err = q.FinishEnrollment(ctx, orgID, id, store.EnrollmentCompleted, at.Add(time.Minute))
				return err
			})
			return e, ended
		}
		if e, ended := finish(f.orgB); ended || e.ID != 0 {
			t.Errorf("finished through another organization: %+v", e)
		}
		got, ended := finish(f.orgA)
		want, err := db.Read().Enrollment(ctx, f.orgA, id)
		if err != nil {
			t.Fatal(err)
		}
		if !ended || !reflect.DeepEqual(got, want) {
			t.Errorf("finished:\n%+v\nread afterwards:\n%+v", got, want)
		}
		if got.Status != store.EnrollmentCompleted || got.LearnerEmail != "ada@example.com" || got.CourseSlug != "go" || got.EndedAt == nil {
			t.Errorf("finished: %+v", got)
		}
		if e, ended := finish(f.orgA); ended || e.ID != 0 {
			t.Errorf("finished twice: %+v", e)
		}
	})
}

func TestLearnerAndEnrollmentLists(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollmentFixture(t, db)
		at := time.Now()
		var second int64
		f.tx(t, func(q *store.Queries) error {
			var err error
			if second, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: f.orgA, Title: "Algebra", TitleKey: "algebra", TitleSkeleton: names.Key("Algebra"), Slug: "algebra", Enabled: true}); err != nil {
				return err
			}
			for i, email := range []string{"b_1@example.com", "bx1@example.com", "c%d@example.com", "a@example.com"} {
				l, err := q.SaveLearner(ctx, f.orgA, email)
				if err != nil {
					return err
				}
				for _, c := range []int64{f.courseA, second}[:1+i%2] {
					if _, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgA, CourseID: c, LearnerID: l.ID,
						Status: store.EnrollmentActive, At: at.Add(time.Duration(i) * time.Second)}); err != nil {
						return err
					}
				}
			}
			l, err := q.SaveLearner(ctx, f.orgB, "b_1@example.com")
			if err != nil {
				return err
			}
			_, _, err = q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: f.orgB, CourseID: f.other, LearnerID: l.ID,
				Status: store.EnrollmentUnverified, TokenHash: "t", ExpiresAt: at, At: at})
			return err
		})
		emails := func(list []store.Learner) []string {
			var out []string
			for _, l := range list {
				out = append(out, l.Email)
			}
			return out
		}
		for _, tc := range []struct {
			search string
			want   string
			total  int
		}{
			{"", "[a@example.com b_1@example.com bx1@example.com]", 4},
			{"B_", "[b_1@example.com]", 1}, // _ is a character, not a wildcard
			{"%", "[c%d@example.com]", 1},
			{"nobody", "[]", 0},
		} {
			list, total, err := db.Read().ListLearners(ctx, store.LearnerFilter{OrganizationID: f.orgA, Search: tc.search, Limit: 3})
			if err != nil || fmt.Sprint(emails(list)) != tc.want || total != tc.total {
				t.Errorf("search %q: %v of %d, %v; want %s of %d", tc.search, emails(list), total, err, tc.want, tc.total)
			}
		}

		list, _, _ := db.Read().ListLearners(ctx, store.LearnerFilter{OrganizationID: f.orgA, Limit: 10})
		var ids []int64
		for _, l := range list {
			ids = append(ids, l.ID)
		}
		enrollments, err := db.Read().LearnersEnrollments(ctx, f.orgA, ids)
		if err != nil || len(enrollments) != 6 || enrollments[0].CourseTitle != "Algebra" {
			t.Errorf("learners' enrollments: %d, %v", len(enrollments), err)
		}
		if none, err := db.Read().LearnersEnrollments(ctx, f.orgB, ids); err != nil || len(none) != 0 {
			t.Errorf("A's learners through B: %v %v", none, err)
		}

		page, total, err := db.Read().ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: f.orgA, Limit: 2})
		if err != nil || total != 6 || len(page) != 2 || page[0].LearnerEmail != "a@example.com" {
			t.Errorf("enrollments: %+v of %d, %v", page, total, err)
		}
		_, total, _ = db.Read().ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: f.orgA, CourseID: second, Limit: 10})
		_, unverified, _ := db.Read().ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: f.orgA, Status: store.EnrollmentUnverified, Limit: 10})
		if total != 2 || unverified != 0 {
			t.Errorf("by course: %d, unverified: %d", total, unverified)
		}

		if c, err := db.Read().EnrollmentCourseBySlug(ctx, f.orgA, "algebra"); err != nil || c.ID != second || c.Public {
			t.Errorf("course by slug: %+v %v", c, err)
		}
		if _, err := db.Read().EnrollmentCourse(ctx, f.orgB, second); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("A's course through B: %v", err)
		}
	})
}

func TestBlockedEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollmentFixture(t, db)
		var admin store.User
		f.tx(t, func(q *store.Queries) error {
			var err error
			admin, err = q.CreateUser(ctx, store.NewUser{Email: "root@example.com", IsPlatformAdmin: true})
			return err
		})
		block := func(orgID int64, email string) error {
			return db.InTx(ctx, func(q *store.Queries) error {
				_, err := q.BlockEmail(ctx, orgID, email, admin.ID)
				return err
			})
		}
		if err := block(f.orgA, "spam@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := block(f.orgA, "spam@example.com"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("blocking twice: %v", err)
		}
		// The same address may be blocked by another organization and
		// platform-wide, each once.
		if err := block(f.orgB, "spam@example.com"); err != nil {
			t.Error(err)
		}
		if err := block(0, "all@example.com"); err != nil {
			t.Error(err)
		}
		if err := block(0, "all@example.com"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("blocking platform-wide twice: %v", err)
		}
		for _, tc := range []struct {
			org   int64
			email string
			want  bool
		}{
			{f.orgA, "spam@example.com", true},
			{f.orgA, " SPAM@Example.com", true},
			{f.orgA, "all@example.com", true},
			{f.orgB, "ALL@example.com", true},
			{f.orgA, "ham@example.com", false},
		} {
			if got, err := db.Read().EmailBlocked(ctx, tc.org, tc.email); err != nil || got != tc.want {
				t.Errorf("EmailBlocked(%d, %q) = %v, %v", tc.org, tc.email, got, err)
			}
		}
		list, total, err := db.Read().ListBlockedEmails(ctx, f.orgA, 0, 10)
		if err != nil || total != 1 || len(list) != 1 || list[0].Email != "spam@example.com" || list[0].OrganizationID != f.orgA ||
			list[0].CreatorEmail != "root@example.com" {
			t.Errorf("A's blocks: %+v of %d, %v", list, total, err)
		}
		list, total, _ = db.Read().ListBlockedEmails(ctx, 0, 0, 10)
		if total != 1 || list[0].Email != "all@example.com" || list[0].OrganizationID != 0 {
			t.Errorf("platform blocks: %+v of %d", list, total)
		}

		unblock := func(orgID int64, email string) error {
			return db.InTx(ctx, func(q *store.Queries) error { return q.UnblockEmail(ctx, orgID, email) })
		}
		if err := unblock(f.orgA, "spam@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := unblock(f.orgA, "spam@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unblocking twice: %v", err)
		}
		if blocked, _ := db.Read().EmailBlocked(ctx, f.orgB, "spam@example.com"); !blocked {
			t.Error("unblocking in A unblocked B")
		}
		if err := unblock(0, "spam@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("platform unblock of an organization's block: %v", err)
		}
	})
}
