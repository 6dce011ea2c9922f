package learning_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// kindOf is the problem kind of an error, or 0 when it is none.
func kindOf(err error) problem.Kind {
	if p, ok := problem.As(err); ok {
		return p.Kind
	}
	return 0
}

// addCourse gives the fixture another enabled course of one published
// lesson and makes it the one complete enrolls in.
func (f *certFixture) addCourse(title string) int64 {
	f.t.Helper()
	ctx := context.Background()
	course, err := f.s.CreateCourse(ctx, f.editor, f.org, learning.CourseFields{Title: ptr(title)})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.s.CreateContent(ctx, f.editor, f.org, course.ID, learning.ContentFields{Kind: store.KindLesson,
		Title: ptr("A lesson"), Body: ptr("Hello"), Published: ptr(true)}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.s.UpdateCourse(ctx, f.editor, f.org, course.ID, learning.CourseFields{Enabled: ptr(true)}); err != nil {
		f.t.Fatal(err)
	}
	f.course = course.ID
	return course.ID
}

// addViewer makes a viewer of the fixture's organization.
func (f *certFixture) addViewer() *store.User {
	f.t.Helper()
	ctx := context.Background()
	var u store.User
	err := f.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		if u, err = q.CreateUser(ctx, store.NewUser{Email: "viewer@example.com"}); err != nil {
			return err
		}
		return q.AddMembership(ctx, f.org, u.ID, "viewer")
	})
	if err != nil {
		f.t.Fatal(err)
	}
	u.IsActive = true
	return &u
}

func numbers(list []store.Certificate) string {
	var b []string
	for _, c := range list {
		b = append(b, c.LearnerEmail)
	}
	return strings.Join(b, " ")
}

func TestStaffCertificateList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newCertFixture(t, db)
		goBasics := f.course
		ada, bob := f.complete("ada@example.com"), f.complete("bob@example.com")
		rust := f.addCourse("Rust basics")
		f.complete("carol@example.com")
		_, viewers := storetest.NewOrganization(t, db, "Elsewhere", storetest.Member{Email: "viewer@elsewhere.example", Role: "viewer"})
		viewer := f.addViewer()

		list, err := f.s.Certificates(ctx, viewer, f.org, learning.CertificateQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got := numbers(list.Items); got != "carol@example.com bob@example.com ada@example.com" || list.Total != 3 || list.Pages != 1 {
			t.Errorf("all certificates, newest first: %q (total %d)", got, list.Total)
		}
		if list.CanRevoke || len(list.Courses) != 2 {
			t.Errorf("a viewer's list: may revoke %v, %d courses to choose", list.CanRevoke, len(list.Courses))
		}
		adaCert, _ := f.certificate(ada)
		if c := list.Items[2]; c.Number != adaCert.Number || c.CourseID != goBasics || c.CourseTitle != "Go basics" || c.Revoked() {
			t.Errorf("ada's row: %s", describe(c))
		}

		for _, tc := range []struct {
			query learning.CertificateQuery
			want  string
		}{
			{learning.CertificateQuery{Search: "BOB@"}, "bob@example.com"},
			{learning.CertificateQuery{Search: strings.ToLower(adaCert.Number[:10])}, "ada@example.com"},
			{learning.CertificateQuery{Search: "%"}, ""},
			{learning.CertificateQuery{CourseID: rust}, "carol@example.com"},
			{learning.CertificateQuery{CourseID: goBasics, Search: "example.com"}, "bob@example.com ada@example.com"},
			{learning.CertificateQuery{CourseID: goBasics, Search: "carol"}, ""},
		} {
			list, err := f.s.Certificates(ctx, f.editor, f.org, tc.query)
			if err != nil || numbers(list.Items) != tc.want || list.Total != len(list.Items) {
				t.Errorf("%+v: %q (total %d), %v; want %q", tc.query, numbers(list.Items), list.Total, err, tc.want)
			}
		}
		// Pages: the store's offset and limit.
		page, total, err := db.Read().ListCertificates(ctx, store.CertificateFilter{OrganizationID: f.org, Offset: 1, Limit: 1})
		if err != nil || total != 3 || numbers(page) != "bob@example.com" {
			t.Errorf("second page of one: %q of %d, %v", numbers(page), total, err)
		}

		// Another organization's member sees nothing of it.
		if _, err := f.s.Certificates(ctx, &viewers[0], f.org, learning.CertificateQuery{}); kindOf(err) != problem.NotFound {
			t.Errorf("another organization's list: %v, want not found", err)
		}
		bobCert, _ := f.certificate(bob)
		p, err := f.s.StaffCertificate(ctx, viewer, f.org, strings.ToLower(bobCert.Number))
		if err != nil || p.Certificate.ID != bobCert.ID || p.Certificate.LearnerEmail != "bob@example.com" || p.CanRevoke {
			t.Errorf("a viewer's detail: %s, may revoke %v, %v", describe(p.Certificate), p.CanRevoke, err)
		}
		if _, err := f.s.PrepareRevoke(ctx, viewer, f.org, bobCert.Number); kindOf(err) != problem.Forbidden {
			t.Errorf("a viewer prepares to revoke: %v, want forbidden", err)
		}
		if _, err := f.s.StaffCertificate(ctx, f.editor, f.org, "0000000000000000000000000"); kindOf(err) != problem.NotFound {
			t.Errorf("a number that cannot be one: %v", err)
		}
	})
}

