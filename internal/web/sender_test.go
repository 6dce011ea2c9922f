package web

import (
	"net/http"
	netmail "net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestSenderIdentityReachesCourseEmails: the organization's settings page
// and the API set how its course emails are signed, for those who may
// edit it only; the confirmation email a learner gets through the public
// form comes from the organization's name, then from the sender name
// chosen, with its Reply-To and postal address, on the platform's address.
func TestSenderIdentityReachesCourseEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := &testClock{t: time.Now()}
		app := newTestApp(t, db, withLearning(t, clock, nil))
		sc := newSchool(t, app)
		admin := app.loggedIn(adminEmail, adminPassword)
		confirmation := func(email string) mail.Parsed {
			t.Helper()
			if res := app.client().post(sc.coursePath()+"enroll", url.Values{"email": {email}}); res.status != http.StatusSeeOther {
				t.Fatalf("enroll %s: %d", email, res.status)
			}
			list := app.mails(email, mail.KindEnrollmentConfirm)
			if len(list) != 1 {
				t.Fatalf("%d confirmation emails to %s, want 1", len(list), email)
			}
			return list[0]
		}
		from := func(p mail.Parsed) netmail.Address {
			t.Helper()
			a, err := netmail.ParseAddress(p.Header.Get("From"))
			if err != nil {
				t.Fatalf("From %q: %v", p.Header.Get("From"), err)
			}
			return *a
		}

		if got := from(confirmation("ada@example.com")); got.Name != "My Organization" || got.Address != "noreply@localhost" {
			t.Errorf("From by default = %v, want the organization's name at the platform's address", got)
		}

		edit := organizationPath(1) + "edit"
		if res := admin.get(edit); !strings.Contains(res.body, `name="sender_name"`) || !strings.Contains(res.body, `name="postal_address"`) {
			t.Fatalf("the settings page lacks the sender fields:\n%s", res.body)
		}
		form := map[string]string{"name": "My Organization", "slug": "my-organization",
			"sender_name": "Académie <Acme>", "reply_to": "not an address", "postal_address": "Acme Ltd\n1 Main Street"}
		res := admin.postMultipart(edit, form)
		if res.status != http.StatusUnprocessableEntity {
			t.Fatalf("bad sender: %d, want 422", res.status)
		}
		for _, want := range []string{`value="Académie &lt;Acme&gt;"`, `value="not an address"`, "Acme Ltd\n1 Main Street</textarea>",
			"The sender name may not contain", "Enter a valid email address for replies"} {
			if !strings.Contains(res.body, want) {
				t.Errorf("the refused form lacks %q", want)
			}
		}
		form["sender_name"], form["reply_to"] = "Académie Acme – Formation", "training@acme.example"
		if res := admin.postMultipart(edit, form); res.status != http.StatusSeeOther {
			t.Fatalf("save the sender: %d\n%s", res.status, res.body)
		}
		res, body := admin.api("GET", "/api/v1/organizations/1", nil)
		if res.status != 200 || body["sender_name"] != "Académie Acme – Formation" || body["reply_to"] != "training@acme.example" ||
			body["postal_address"] != "Acme Ltd\n1 Main Street" {
			t.Errorf("the API reads %d %v", res.status, body)
		}

		// Only those who may edit the organization change it.
		for _, role := range []access.Role{access.Viewer, access.Editor} {
			c := sc.member(string(role)+"@example.com", role)
			if res, _ := c.api("PATCH", "/api/v1/organizations/1", map[string]string{"sender_name": "Hijacked"}); res.status != http.StatusForbidden {
				t.Errorf("%s sets the sender name through the API: %d, want 403", role, res.status)
			}
			if res := c.postMultipart(edit, map[string]string{"name": "My Organization", "sender_name": "Hijacked"}); res.status != http.StatusForbidden {
				t.Errorf("%s sets the sender name through the form: %d, want 403", role, res.status)
			}
		}
		res, body = admin.api("PATCH", "/api/v1/organizations/1", map[string]string{"reply_to": "a@example.com, b@example.com"})
		if fields, _ := body["error"].(map[string]any)["fields"].(map[string]any); res.status != http.StatusUnprocessableEntity || fields["reply_to"] == nil {
			t.Errorf("two Reply-To addresses through the API: %d %v", res.status, body)
		}

		p := confirmation("grace@example.com")
		if got := from(p); got.Name != "Académie Acme – Formation" || got.Address != "noreply@localhost" {
			t.Errorf("From = %v, want the sender name at the platform's address", got)
		}
		if got := p.Header.Get("Reply-To"); got != "<training@acme.example>" {
			t.Errorf("Reply-To = %q", got)
		}
		if !strings.Contains(strings.ReplaceAll(p.Text, "\r\n", "\n"), "\nAcme Ltd\n1 Main Street\n") || !strings.Contains(p.HTML, "Acme Ltd<br>1 Main Street") {
			t.Errorf("the postal address is missing from a part:\n%s\n%s", p.Text, p.HTML)
		}
	})
}
