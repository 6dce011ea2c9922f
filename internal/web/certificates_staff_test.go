package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// completeAgain enrolls another address in a course of organization 1
// that completeCourse made and waits until it is completed; it returns
// the claim link's path.
func completeAgain(t *testing.T, app *testApp, admin *client, courseID int64, email string) (store.Enrollment, string) {
	t.Helper()
	res, enrollment := admin.api(http.MethodPost, "/api/v1/organizations/1/enrollments", map[string]any{"email": email, "course_id": courseID})
	if res.status != http.StatusCreated {
		t.Fatalf("enroll: %d %s", res.status, res.body)
	}
	storetest.Eventually(t, 10*time.Second, "the course_completed email", func() bool {
		return len(app.mails(email, mail.KindCourseCompleted)) > 0
	})
	e, err := app.db.Read().Enrollment(t.Context(), 1, int64(enrollment["id"].(float64)))
	if err != nil || e.Status != store.EnrollmentCompleted {
		t.Fatalf("the enrollment is %s, %v", e.Status, err)
	}
	return e, app.linkIn(app.mails(email, mail.KindCourseCompleted)[0].Text, "/email-learning/public/certificates/claim/")
}

// TestStaffCertificatePages: staff list and read certificates, editors
// revoke them with a reason, and the public page then says so.
func TestStaffCertificatePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		zoeEnrollment, claim := completeCourse(t, app, admin, "zoe@example.com")
		if res := app.client().post(claim, url.Values{"name": {"Zoë Ünal"}}); res.status != http.StatusSeeOther {
			t.Fatalf("claim: %d\n%s", res.status, res.body)
		}
		bobEnrollment, bobClaim := completeAgain(t, app, admin, zoeEnrollment.CourseID, "bob@example.com")
		zoe, err := db.Read().CertificateOfEnrollment(t.Context(), 1, zoeEnrollment.ID)
		if err != nil {
			t.Fatal(err)
		}
		viewer := staffIn(t, app, "viewer@example.com", map[int64]access.Role{1: access.Viewer})
		editor := staffIn(t, app, "editor@example.com", map[int64]access.Role{1: access.Editor})
		list := organizationsPath + "1/certificates/"
		detail := list + zoe.Number + "/"
		revoke := detail + "revoke"
		public := learning.CertificatePath(zoe.Number)

		// Everyone in the organization sees the list and the detail; only
		// those who may revoke see the action.
		for _, c := range []*client{viewer, editor} {
			res := c.get(list)
			if res.status != 200 || !strings.Contains(res.body, `href="`+detail+`"`) || !strings.Contains(res.body, "bob@example.com") ||
				!strings.Contains(res.body, `aria-current="page">Certificates</a>`) {
				t.Errorf("the list: %d\n%s", res.status, res.body)
			}
		}
		for _, sc := range []struct {
			query, want, notWant string
		}{
			{"?q=ZOE", "zoe@example.com", "bob@example.com"},
			{"?q=" + strings.ToLower(zoe.Number[:8]), "zoe@example.com", "bob@example.com"},
			{"?q=nobody", "No certificate matches", "zoe@example.com"},
			{fmt.Sprintf("?course=%d", zoeEnrollment.CourseID), "zoe@example.com", "No certificate matches"},
			{"?course=999999", "No certificate matches", "zoe@example.com"},
		} {
			res := viewer.get(list + sc.query)
			if res.status != 200 || !strings.Contains(res.body, sc.want) || strings.Contains(res.body, sc.notWant) {
				t.Errorf("the list %s: %d, want %q and not %q\n%s", sc.query, res.status, sc.want, sc.notWant, res.body)
			}
		}
		if res := viewer.get(detail); res.status != 200 || !strings.Contains(res.body, "Zoë Ünal") || strings.Contains(res.body, `href="`+revoke+`"`) {
			t.Errorf("a viewer's detail: %d\n%s", res.status, res.body)
		}
		if res := editor.get(detail); res.status != 200 || !strings.Contains(res.body, `href="`+revoke+`"`) {
			t.Errorf("an editor's detail: %d\n%s", res.status, res.body)
		}
		if res := viewer.get(organizationsPath + fmt.Sprintf("1/enrollments/%d/", zoeEnrollment.ID)); !strings.Contains(res.body, `href="`+detail+`"`) {
			t.Errorf("the enrollment's page does not link the certificate's:\n%s", res.body)
		}

		// A viewer may not revoke.
		if res := viewer.get(revoke); res.status != http.StatusForbidden {
			t.Errorf("a viewer's revoke form: %d", res.status)
		}
		if res := viewer.post(revoke, url.Values{"reason": {"Copied."}}); res.status != http.StatusForbidden {
			t.Errorf("a viewer revokes: %d", res.status)
		}
		if res, _ := viewer.api(http.MethodPost, "/api/v1/organizations/1/certificates/"+zoe.Number+"/revoke", map[string]string{"reason": "Copied."}); res.status != http.StatusForbidden {
			t.Errorf("a viewer revokes through the API: %d", res.status)
		}

		// The form: a reason is required and shown again with its message.
		if res := editor.get(revoke); res.status != 200 || !strings.Contains(res.body, `name="reason"`) || !strings.Contains(res.body, `maxlength="500"`) {
			t.Errorf("the revoke form: %d\n%s", res.status, res.body)
		}
		res := editor.post(revoke, url.Values{"reason": {"  "}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Enter the reason.") || !strings.Contains(res.body, `aria-invalid="true"`) {
			t.Errorf("no reason: %d\n%s", res.status, res.body)
		}
		long := strings.Repeat("x", 501)
		if res := editor.post(revoke, url.Values{"reason": {long}}); res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `value="`+long+`"`) {
			t.Errorf("a reason too long: %d", res.status)
		}
		if c, _ := db.Read().CertificateOfEnrollment(t.Context(), 1, zoeEnrollment.ID); c.Revoked() {
			t.Fatal("revoked by a refused request")
		}

		res = editor.post(revoke, url.Values{"reason": {"Submitted someone else's answers."}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != detail {
			t.Fatalf("revoke: %d to %q\n%s", res.status, res.header.Get("Location"), res.body)
		}
		revoked, _ := db.Read().CertificateOfEnrollment(t.Context(), 1, zoeEnrollment.ID)
		date := revoked.RevokedAt.Format("2 January 2006")
		if res := editor.get(detail); !strings.Contains(res.body, "is revoked") || !strings.Contains(res.body, "Submitted someone else&#39;s answers.") ||
			!strings.Contains(res.body, "by editor@example.com") || strings.Contains(res.body, `href="`+revoke+`"`) {
			t.Errorf("the detail after revoking: %d\n%s", res.status, res.body)
		}
		if res := editor.post(revoke, url.Values{"reason": {"Again."}}); res.status != http.StatusConflict || !strings.Contains(res.body, "revoked already") {
			t.Errorf("revoke again: %d\n%s", res.status, res.body)
		}
		if res := admin.get(organizationsPath + "1/audit/"); !strings.Contains(res.body, "Certificate revoked") || !strings.Contains(res.body, zoe.Number) {
			t.Errorf("the audit log lacks the revocation:\n%s", res.body)
		}

		// The public page says so, without the staff's reason; the QR code
		// still leads there; no PDF is made any more.
		scenario{method: "GET", path: public, wantStatus: 200,
			want:    []string{"This certificate was revoked", "My Organization revoked this certificate on", date, "Zoë Ünal"},
			notWant: []string{"Submitted someone", "Download PDF", "certificate.pdf"}}.run(t, app)
		scenario{method: "GET", path: public + "qr.png", wantStatus: 200}.run(t, app)
		scenario{method: "GET", path: public + "certificate.pdf", wantStatus: http.StatusGone,
			want: []string{"This certificate was revoked on " + date + " by My Organization"}}.run(t, app)
		scenario{method: "GET", path: claim, wantStatus: 200, want: []string{"revoked this certificate on " + date}}.run(t, app)

		// An unclaimed certificate, once revoked, cannot be claimed.
		bob, _ := db.Read().CertificateOfEnrollment(t.Context(), 1, bobEnrollment.ID)
		if res, body := editor.api(http.MethodPost, "/api/v1/organizations/1/certificates/"+strings.ToLower(bob.Number)+"/revoke",
			map[string]string{"reason": "Enrolled by mistake."}); res.status != 200 || body["revoked_by"] != "editor@example.com" || body["learner_name"] != nil {
			t.Fatalf("revoke through the API: %d %s", res.status, res.body)
		}
		scenario{method: "GET", path: bobClaim, wantStatus: 200, want: []string{"can no longer be claimed"}, notWant: []string{`name="name"`}}.run(t, app)
		scenario{method: "POST", path: bobClaim, form: url.Values{"name": {"Bob"}}, wantStatus: http.StatusGone,
			want: []string{"can no longer be claimed"}}.run(t, app)
		if c, _ := db.Read().CertificateOfEnrollment(t.Context(), 1, bob.EnrollmentID); c.Claimed() {
			t.Error("a revoked certificate was claimed")
		}
	})
}

