package learning_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// importFile starts an import into the fixture's public course as the
// editor and works it to the end.
func (f *enrollFixture) importFile(csv string, consent bool) store.LearnerImport {
	f.t.Helper()
	ctx := context.Background()
	li, err := f.s.StartImport(ctx, f.editor, f.org, f.course, []byte(csv), consent)
	if err != nil {
		f.t.Fatalf("start import: %v", err)
	}
	if err := f.s.WorkImport(ctx, li.ID); err != nil {
		f.t.Fatalf("work import: %v", err)
	}
	return f.importView(li.ID).Import
}

func (f *enrollFixture) importView(id int64) learning.ImportView {
	f.t.Helper()
	v, err := f.s.Import(context.Background(), f.editor, f.org, f.course, id, 1, 1000)
	if err != nil {
		f.t.Fatalf("import %d: %v", id, err)
	}
	return v
}

func reportedLines(list []store.ImportError) string {
	var b strings.Builder
	for _, e := range list {
		fmt.Fprintf(&b, "%d %s %s\n", e.Line, e.Email, e.Reason)
	}
	return b.String()
}

func TestImportReportsEachRowByLine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		if _, err := f.s.BlockEmail(ctx, f.editor, f.org, "blocked@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.BlockEmailEverywhere(ctx, f.root, "everywhere@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.EnrollDirectly(ctx, f.editor, f.org, f.course, "active@example.com"); err != nil {
			t.Fatal(err)
		}
		f.enroll("waiting@example.com")
		before := len(f.mails("waiting@example.com", mail.KindEnrollmentConfirm))
		csv := "\ufeffName,Email\n" + // line 1: a header, after a byte order mark
			"Ada,Ada@Example.com\n" + // 2: enrolled
			"Bob,not an address\n" + // 3
			"Ada again,ada@example.com\n" + // 4: duplicate of line 2
			"Blocked,blocked@example.com\n" + // 5
			"Active,active@example.com\n" + // 6
			"Waiting,waiting@example.com\n" + // 7
			"\"Lovelace, Ada\",lovelace@example.com\n" + // 8: enrolled
			"Everywhere,everywhere@example.com\n" // 9: blocked platform-wide
		li, err := f.s.StartImport(ctx, f.editor, f.org, f.course, []byte(csv), false)
		if err != nil {
			t.Fatal(err)
		}
		if li.Total != 8 || li.Done != 2 || li.Status != store.ImportRunning {
			t.Errorf("at upload: total %d, done %d, status %s; want 8, 2 (the rows refused), running", li.Total, li.Done, li.Status)
		}
		if err := f.s.WorkImport(ctx, li.ID); err != nil {
			t.Fatal(err)
		}
		v := f.importView(li.ID)
		want := "3 not an address invalid_email\n4 ada@example.com duplicate\n5 blocked@example.com blocked\n" +
			"6 active@example.com already_enrolled\n7 waiting@example.com awaiting_confirmation\n9 everywhere@example.com blocked\n"
		if got := reportedLines(v.Errors); got != want {
			t.Errorf("reported rows:\n%s\nwant:\n%s", got, want)
		}
		if li := v.Import; li.Status != store.ImportDone || li.Done != 8 || li.Enrolled != 2 || li.ErrorCount != 6 || li.FinishedAt == nil {
			t.Errorf("import ended as %+v", li)
		}
		for _, email := range []string{"ada@example.com", "lovelace@example.com"} {
			if got := f.status(email); got != "unverified" {
				t.Errorf("%s is %s, want unverified until confirmed", email, got)
			}
			if n := len(f.mails(email, mail.KindEnrollmentConfirm)); n != 1 {
				t.Errorf("%s got %d confirmation emails, want 1", email, n)
			}
		}
		if n := len(f.mails("blocked@example.com", mail.KindEnrollmentConfirm)); n != 0 {
			t.Errorf("the blocked address got %d emails", n)
		}
		if n := len(f.mails("waiting@example.com", mail.KindEnrollmentConfirm)); n != before {
			t.Errorf("the address awaiting confirmation got %d more emails", n-before)
		}
		// The confirmation link of an imported address works as a public one.
		if _, err := f.s.Confirm(ctx, f.token("ada@example.com"), "192.0.2.9"); err != nil {
			t.Fatal(err)
		}
		if got := f.status("ada@example.com"); got != "active" {
			t.Errorf("confirmed, ada is %s", got)
		}
		audit, err := db.Read().AuditLog(ctx, f.org, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) == 0 || audit[0].Action != string(orgs.LearnersImported) || audit[0].ActorEmail != f.editor.Email ||
			!strings.Contains(audit[0].NewValue, `"consent_held":"no"`) || !strings.Contains(audit[0].NewValue, `"enrolled":"2"`) {
			t.Errorf("audit log: %+v", audit)
		}
	})
}