func TestRevokeCertificate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newCertFixture(t, db)
		claimed, unclaimed := f.complete("ada@example.com"), f.complete("bob@example.com")
		id, sig := f.claimLinkIn("ada@example.com")
		if _, _, err := f.s.ClaimCertificate(ctx, id, sig, "Ada Lovelace"); err != nil {
			t.Fatal(err)
		}
		adaCert, _ := f.certificate(claimed)
		bobCert, _ := f.certificate(unclaimed)
		other, others := storetest.NewOrganization(t, db, "Elsewhere", storetest.Member{Email: "editor@elsewhere.example", Role: "editor"})
		viewer := f.addViewer()

		refusals := []struct {
			name   string
			actor  *store.User
			org    int64
			number string
			reason string
			kind   problem.Kind
		}{
			{"a viewer", viewer, f.org, adaCert.Number, "Plagiarism.", problem.Forbidden},
			{"another organization's editor", &others[0], f.org, adaCert.Number, "Plagiarism.", problem.NotFound},
			{"through another organization", &others[0], other, adaCert.Number, "Plagiarism.", problem.NotFound},
			{"no reason", f.editor, f.org, adaCert.Number, "  ", problem.Invalid},
			{"a reason too long", f.editor, f.org, adaCert.Number, strings.Repeat("é", learning.MaxRevocationReasonRunes+1), problem.Invalid},
			{"a reason with a line break", f.editor, f.org, adaCert.Number, "One\nTwo", problem.Invalid},
		}
		for _, tc := range refusals {
			if _, err := f.s.RevokeCertificate(ctx, tc.actor, tc.org, tc.number, tc.reason); kindOf(err) != tc.kind {
				t.Errorf("%s: %v, want kind %d", tc.name, err, tc.kind)
			}
		}
		if c, _ := f.certificate(claimed); c.Revoked() {
			t.Fatalf("revoked by a refused request: %s", describe(c))
		}

		reason := strings.Repeat("r", learning.MaxRevocationReasonRunes-len("Copied. ")) + " Copied. "
		c, err := f.s.RevokeCertificate(ctx, f.editor, f.org, strings.ToLower(adaCert.Number), reason)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Revoked() || c.RevokedBy == nil || *c.RevokedBy != f.editor.ID || c.RevokedByName != "editor@example.com" ||
			c.RevocationReason != strings.TrimSpace(reason) || c.LearnerName != "Ada Lovelace" {
			t.Errorf("revoked: %s by %v %q for %q", describe(c), c.RevokedBy, c.RevokedByName, c.RevocationReason)
		}
		audit, err := db.Read().AuditLog(ctx, f.org, 0, 10)
		if err != nil || len(audit) == 0 || audit[0].Action != "certificate.revoked" || audit[0].ActorEmail != "editor@example.com" ||
			!strings.Contains(audit[0].Target, adaCert.Number) || !strings.Contains(audit[0].NewValue, "Copied.") {
			t.Errorf("audit log: %+v, %v", audit, err)
		}

		// Once: a second revocation is a conflict and changes nothing.
		_, err = f.s.RevokeCertificate(ctx, f.editor, f.org, adaCert.Number, "Another reason.")
		if p, ok := problem.As(err); !ok || p.Kind != problem.Conflict || p.Code != "certificate_revoked" || !strings.Contains(p.Message, "revoked already") {
			t.Errorf("revoke again: %v, want conflict", err)
		}
		if again, _ := f.certificate(claimed); again.RevocationReason != c.RevocationReason || !again.RevokedAt.Equal(*c.RevokedAt) {
			t.Errorf("revoked again: %q at %v", again.RevocationReason, again.RevokedAt)
		}
		if after, _ := db.Read().AuditLog(ctx, f.org, 0, 10); len(after) != len(audit) {
			t.Errorf("a refused revocation was logged: %d entries, want %d", len(after), len(audit))
		}

		// The public lookup still finds it, revoked.
		if pub, err := f.s.Certificate(ctx, adaCert.Number); err != nil || !pub.Revoked() {
			t.Errorf("public certificate after revocation: %s, %v", describe(pub), err)
		}

		// An unclaimed certificate, once revoked, can no longer be claimed.
		if _, err := f.s.RevokeCertificate(ctx, f.editor, f.org, bobCert.Number, "Enrolled by mistake."); err != nil {
			t.Fatal(err)
		}
		id, sig = f.claimLinkIn("bob@example.com")
		_, claimedNow, err := f.s.ClaimCertificate(ctx, id, sig, "Bob")
		if kindOf(err) != problem.Gone || claimedNow {
			t.Errorf("claim a revoked certificate: claimed %v, %v", claimedNow, err)
		}
		if c, _ := f.certificate(unclaimed); c.Claimed() {
			t.Errorf("a revoked certificate was claimed: %s", describe(c))
		}
	})
}

// TestConcurrentRevocations: of two revocations at once, one wins and
// the other is told the certificate is revoked already; one audit entry.
func TestConcurrentRevocations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newCertFixture(t, db)
		c, _ := f.certificate(f.complete("ada@example.com"))
		errs := make(chan error, 2)
		for _, reason := range []string{"Copied.", "Refunded."} {
			go func() {
				_, err := f.s.RevokeCertificate(ctx, f.editor, f.org, c.Number, reason)
				errs <- err
			}()
		}
		a, b := <-errs, <-errs
		if (a == nil) == (b == nil) || kindOf(a)+kindOf(b) != problem.Conflict {
			t.Errorf("concurrent revocations: %v; %v", a, b)
		}
		audit, err := db.Read().AuditLog(ctx, f.org, 0, 100)
		n := 0
		for _, e := range audit {
			if e.Action == "certificate.revoked" {
				n++
			}
		}
		if err != nil || n != 1 {
			t.Errorf("%d revocations in the audit log, %v", n, err)
		}
	})
}
