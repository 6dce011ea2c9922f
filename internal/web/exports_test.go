package web

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/csvout"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// readCSV checks an answer is a CSV file named as exports are, and
// returns its rows, the header first.
func readCSV(t *testing.T, res response, kind string) [][]string {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("export of %s: status %d\n%s", kind, res.status, excerpt(res.body, 300))
	}
	if ct := res.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	wantName := fmt.Sprintf(`attachment; filename="my-organization-%s-%s.csv"`, kind, time.Now().UTC().Format(time.DateOnly))
	if cd := res.header.Get("Content-Disposition"); cd != wantName {
		t.Errorf("Content-Disposition %q, want %q", cd, wantName)
	}
	if !strings.HasSuffix(res.body, "\r\n") || strings.Count(res.body, "\n") != strings.Count(res.body, "\r\n") {
		t.Errorf("lines do not all end in CRLF: %q", excerpt(res.body, 300))
	}
	rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, excerpt(res.body, 300))
	}
	return rows
}

// exportSchool is the school of the export tests: a course whose title a
// spreadsheet would run, learners whose names and addresses need quoting
// or escaping, one with a quiz passed at the second try and a claimed
// certificate, a blocked one, and another organization's learner.
type exportSchool struct {
	school
	ada, dash store.Enrollment
	quiz      int64
}

func newExportSchool(t *testing.T, app *testApp) exportSchool {
	t.Helper()
	ctx := context.Background()
	sc := exportSchool{school: newSchool(t, app)}
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	other, _ := storetest.NewOrganization(t, app.db, "Elsewhere")
	err := app.db.InTx(ctx, func(q *store.Queries) error {
		// Titles go through names.Clean, which lets these through.
		if err := q.UpdateCourse(ctx, sc.orgID, sc.courseID, store.CourseFields{Title: "=HYPERLINK(\"http://x\", \"Go\")",
			TitleKey: "=hyperlink", TitleSkeleton: names.Key("=HYPERLINK"), Description: "", Enabled: true, Public: true}); err != nil {
			return err
		}
		var lesson int64
		var err error
		if lesson, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID, Kind: "lesson", Title: "One", Published: true}); err != nil {
			return err
		}
		if sc.quiz, err = q.CreateContentItem(ctx, store.NewContentItem{OrganizationID: sc.orgID, CourseID: sc.courseID, Kind: "quiz", Title: "Check", Published: true, RequiredScore: 60}); err != nil {
			return err
		}
		enroll := func(orgID, courseID int64, email string) (store.Enrollment, error) {
			l, err := q.SaveLearner(ctx, orgID, email)
			if err != nil {
				return store.Enrollment{}, err
			}
			e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: orgID, CourseID: courseID, LearnerID: l.ID, Status: store.EnrollmentActive, At: at})
			return e, err
		}
		if sc.ada, err = enroll(sc.orgID, sc.courseID, "ada@example.com"); err != nil {
			return err
		}
		if sc.dash, err = enroll(sc.orgID, sc.courseID, "-dash@example.com"); err != nil {
			return err
		}
		for i, item := range []int64{lesson, sc.quiz, sc.quiz} {
			attempt := max(i, 1)
			d, _, err := q.ScheduleDelivery(ctx, sc.orgID, sc.ada.ID, item, attempt, at)
			if err != nil {
				return err
			}
			m, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: &sc.orgID, Kind: "lesson", Sender: "a@example.com",
				Recipient: "ada@example.com", Subject: "x", MessageID: fmt.Sprintf("export-%d@example.com", d), Raw: []byte("x")})
			if err != nil {
				return err
			}
			if err := q.MarkDeliverySent(ctx, d, m.ID); err != nil {
				return err
			}
			if item == sc.quiz {
				score := []int{0, 50, 100}[i]
				if _, err := q.CreateQuizAttempt(ctx, store.NewQuizAttempt{OrganizationID: sc.orgID, EnrollmentID: sc.ada.ID, DeliveryID: d,
					ContentID: sc.quiz, Attempt: attempt, Score: score, Passed: score >= 60, Answers: map[int64][]int64{}, At: at}); err != nil {
					return err
				}
			}
		}
		if _, _, err := q.FinishEnrollment(ctx, sc.orgID, sc.ada.ID, store.EnrollmentCompleted, at.Add(time.Hour)); err != nil {
			return err
		}
		c, _, err := q.CreateCertificate(ctx, store.NewCertificate{OrganizationID: sc.orgID, EnrollmentID: sc.ada.ID, Number: "CERT-1",
			CourseTitle: "Go", OrganizationName: "My Organization", CompletedAt: at.Add(time.Hour)})
		if err != nil {
			return err
		}
		if _, err := q.ClaimCertificate(ctx, sc.orgID, c.ID, "Lovelace, \"Ada\"", nil, at.Add(2*time.Hour)); err != nil {
			return err
		}
		if _, err := q.BlockEmail(ctx, sc.orgID, "-dash@example.com", 0); err != nil {
			return err
		}
		course, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: other, Title: "Theirs", TitleKey: "theirs", TitleSkeleton: names.Key("Theirs"), Slug: "theirs"})
		if err != nil {
			return err
		}
		_, err = enroll(other, course, "theirs@example.com")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sc.ada, _ = app.db.Read().Enrollment(ctx, sc.orgID, sc.ada.ID)
	sc.dash, _ = app.db.Read().Enrollment(ctx, sc.orgID, sc.dash.ID)
	return sc
}