func TestImportWithConsentEnrollsAtOnceAndAudits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		var activated []string
		f.s.OnActivate(func(ctx context.Context, q *store.Queries, e store.Enrollment) error {
			activated = append(activated, e.LearnerEmail)
			return nil
		})
		li := f.importFile("ada@example.com\nbob@example.com\n", true)
		if li.Status != store.ImportDone || li.Enrolled != 2 || !li.ConsentHeld || li.ConsentStatedBy != f.editor.Email || li.ConsentStatedAt == nil {
			t.Fatalf("import: %+v", li)
		}
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			if got := f.status(email); got != "active" {
				t.Errorf("%s is %s, want active", email, got)
			}
		}
		if f.mailCount() != 0 {
			t.Errorf("%d emails sent; an import with consent sends no confirmation", f.mailCount())
		}
		if strings.Join(activated, " ") != "ada@example.com bob@example.com" {
			t.Errorf("activation hooks ran for %v", activated)
		}
		audit, err := db.Read().AuditLog(ctx, f.org, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		stated := `"consent_stated_at":"` + li.ConsentStatedAt.Format(time.RFC3339) + `"`
		if len(audit) != 1 || audit[0].Action != string(orgs.LearnersImported) ||
			!strings.Contains(audit[0].NewValue, `"consent_stated_by":"editor@example.com"`) || !strings.Contains(audit[0].NewValue, stated) {
			t.Errorf("audit log: %+v", audit)
		}
	})
}

// A run of the job that stops after a chunk (the node died) is run again,
// maybe twice at once: each address is enrolled and mailed once.
// importThreeOfTen starts an import of ten new addresses and works its
// first chunk of three, leaving it running.
func (f *enrollFixture) importThreeOfTen() store.LearnerImport {
	f.t.Helper()
	ctx := context.Background()
	learning.SetImportPace(f.t, 3, 0) // one chunk of 3 per run
	var csv strings.Builder
	for i := range 10 {
		fmt.Fprintf(&csv, "learner%d@example.com\n", i)
	}
	li, err := f.s.StartImport(ctx, f.editor, f.org, f.course, []byte(csv.String()), false)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.s.WorkImport(ctx, li.ID); err != nil {
		f.t.Fatal(err)
	}
	return li
}

func TestImportResumesWithoutDuplicates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		li := f.importThreeOfTen()
		if got := f.importView(li.ID).Import; got.Done != 3 || got.Status != store.ImportRunning {
			t.Fatalf("after one run: done %d, %s; want 3, running", got.Done, got.Status)
		}
		if n, err := db.UnfinishedJobs(ctx, learning.ImportArgs{}.Kind()); err != nil || n != 2 {
			t.Errorf("%d import jobs queued (%v), want the first and the one that goes on", n, err)
		}
		learning.SetImportPace(t, 3, time.Hour)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { errs[i] = f.s.WorkImport(ctx, li.ID) })
		}
		wg.Wait()
		if err := f.s.WorkImport(ctx, li.ID); err != nil { // after the end: nothing to do
			errs = append(errs, err)
		}
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got := f.importView(li.ID).Import
		if got.Done != 10 || got.Enrolled != 10 || got.Status != store.ImportDone {
			t.Errorf("import ended as %+v", got)
		}
		if f.mailCount() != 10 {
			t.Errorf("%d emails, want 10", f.mailCount())
		}
		for i := range 10 {
			email := fmt.Sprintf("learner%d@example.com", i)
			if n := len(f.mails(email, mail.KindEnrollmentConfirm)); n != 1 {
				t.Errorf("%s got %d confirmation emails, want 1", email, n)
			}
		}
		audit, _ := db.Read().AuditLog(ctx, f.org, 0, 10)
		if len(audit) != 1 {
			t.Errorf("%d audit entries, want the import's one", len(audit))
		}
	})
}

