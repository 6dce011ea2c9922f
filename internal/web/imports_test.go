package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// csvBody is an API request body sent as text/csv.
type csvBody string

func importsURL(suffix string) func(o *authzOrg) string {
	return func(o *authzOrg) string {
		return fmt.Sprintf(organizationsPath+"%d/courses/%d/imports/%s", o.id, o.enrollCourse, suffix)
	}
}

func importsAPI(suffix string) func(o *authzOrg) string {
	return func(o *authzOrg) string {
		return fmt.Sprintf("/api/v1/organizations/%d/courses/%d/imports%s", o.id, o.enrollCourse, suffix)
	}
}

// addImport gives an organization of newOrg a finished import into its
// enabled course, so that a new one may start.
func (f *authzFixture) addImport(ctx context.Context, q *store.Queries, o *authzOrg) error {
	li, err := q.CreateLearnerImport(ctx, store.NewLearnerImport{OrganizationID: o.id, CourseID: o.enrollCourse, CreatedByName: "someone@example.com",
		Total: 1, Rejected: 1, ErrorCount: 1, At: time.Now()})
	if err != nil {
		return err
	}
	if err := q.AddImportErrors(ctx, li.ID, []store.ImportError{{Line: 2, Email: "nobody", Reason: learning.ReasonInvalidEmail}}); err != nil {
		return err
	}
	o.importID = li.ID
	_, err = q.FinishLearnerImport(ctx, li.ID, store.ImportDone, "", time.Now())
	return err
}