func TestExportEnrollmentsAndLearners(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		sc := newExportSchool(t, app)
		viewer := sc.member("viewer@example.com", access.Viewer)

		rows := readCSV(t, viewer.get(apiURL("/exports/enrollments.csv")(&authzOrg{id: sc.orgID})), "enrollments")
		if !slices.Equal(rows[0], enrollmentExportHeader) {
			t.Errorf("header %q", rows[0])
		}
		title := "'=HYPERLINK(\"http://x\", \"Go\")"
		when := func(t *time.Time) string { return t.UTC().Format(time.RFC3339) }
		want := [][]string{
			{fmt.Sprint(sc.ada.ID), fmt.Sprint(sc.courseID), title, "ada@example.com", "Lovelace, \"Ada\"", "completed",
				"2026-03-01T09:30:00Z", when(sc.ada.ActivatedAt), "2026-03-01T10:30:00Z", "2", "2",
				"1", "1", "2", "100", "CERT-1", "false"},
			{fmt.Sprint(sc.dash.ID), fmt.Sprint(sc.courseID), title, "'-dash@example.com", "", "active",
				"2026-03-01T09:30:00Z", when(sc.dash.ActivatedAt), "", "0", "2",
				"0", "0", "0", "", "", ""},
		}
		if !slices.EqualFunc(rows[1:], want, slices.Equal) {
			t.Errorf("rows\n%q\nwant\n%q", rows[1:], want)
		}

		rows = readCSV(t, viewer.get(apiURL("/exports/learners.csv")(&authzOrg{id: sc.orgID})), "learners")
		learners := sc.learners(t)
		want = [][]string{
			{fmt.Sprint(learners["-dash@example.com"].ID), "'-dash@example.com", "", learners["-dash@example.com"].CreatedAt.Format(time.RFC3339), "1", "true"},
			{fmt.Sprint(learners["ada@example.com"].ID), "ada@example.com", "Lovelace, \"Ada\"", learners["ada@example.com"].CreatedAt.Format(time.RFC3339), "1", "false"},
		}
		if !slices.Equal(rows[0], learnerExportHeader) || !slices.EqualFunc(rows[1:], want, slices.Equal) {
			t.Errorf("rows\n%q\nwant\n%q", rows, want)
		}
		// The raw bytes: quotes doubled, the formula quoted away.
		res := viewer.get(apiURL("/exports/learners.csv")(&authzOrg{id: sc.orgID}))
		if !strings.Contains(res.body, `,"Lovelace, ""Ada""",`) || !strings.Contains(res.body, "\r\n"+fmt.Sprint(learners["-dash@example.com"].ID)+",'-dash@example.com,") {
			t.Errorf("raw file:\n%s", res.body)
		}

		// Another organization's admin: not found, whatever the export.
		third, _ := storetest.NewOrganization(t, db, "Third")
		other := school{app: app, orgID: third}.member("third@example.com", access.Admin)
		for _, kind := range []string{"enrollments", "learners", "audit"} {
			res := other.get(fmt.Sprintf("/api/v1/organizations/%d/exports/%s.csv", sc.orgID, kind))
			if res.status != http.StatusNotFound || !strings.Contains(res.header.Get("Content-Type"), "application/json") {
				t.Errorf("%s export as another organization's admin: %d %s", kind, res.status, res.body)
			}
		}

		// The learners' page links to both files.
		page := viewer.get(organizationPath(sc.orgID) + "learners/")
		for _, kind := range []string{"learners", "enrollments"} {
			if !strings.Contains(page.body, fmt.Sprintf(`href="/api/v1/organizations/%d/exports/%s.csv"`, sc.orgID, kind)) {
				t.Errorf("the learners' page has no link to the %s export", kind)
			}
		}
	})
}