// TestCertificateAPI: the list with its filters and cursor, the detail,
// and revocation, which answers the certificate and is refused the
// second time.
func TestCertificateAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		e, _ := completeCourse(t, app, admin, "zoe@example.com")
		completeAgain(t, app, admin, e.CourseID, "bob@example.com")
		zoe, _ := db.Read().CertificateOfEnrollment(t.Context(), 1, e.ID)

		res, body := admin.api(http.MethodGet, "/api/v1/organizations/1/certificates", nil)
		items, _ := body["items"].([]any)
		if res.status != 200 || len(items) != 2 || body["next_cursor"] != "" || items[0].(map[string]any)["learner_email"] != "bob@example.com" {
			t.Fatalf("list: %d %s", res.status, res.body)
		}
		for query, want := range map[string]int{
			"?q=zoe": 1, "?q=" + zoe.Number: 1, "?q=nobody": 0,
			fmt.Sprintf("?course_id=%d", e.CourseID): 2, "?course_id=999999": 0, fmt.Sprintf("?q=bob&course_id=%d", e.CourseID): 1,
		} {
			res, body := admin.api(http.MethodGet, "/api/v1/organizations/1/certificates"+query, nil)
			if items, _ := body["items"].([]any); res.status != 200 || len(items) != want {
				t.Errorf("list%s: %d %s, want %d items", query, res.status, res.body, want)
			}
		}
		for _, query := range []string{"?course_id=x", "?course_id=-1", "?cursor=0"} {
			if res, _ := admin.api(http.MethodGet, "/api/v1/organizations/1/certificates"+query, nil); res.status != http.StatusBadRequest && res.status != http.StatusUnprocessableEntity {
				t.Errorf("list%s: %d", query, res.status)
			}
		}

		path := "/api/v1/organizations/1/certificates/" + zoe.Number
		res, got := admin.api(http.MethodGet, path, nil)
		if res.status != 200 || got["number"] != zoe.Number || got["learner_email"] != "zoe@example.com" || got["course_id"] != float64(e.CourseID) ||
			got["revoked_at"] != nil || got["learner_name"] != nil || got["url"] != nil || got["created_at"] == nil {
			t.Errorf("detail: %d %s", res.status, res.body)
		}
		if res, _ := admin.api(http.MethodGet, "/api/v1/organizations/1/certificates/"+learning.NewCertificateNumber(), nil); res.status != http.StatusNotFound {
			t.Errorf("an unknown number: %d", res.status)
		}

		if res, body := admin.api(http.MethodPost, path+"/revoke", map[string]string{}); res.status != http.StatusUnprocessableEntity ||
			body["error"].(map[string]any)["fields"].(map[string]any)["reason"] == nil {
			t.Errorf("revoke without a reason: %d %s", res.status, res.body)
		}
		res, got = admin.api(http.MethodPost, path+"/revoke", map[string]string{"reason": "Refunded."})
		if res.status != 200 || got["revoked_at"] == nil || got["revocation_reason"] != "Refunded." || got["revoked_by"] != adminEmail ||
			got["updated_at"] != got["revoked_at"] {
			t.Errorf("revoke: %d %s", res.status, res.body)
		}
		res, got = admin.api(http.MethodPost, path+"/revoke", map[string]string{"reason": "Again."})
		if res.status != http.StatusConflict || got["error"].(map[string]any)["code"] != "certificate_revoked" {
			t.Errorf("revoke again: %d %s", res.status, res.body)
		}
	})
}

