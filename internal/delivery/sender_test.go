package delivery_test

import (
	"context"
	netmail "net/mail"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/mailtest"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestCourseEmailsComeFromTheOrganization: a course's emails are from the
// organization's name at the platform's address until the organization
// chooses a sender name; then from that, with its Reply-To and its postal
// address at the foot of both parts. The lesson comes from the delivery
// engine, the completion email from the learning service.
func TestCourseEmailsComeFromTheOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		e := f.enroll("ada@example.com")
		f.deliver(f.deliveries(e)[0].ID)
		first := lessonTitled(t, db, "Go basics: One")
		if got := fromOf(t, first); got.Name != "Acme" || got.Address != "learn@school.example" {
			t.Errorf("From = %v, want the organization's name at the platform's address", got)
		}
		if got := first.Header.Get("Reply-To"); got != "" {
			t.Errorf("Reply-To = %q without one chosen", got)
		}

		const name, postal = "Académie Acme – Formation", "Acme Ltd\n1 Main Street\nSpringfield"
		_, err := orgs.NewService(db, orgs.Config{}).Update(ctx, f.owner, f.org, orgs.Fields{
			SenderName: ptr(name), ReplyTo: ptr("Training@Acme.example"), PostalAddress: ptr(postal + "\n")})
		if err != nil {
			t.Fatal(err)
		}
		f.deliver(f.deliveries(e)[1].ID)
		for _, p := range []mail.Parsed{lessonTitled(t, db, "Go basics: Two"), onlyOne(t, mailtest.Sent(t, db, "ada@example.com", mail.KindCourseCompleted))} {
			subject := p.Header.Get("Subject")
			if got := fromOf(t, p); got.Name != name || got.Address != "learn@school.example" {
				t.Errorf("%s: From = %v, want %q at the platform's address", subject, got, name)
			}
			if got := p.Header.Get("Reply-To"); got != "<training@acme.example>" {
				t.Errorf("%s: Reply-To = %q", subject, got)
			}
			if !strings.Contains(strings.ReplaceAll(p.Text, "\r\n", "\n"), "\n"+postal+"\n") {
				t.Errorf("%s: the text part lacks the postal address:\n%s", subject, p.Text)
			}
			if !strings.Contains(p.HTML, strings.ReplaceAll(postal, "\n", "<br>")) {
				t.Errorf("%s: the HTML part lacks the postal address:\n%s", subject, p.HTML)
			}
		}
	})
}

func lessonTitled(t *testing.T, db *store.DB, subject string) mail.Parsed {
	t.Helper()
	for _, p := range mailtest.Sent(t, db, "ada@example.com", mail.KindLesson) {
		if p.Header.Get("Subject") == subject {
			return p
		}
	}
	t.Fatalf("no lesson email %q", subject)
	return mail.Parsed{}
}

func onlyOne(t *testing.T, list []mail.Parsed) mail.Parsed {
	t.Helper()
	if len(list) != 1 {
		t.Fatalf("%d emails, want 1", len(list))
	}
	return list[0]
}

func fromOf(t *testing.T, p mail.Parsed) netmail.Address {
	t.Helper()
	a, err := netmail.ParseAddress(p.Header.Get("From"))
	if err != nil {
		t.Fatalf("From %q: %v", p.Header.Get("From"), err)
	}
	return *a
}
