package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserReportsAndImport: a viewer opens the reports of an
// organization with enrollments, sees the chart with the seeded numbers,
// and downloads the enrollments as CSV; an editor imports a CSV file with
// good, bad, repeated and blocked rows, and watches the import reach 100%
// with each refused row reported by line.
func TestBrowserReportsAndImport(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	ctx := context.Background()
	admin := app.loggedIn(adminEmail, adminPassword)
	orgID, courseID := importCourse(t, app, admin)
	api := fmt.Sprintf("/api/v1/organizations/%d", orgID)
	// A second lesson, a day after the first, keeps the enrollments going.
	if res, _ := admin.api(http.MethodPost, fmt.Sprintf("%s/courses/%d/contents", api, courseID),
		map[string]any{"kind": "lesson", "title": "Types", "body": "Types.", "published": true, "waiting_period_seconds": 86400}); res.status != http.StatusCreated {
		t.Fatalf("add lesson: %d %s", res.status, res.body)
	}

	// Three learners enrolled by staff (active at once), one cancelled,
	// and a blocked address.
	var enrollmentIDs []int64
	for _, email := range []string{"ann@example.com", "bob@example.com", "cy@example.com"} {
		res, e := admin.api(http.MethodPost, api+"/enrollments", map[string]any{"email": email, "course_id": courseID})
		if res.status != http.StatusCreated {
			t.Fatalf("enroll %s: %d %s", email, res.status, res.body)
		}
		enrollmentIDs = append(enrollmentIDs, int64(e["id"].(float64)))
	}
	if res, _ := admin.api(http.MethodPost, fmt.Sprintf("%s/enrollments/%d/cancel", api, enrollmentIDs[2]), nil); res.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	if res, _ := admin.api(http.MethodPost, api+"/blocked-emails", map[string]string{"email": "blocked@example.com"}); res.status != http.StatusCreated {
		t.Fatalf("block: %d %s", res.status, res.body)
	}

	const password = "a staff member's passphrase"
	hash, err := auth.HashPassword(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	err = app.db.InTx(ctx, func(q *store.Queries) error {
		for _, m := range []struct{ email, role string }{{"vera@example.com", "viewer"}, {"ed@example.com", "editor"}} {
			u, err := q.CreateUser(ctx, store.NewUser{Email: m.email, PasswordHash: hash})
			if err != nil {
				return err
			}
			if err := q.AddMembership(ctx, orgID, u.ID, m.role); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The viewer's reports.
	viewer := newBrowserTab(t, app, "viewer")
	logInBrowser(t, viewer.ctx, app.srv.URL, "vera@example.com", password)
	reports := fmt.Sprintf("%s%d/reports/", organizationsPath, orgID)
	viewer.follow("open the reports", http.StatusOK, chromedp.Navigate(app.srv.URL+reports))
	viewer.screenshot("1-reports-desktop")
	if os.Getenv("MAILSCHOOL_README_SCREENSHOTS") == "true" {
		saveReadmeShot(t, viewer.ctx, "screenshot-reports.png")
	}
	viewer.do("narrow the window", chromedp.EmulateViewport(390, 844))
	viewer.screenshot("2-reports-phone")
	viewer.do("widen the window", chromedp.EmulateViewport(1280, 900))
	if n := viewer.count("figure.chart svg[role=img] title"); n != 1 {
		t.Errorf("%d titled charts on the reports page:\n%s", n, viewer.html("main"))
	}
	for metric, want := range map[string]string{"Started": "3", "Confirmed": "3", "Completed": "0"} {
		if got := viewer.text(fmt.Sprintf(`li[data-metric=%q] .total`, metric)); got != want {
			t.Errorf("%s: %q, want %s", metric, got, want)
		}
	}
	today := time.Now().UTC().Format("2006-01-02")
	if got := viewer.eval(fmt.Sprintf(`[...([...document.querySelectorAll("table.activity tbody tr")].find(r => r.querySelector("th").textContent.trim() === %q)?.cells ?? [])].slice(1, 4).map(c => c.textContent.trim()).join(" ")`, today)); got != "3 3 0" {
		t.Errorf("today's started, confirmed and completed in the table: %q, want \"3 3 0\"", got)
	}
	if got := viewer.text(fmt.Sprintf(`table.reports tr[data-course-id="%d"] td.completion`, courseID)); got != "0%" {
		t.Errorf("the course's completion rate: %q", got)
	}
	viewer.follow("open the course's report", http.StatusOK, chromedp.Click(linkBy("Go basics")))
	viewer.screenshot("3-course-report")
	if n := viewer.count("svg[role=img]"); n == 0 {
		t.Errorf("no chart on the course report:\n%s", viewer.text("main"))
	}

	// The viewer downloads the enrollments from the Learners page.
	viewer.follow("open the learners", http.StatusOK, chromedp.Navigate(fmt.Sprintf("%s%s%d/learners/", app.srv.URL, organizationsPath, orgID)))
	csv := viewer.download(linkBy("enrollments"))
	lines := strings.Split(strings.TrimSpace(csv), "\r\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "id,") {
		t.Fatalf("the downloaded enrollments:\n%s", csv)
	}
	for _, want := range []string{"ann@example.com", "bob@example.com", "cy@example.com,,cancelled"} {
		if !strings.Contains(csv, want) {
			t.Errorf("the downloaded enrollments lack %q:\n%s", want, csv)
		}
	}

	// The editor imports a file.
	file := filepath.Join(t.TempDir(), "learners.csv")
	rows := "email,name\ndee@example.com,Dee\nnot an address,X\neve@example.com,Eve\nDEE@example.com,Dee again\nblocked@example.com,B\nann@example.com,Ann\n"
	if err := os.WriteFile(file, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	editor := newBrowserTab(t, app, "editor")
	logInBrowser(t, editor.ctx, app.srv.URL, "ed@example.com", password)
	editor.follow("open the course", http.StatusOK, chromedp.Navigate(fmt.Sprintf("%s%s%d/courses/%d/", app.srv.URL, organizationsPath, orgID, courseID)))
	editor.follow("follow Import learners", http.StatusOK, chromedp.Click(linkBy("Import learners")))
	editor.do("choose the file", chromedp.SetUploadFiles(chromedp.CSS(`input[name=file]`), []string{file}))
	editor.screenshot("4-import-form")
	editor.follow("import", http.StatusOK, editor.submit())
	var percent string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		// The page refreshes itself every 2 seconds while the import runs.
		if percent = editor.text(".progress-text .percent"); percent == "100%" && editor.count(`meta[http-equiv=refresh]`) == 0 {
			break
		}
	}
	if percent != "100%" {
		t.Fatalf("the import's progress stays at %q:\n%s", percent, editor.text("main"))
	}
	editor.screenshot("5-import-done")
	if got := editor.attr("#import-progress", "value"); got != "6" {
		t.Errorf("the progress bar's value is %q, want 6 rows", got)
	}
	report := editor.text("table.import-errors")
	for line, reason := range map[int]string{3: "not a valid email", 5: "earlier line", 6: "blocked", 7: "already"} {
		row := editor.eval(fmt.Sprintf(`[...document.querySelectorAll("table.import-errors tbody tr")].find(r => r.cells[0].textContent.trim() === "%d")?.innerText ?? ""`, line))
		if row == "" || !strings.Contains(strings.ToLower(row), reason) {
			t.Errorf("line %d is reported as %q; the report:\n%s", line, row, report)
		}
	}
	for _, email := range []string{"dee@example.com", "eve@example.com"} {
		if got := app.mails(email, mail.KindEnrollmentConfirm); len(got) != 1 {
			t.Errorf("%s got %d confirmation emails", email, len(got))
		}
	}
	if got := app.mails("blocked@example.com", mail.KindEnrollmentConfirm); len(got) != 0 {
		t.Error("the blocked address got a confirmation email")
	}
}

// attr is an attribute of the first element matching a CSS selector.
func (b *browserTab) attr(sel, name string) string {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`document.querySelector(%q)?.getAttribute(%q) ?? ""`, sel, name))
}

// download clicks a link that downloads a file, lets the browser save it,
// and returns its content.
func (b *browserTab) download(link chromedp.Search) string {
	b.t.Helper()
	dir := b.t.TempDir()
	progress := chromedp.Events(b.ctx, browser.DownloadProgress)
	b.do("click the download link",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &[]bool{true}[0],
			})
			return err
		}),
		chromedp.Click(link))
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("%s: download: %v", b.name, err)
		}
		if ev.State != browser.DownloadProgressStateCompleted {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
		if err != nil {
			b.t.Fatal(err)
		}
		return string(data)
	}
	b.t.Fatalf("%s: the download did not finish", b.name)
	return ""
}