// TestCertificatesOfAnotherOrganization: a certificate is only found
// through its own organization, on every route.
func TestCertificatesOfAnotherOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		e, _ := completeCourse(t, app, admin, "zoe@example.com")
		c, _ := db.Read().CertificateOfEnrollment(t.Context(), 1, e.ID)
		other, _ := storetest.NewOrganization(t, db, "Elsewhere")
		stranger := staffIn(t, app, "stranger@example.com", map[int64]access.Role{other: access.Owner})

		web := fmt.Sprintf(organizationsPath+"%d/certificates/%s/", other, c.Number)
		api := fmt.Sprintf("/api/v1/organizations/%d/certificates/%s", other, c.Number)
		// Its own organization's routes with the number of another's, and
		// the other organization's routes.
		for _, who := range []*client{stranger, admin} {
			for _, res := range []response{who.get(web), who.get(web + "revoke"), who.post(web+"revoke", url.Values{"reason": {"Mine."}})} {
				if res.status != http.StatusNotFound {
					t.Errorf("a web route of another organization's certificate: %d", res.status)
				}
			}
			for _, call := range []struct{ method, path string }{{"GET", api}, {"POST", api + "/revoke"}} {
				if res, _ := who.api(call.method, call.path, map[string]string{"reason": "Mine."}); res.status != http.StatusNotFound {
					t.Errorf("%s %s: %d", call.method, call.path, res.status)
				}
			}
			if res, body := who.api(http.MethodGet, fmt.Sprintf("/api/v1/organizations/%d/certificates", other), nil); res.status != 200 ||
				len(body["items"].([]any)) != 0 {
				t.Errorf("the other organization's list: %d %s", res.status, res.body)
			}
		}
		orgOne := organizationsPath + "1/certificates/" + c.Number + "/"
		for _, res := range []response{stranger.get(organizationsPath + "1/certificates/"), stranger.get(orgOne), stranger.post(orgOne+"revoke", url.Values{"reason": {"Mine."}})} {
			if res.status != http.StatusNotFound {
				t.Errorf("a stranger on organization 1's certificates: %d", res.status)
			}
		}
		if after, _ := db.Read().CertificateOfEnrollment(t.Context(), 1, e.ID); after.Revoked() {
			t.Error("revoked through another organization")
		}
	})
}