// learners are the school's learners by address.
func (sc exportSchool) learners(t *testing.T) map[string]store.Learner {
	t.Helper()
	list, _, err := sc.app.db.Read().ListLearners(context.Background(), store.LearnerFilter{OrganizationID: sc.orgID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]store.Learner{}
	for _, l := range list {
		m[l.Email] = l
	}
	return m
}

func TestExportAuditLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		sc := newExportSchool(t, app)
		admin := app.loggedIn(adminEmail, adminPassword)
		if res, _ := admin.api(http.MethodPatch, fmt.Sprintf("/api/v1/organizations/%d", sc.orgID), map[string]string{"name": "Acme, \"Learning\""}); res.status != http.StatusOK {
			t.Fatalf("rename: %d %s", res.status, res.body)
		}
		if res, _ := admin.api(http.MethodPost, fmt.Sprintf("/api/v1/organizations/%d/members", sc.orgID), map[string]string{"email": "new@example.com", "role": "editor"}); res.status >= 300 {
			t.Fatalf("invite: %d %s", res.status, res.body)
		}
		sc.member("viewer@example.com", access.Viewer)
		path := fmt.Sprintf("/api/v1/organizations/%d/exports/audit.csv", sc.orgID)

		rows := readCSV(t, admin.get(path), "audit-log")
		if !slices.Equal(rows[0], auditExportHeader) || len(rows) != 3 {
			t.Fatalf("rows %q", rows)
		}
		// Newest first: the invitation after the rename.
		if rows[1][2] == "organization.updated" || rows[2][2] != "organization.updated" || rows[2][3] != "Settings changed" || rows[2][4] != adminEmail {
			t.Errorf("rows %q", rows[1:])
		}
		if rows[2][6] != "Name: My Organization → Acme, \"Learning\"" {
			t.Errorf("changes %q", rows[2][6])
		}

		// The filters of the log's list.
		filtered := readCSV(t, admin.get(path+"?kind=organization.updated&actor="+url.QueryEscape(strings.ToUpper(adminEmail))), "audit-log")
		if len(filtered) != 2 || filtered[1][0] != rows[2][0] {
			t.Errorf("filtered rows %q", filtered)
		}
		res := admin.get(path + "?kind=nonsense")
		if res.status != http.StatusBadRequest || !strings.Contains(res.body, "unknown_kind") {
			t.Errorf("an unknown kind: %d %s", res.status, res.body)
		}

		// Viewers read no audit log, in a file or not.
		viewer := app.loggedIn("viewer@example.com", authzPassword)
		if res := viewer.get(path); res.status != http.StatusForbidden || !strings.Contains(res.body, `"error"`) {
			t.Errorf("as a viewer: %d %s", res.status, res.body)
		}

		// The audit page links to the file of what it shows.
		page := admin.get(organizationPath(sc.orgID) + "audit/?kind=organization.updated")
		if !strings.Contains(page.body, fmt.Sprintf(`href="/api/v1/organizations/%d/exports/audit.csv?kind=organization.updated"`, sc.orgID)) {
			t.Errorf("the audit page has no link to its export")
		}
	})
}

// An export that fails once its file has begun breaks the transfer off:
// the client gets an error rather than a file that looks whole, and no
// JSON error is appended to the CSV.
func TestExportBrokenOffMidway(t *testing.T) {
	var logs syncBuffer
	s := &Server{logger: slog.New(slog.NewTextHandler(&logs, nil))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.streamCSV(w, r, "broken.csv", []string{"n"}, func(ctx context.Context, write func(...string) error) error {
			for i := range 2500 {
				if err := write(strconv.Itoa(i)); err != nil {
					return err
				}
			}
			return errors.New("the database went away")
		})
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil {
		t.Errorf("the file was read to its end: %d bytes, ending %q", len(body), body[max(0, len(body)-40):])
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "n\r\n0\r\n1\r\n") || strings.Contains(string(body), "error") {
		t.Errorf("status %d, body starting %q", res.StatusCode, excerpt(string(body), 40))
	}
	if !strings.Contains(logs.String(), "the database went away") {
		t.Errorf("the failure was not logged:\n%s", logs.String())
	}
}

// A HEAD request gets the file's headers without its rows being read.
func TestExportHeadReadsNoRows(t *testing.T) {
	s := &Server{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	read := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.streamCSV(w, r, "rows.csv", []string{"n"}, func(context.Context, func(...string) error) error {
			read = true
			return nil
		})
	}))
	defer srv.Close()
	res, err := http.Head(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != csvout.ContentType ||
		!strings.Contains(res.Header.Get("Content-Disposition"), `filename="rows.csv"`) {
		t.Errorf("HEAD: %d %v", res.StatusCode, res.Header)
	}
	if read {
		t.Error("HEAD read the rows")
	}
}