// fingerprintImports adds an organization's imports to a fingerprint.
func fingerprintImports(t *testing.T, b *strings.Builder, q *store.Queries, orgID int64) {
	t.Helper()
	courses, _, err := q.ListCourses(context.Background(), store.CourseFilter{OrganizationID: orgID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range courses {
		list, err := q.ListLearnerImports(context.Background(), orgID, c.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(b, " imports:%d=%d", c.ID, len(list))
	}
}

// importCourse makes an organization with an enabled course and returns
// their ids.
func importCourse(t *testing.T, app *testApp, c *client) (orgID, courseID int64) {
	t.Helper()
	res, org := c.api(http.MethodPost, "/api/v1/organizations", map[string]string{"name": "Import Academy"})
	if res.status != http.StatusCreated {
		t.Fatalf("create organization: %d %s", res.status, res.body)
	}
	orgID = int64(org["id"].(float64))
	res, course := c.api(http.MethodPost, fmt.Sprintf("/api/v1/organizations/%d/courses", orgID), map[string]any{"title": "Go basics"})
	if res.status != http.StatusCreated {
		t.Fatalf("create course: %d %s", res.status, res.body)
	}
	courseID = int64(course["id"].(float64))
	path := fmt.Sprintf("/api/v1/organizations/%d/courses/%d", orgID, courseID)
	if res, _ := c.api(http.MethodPost, path+"/contents", map[string]any{"kind": "lesson", "title": "Welcome", "body": "Hello.", "published": true}); res.status != http.StatusCreated {
		t.Fatalf("add lesson: %d %s", res.status, res.body)
	}
	if res, _ := c.api(http.MethodPatch, path, map[string]any{"enabled": true}); res.status != http.StatusOK {
		t.Fatalf("enable course: %d %s", res.status, res.body)
	}
	return orgID, courseID
}

// waitImport polls the API until the import ends, and returns it.
func waitImport(t *testing.T, c *client, path string) importJSON {
	t.Helper()
	var li importJSON
	storetest.Eventually(t, 20*time.Second, "the import to end", func() bool {
		res, _ := c.api(http.MethodGet, path, nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.status, res.body)
		}
		li = importJSON{}
		if err := json.Unmarshal([]byte(res.body), &li); err != nil {
			t.Fatal(err)
		}
		return li.Status != "running"
	})
	return li
}

func TestImportThroughTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)
		orgID, courseID := importCourse(t, app, c)
		base := fmt.Sprintf("/api/v1/organizations/%d/courses/%d/imports", orgID, courseID)
		res, _ := c.api(http.MethodPost, fmt.Sprintf("/api/v1/organizations/%d/blocked-emails", orgID), map[string]string{"email": "blocked@example.com"})
		if res.status != http.StatusCreated {
			t.Fatalf("block: %d %s", res.status, res.body)
		}
		file := "email,name\nada@example.com,Ada\nnot an address,Bob\nADA@example.com,Ada again\nblocked@example.com,Blocked\n"
		res, _ = c.api(http.MethodPost, base, csvBody(file))
		if res.status != http.StatusAccepted {
			t.Fatalf("import: %d %s", res.status, res.body)
		}
		var started importJSON
		json.Unmarshal([]byte(res.body), &started)
		if started.Total != 4 || len(started.Errors) != 2 || started.Errors[0].Line != 3 || started.Errors[1].Reason != "duplicate" {
			t.Errorf("at upload: %s", res.body)
		}
		loc := res.header.Get("Location")
		if loc != fmt.Sprintf("%s/%d", base, started.ID) {
			t.Errorf("Location %q", loc)
		}
		li := waitImport(t, c, loc)
		if li.Status != "done" || li.Done != 4 || li.Enrolled != 1 || li.ErrorCount != 3 || len(li.Errors) != 3 || li.Errors[2].Reason != "blocked" {
			t.Errorf("ended as %+v", li)
		}
		if got := app.mails("ada@example.com", mail.KindEnrollmentConfirm); len(got) != 1 {
			t.Errorf("%d confirmation emails to ada, want 1", len(got))
		}
		// The page shows the progress, full, and the rows by line.
		page := c.get(fmt.Sprintf(organizationsPath+"%d/courses/%d/imports/%d/", orgID, courseID, li.ID))
		for _, want := range []string{`<progress id="import-progress" max="4" value="4">`, "100%", "not an address", "This address is blocked"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the import's page lacks %q", want)
			}
		}
		if strings.Contains(page.body, `http-equiv="refresh"`) {
			t.Error("a finished import's page refreshes")
		}

		// With consent held: active at once, no email.
		res, _ = c.api(http.MethodPost, base+"?consent=held", csvBody("grace@example.com\n"))
		if res.status != http.StatusAccepted {
			t.Fatalf("import with consent: %d %s", res.status, res.body)
		}
		li = waitImport(t, c, res.header.Get("Location"))
		if li.Status != "done" || li.Enrolled != 1 || !li.ConsentHeld {
			t.Errorf("with consent: %+v", li)
		}
		if got := app.mails("grace@example.com", mail.KindEnrollmentConfirm); len(got) != 0 {
			t.Errorf("%d confirmation emails with consent held", len(got))
		}
		res, audit := c.api(http.MethodGet, fmt.Sprintf("/api/v1/organizations/%d/audit-log?kind=learners.imported", orgID), nil)
		if res.status != http.StatusOK || len(audit["items"].([]any)) != 2 || !strings.Contains(res.body, "consent_stated_by") {
			t.Errorf("audit log: %d %s", res.status, res.body)
		}
	})
}