// TestCertificateListPages: the list and the API go page by page, with
// the search kept.
func TestCertificateListPages(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	ctx := t.Context()
	err := db.InTx(ctx, func(q *store.Queries) error {
		course, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: 1, Title: "Go basics", TitleKey: "go basics", TitleSkeleton: "go basics", Slug: "go-basics"})
		if err != nil {
			return err
		}
		for i := range learning.PageSize + 1 {
			l, err := q.SaveLearner(ctx, 1, fmt.Sprintf("paged%02d@example.com", i))
			if err != nil {
				return err
			}
			e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: 1, CourseID: course, LearnerID: l.ID,
				Status: store.EnrollmentCompleted, At: time.Now()})
			if err != nil {
				return err
			}
			if _, _, err := q.CreateCertificate(ctx, store.NewCertificate{OrganizationID: 1, EnrollmentID: e.ID, Number: learning.NewCertificateNumber(),
				CourseTitle: "Go basics", OrganizationName: "My Organization", CompletedAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	admin := app.loggedIn(adminEmail, adminPassword)
	list := organizationsPath + "1/certificates/"
	res := admin.get(list + "?q=paged")
	next := `href="?q=paged&amp;course=&amp;page=2"`
	if !strings.Contains(res.body, "Page 1 of 2") || !strings.Contains(res.body, next) || strings.Contains(res.body, "paged00@") {
		t.Errorf("the first page lacks %s, or shows the oldest:\n%s", next, res.body)
	}
	res = admin.get(list + "?q=paged&course=&page=2")
	if !strings.Contains(res.body, "Page 2 of 2") || !strings.Contains(res.body, "paged00@") || strings.Count(res.body, "<tr data-certificate") != 1 {
		t.Errorf("the second page:\n%s", res.body)
	}
	r, body := admin.api(http.MethodGet, "/api/v1/organizations/1/certificates?q=paged", nil)
	if r.status != 200 || body["next_cursor"] != "2" || len(body["items"].([]any)) != learning.PageSize {
		t.Errorf("the API's first page: %d, cursor %v", r.status, body["next_cursor"])
	}
	r, body = admin.api(http.MethodGet, "/api/v1/organizations/1/certificates?q=paged&cursor=2", nil)
	if r.status != 200 || body["next_cursor"] != "" || len(body["items"].([]any)) != 1 {
		t.Errorf("the API's second page: %d %s", r.status, r.body)
	}
}