// Suspending the organization ends its running import: no row after the
// suspension is enrolled or emailed.
func TestImportEndsWhenTheOrganizationIsSuspended(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		li := f.importThreeOfTen()
		err := db.InTx(ctx, func(q *store.Queries) error {
			return q.SuspendOrganization(ctx, f.org, nil, "", time.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.WorkImport(ctx, li.ID); err != nil {
			t.Fatal(err)
		}
		got, err := db.Read().LearnerImport(ctx, f.org, f.course, li.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.ImportFailed || got.Done != 3 || !strings.Contains(got.Failure, "suspended") {
			t.Errorf("after the suspension the import is %s, %d done (%q); want failed at 3", got.Status, got.Done, got.Failure)
		}
		if f.mailCount() != 3 {
			t.Errorf("%d emails, want the 3 sent before the suspension", f.mailCount())
		}
	})
}

func TestImportRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		file := []byte("ada@example.com\n")
		cases := []struct {
			name   string
			actor  *store.User
			org    int64
			course int64
			file   []byte
			kind   problem.Kind
			code   string
		}{
			{"viewer", f.viewer, f.org, f.course, file, problem.Forbidden, "forbidden"},
			{"another organization's admin", f.otherAdmin, f.org, f.course, file, problem.NotFound, "not_found"},
			{"another organization's course", f.editor, f.org, f.otherCourse, file, problem.NotFound, "course_not_found"},
			{"a disabled course", f.editor, f.org, f.draft, file, problem.Conflict, "course_disabled"},
			{"binary", f.editor, f.org, f.course, []byte("PK\x03\x04\x00\x00"), problem.Malformed, "not_csv"},
			{"bad quotes", f.editor, f.org, f.course, []byte("email\n\"ada@example.com\n"), problem.Malformed, "malformed_csv"},
			{"empty", f.editor, f.org, f.course, []byte("email\n\n"), problem.Malformed, "empty_file"},
			{"too large", f.editor, f.org, f.course, make([]byte, learning.ImportMaxBytes+1), problem.TooLarge, "file_too_large"},
			{"too many rows", f.editor, f.org, f.course, []byte(strings.Repeat("a@example.com\n", learning.ImportMaxRows+1)), problem.TooLarge, "too_many_rows"},
		}
		for _, c := range cases {
			_, err := f.s.StartImport(ctx, c.actor, c.org, c.course, c.file, false)
			p, ok := problem.As(err)
			if !ok || p.Kind != c.kind || (c.code != "forbidden" && c.code != "not_found" && p.Code != c.code) {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
			}
		}
		li, err := f.s.StartImport(ctx, f.editor, f.org, f.course, file, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.StartImport(ctx, f.editor, f.org, f.course, file, false); err == nil || !strings.Contains(err.Error(), "still running") {
			t.Errorf("a second import while one runs: %v", err)
		}
		// An import is found only through its own organization and course.
		if _, err := f.s.Import(ctx, f.otherAdmin, f.other, f.otherCourse, li.ID, 1, 10); err == nil {
			t.Error("another organization's admin read the import through their own course")
		}
		if _, err := f.s.Import(ctx, f.viewer, f.org, f.course, li.ID, 1, 10); err != nil {
			t.Errorf("a viewer may see an import: %v", err)
		}
	})
}

// The rows of all imports in 24 hours are capped per organization.
func TestImportDailyCap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newEnrollFixture(t, db)
		var csv strings.Builder
		for i := range learning.ImportMaxRows {
			fmt.Fprintf(&csv, "x%d@\n", i) // invalid rows: refused at upload, counted all the same
		}
		for range learning.ImportRowsPerDay / learning.ImportMaxRows {
			li, err := f.s.StartImport(ctx, f.editor, f.org, f.course, []byte(csv.String()), false)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.s.WorkImport(ctx, li.ID); err != nil {
				t.Fatal(err)
			}
		}
		_, err := f.s.StartImport(ctx, f.editor, f.org, f.course, []byte("ada@example.com\n"), false)
		if p, ok := problem.As(err); !ok || p.Kind != problem.Throttled {
			t.Errorf("over the daily cap: %v", err)
		}
	})
}