func TestImportRefusesBadUploads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)
		orgID, courseID := importCourse(t, app, c)
		base := fmt.Sprintf("/api/v1/organizations/%d/courses/%d/imports", orgID, courseID)
		huge := bytes.Repeat([]byte("a@example.com\n"), learning.ImportMaxBytes/14+1)
		for _, tc := range []struct {
			name string
			path string
			body any
			want int
			code string
		}{
			{"JSON", base, map[string]string{"email": "a@example.com"}, http.StatusUnsupportedMediaType, "unsupported_media_type"},
			{"bytes", base, []byte("a@example.com\n"), http.StatusUnsupportedMediaType, "unsupported_media_type"},
			{"binary as CSV", base, csvBody("\x00\x01\x02"), http.StatusBadRequest, "not_csv"},
			{"bad quotes", base, csvBody("\"a@example.com\n"), http.StatusBadRequest, "malformed_csv"},
			{"empty", base, csvBody(""), http.StatusBadRequest, "empty_file"},
			{"huge", base, csvBody(huge), http.StatusRequestEntityTooLarge, "file_too_large"},
			{"unknown consent", base + "?consent=yes", csvBody("a@example.com\n"), http.StatusBadRequest, "invalid_consent"},
			{"another course", fmt.Sprintf("/api/v1/organizations/%d/courses/%d/imports", orgID, courseID+1000), csvBody("a@example.com\n"), http.StatusNotFound, "course_not_found"},
			{"no such import", base + "/999999", nil, http.StatusNotFound, "import_not_found"},
		} {
			method := http.MethodPost
			if tc.body == nil {
				method = http.MethodGet
			}
			res, _ := c.api(method, tc.path, tc.body)
			if res.status != tc.want || !strings.Contains(res.body, `"code":"`+tc.code+`"`) {
				t.Errorf("%s: %d %s, want %d %s", tc.name, res.status, excerpt(res.body, 200), tc.want, tc.code)
			}
		}
	})
}

// The upload form leads to the import's page, which refreshes while the
// import runs and shows the rows by line.
func TestImportPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)
		orgID, courseID := importCourse(t, app, c)
		course := fmt.Sprintf(organizationsPath+"%d/courses/%d/", orgID, courseID)
		if res := c.get(course); !strings.Contains(res.body, `href="`+course+`imports/"`) {
			t.Error("the course's page has no link to import learners")
		}
		form := c.get(course + "imports/")
		for _, want := range []string{`enctype="multipart/form-data"`, `name="file"`, `name="consent"`, "without a confirmation email"} {
			if !strings.Contains(form.body, want) {
				t.Errorf("the upload page lacks %q", want)
			}
		}
		res := c.postMultipart(course+"imports/", nil, upload{"file", "x.bin", []byte("\x00\x01")})
		if res.status != http.StatusBadRequest || !strings.Contains(res.body, "not a CSV file") {
			t.Errorf("binary upload: %d %s", res.status, excerpt(res.body, 300))
		}
		res = c.postMultipart(course+"imports/", nil, upload{"file", "big.csv", bytes.Repeat([]byte("a@example.com\n"), learning.ImportMaxBytes/14+1)})
		if res.status != http.StatusRequestEntityTooLarge || !strings.Contains(res.body, "larger than 10 MiB") {
			t.Errorf("huge upload: %d %s", res.status, excerpt(res.body, 300))
		}
		res = c.postMultipart(course+"imports/", map[string]string{"consent": "held"},
			upload{"file", "learners.csv", []byte("email\nada@example.com\nnot an address\n")})
		if res.status != http.StatusSeeOther {
			t.Fatalf("upload: %d %s", res.status, excerpt(res.body, 300))
		}
		page := res.header.Get("Location")
		storetest.Eventually(t, 20*time.Second, "the import to end", func() bool {
			return strings.Contains(c.get(page).body, `max="2" value="2"`)
		})
		body := c.get(page).body
		for _, want := range []string{"100%", "not an address", "This is not a valid email address.", adminEmail + " stated on"} {
			if !strings.Contains(body, want) {
				t.Errorf("the import's page lacks %q:\n%s", want, body)
			}
		}
		if list := c.get(course + "imports/"); !strings.Contains(list.body, page) {
			t.Error("the imports page does not list the import")
		}
		// A running import's page refreshes every 2 seconds.
		var running int64
		err := app.db.InTx(context.Background(), func(q *store.Queries) error {
			li, err := q.CreateLearnerImport(context.Background(), store.NewLearnerImport{OrganizationID: orgID, CourseID: courseID,
				CreatedByName: adminEmail, Total: 10, At: time.Now()})
			running = li.ID
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		body = c.get(fmt.Sprintf("%simports/%d/", course, running)).body
		if !strings.Contains(body, `<meta http-equiv="refresh" content="2">`) || !strings.Contains(body, `max="10" value="0"`) {
			t.Errorf("a running import's page:\n%s", excerpt(body, 500))
		}
	})
}
