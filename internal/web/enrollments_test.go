package web

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// school is an organization with an enabled public course, for the
// enrollment tests: "My Organization" (id 1), course "Go basics".
type school struct {
	app      *testApp
	orgID    int64
	courseID int64
	slug     string
}

func newSchool(t testing.TB, app *testApp) school {
	t.Helper()
	sc := school{app: app, orgID: 1, slug: "go-basics"}
	err := app.db.InTx(t.Context(), func(q *store.Queries) error {
		var err error
		sc.courseID, err = q.CreateCourse(t.Context(), store.NewCourse{OrganizationID: sc.orgID, Title: "Go basics", TitleKey: "go basics", TitleSkeleton: names.Key("Go basics"),
			Slug: sc.slug, Description: "Learn Go by email.", Enabled: true, Public: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// testClock is a clock that tests move, for the learning service's
// throttle and link expiry.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// withLearning gives the app a learning service on a test clock, set up
// by setup (hooks), as the delivery engine would.
func withLearning(t *testing.T, clock *testClock, setup func(*learning.Service)) func(*Options) {
	return func(o *Options) {
		o.Mail = newMailer(t, *o, mail.Outbox{}, "outbox")
		o.Learning = learning.NewService(o.DB, learning.Config{Mail: o.Mail, BaseURL: o.BaseURL, SecretKey: o.SecretKey})
		o.Learning.SetClock(clock.now)
		if setup != nil {
			setup(o.Learning)
		}
	}
}

func (sc school) coursePath() string { return learning.CoursePath(sc.orgID, sc.slug) }

// member makes a user with a role in the school and logs them in.
func (sc school) member(email string, role access.Role) *client {
	sc.app.t.Helper()
	hash, err := auth.HashPassword(context.Background(), authzPassword)
	if err != nil {
		sc.app.t.Fatal(err)
	}
	err = sc.app.db.InTx(context.Background(), func(q *store.Queries) error {
		u, err := q.CreateUser(context.Background(), store.NewUser{Email: email, PasswordHash: hash})
		if err != nil {
			return err
		}
		return q.AddMembership(context.Background(), sc.orgID, u.ID, string(role))
	})
	if err != nil {
		sc.app.t.Fatal(err)
	}
	return sc.app.loggedIn(email, authzPassword)
}

// enrollment returns an address's enrollment in the course.
func (sc school) enrollment(email string) store.Enrollment {
	sc.app.t.Helper()
	sc.app.settle()
	list, _, err := sc.app.db.Read().ListEnrollments(context.Background(), store.EnrollmentFilter{OrganizationID: sc.orgID, Limit: 1000})
	if err != nil {
		sc.app.t.Fatal(err)
	}
	for _, e := range list {
		if e.LearnerEmail == email {
			return e
		}
	}
	sc.app.t.Fatalf("no enrollment of %s", email)
	return store.Enrollment{}
}

// status is an address's enrollment status in the course, or "none".
func (sc school) status(email string) string {
	sc.app.t.Helper()
	sc.app.settle()
	list, _, err := sc.app.db.Read().ListEnrollments(context.Background(), store.EnrollmentFilter{OrganizationID: sc.orgID, Limit: 1000})
	if err != nil {
		sc.app.t.Fatal(err)
	}
	for _, e := range list {
		if e.LearnerEmail == email {
			return string(e.Status)
		}
	}
	return "none"
}

// confirmLink returns the path of the newest confirmation link to an
// address.
func (sc school) confirmLink(email string) string {
	sc.app.t.Helper()
	list := sc.app.mails(email, mail.KindEnrollmentConfirm)
	if len(list) == 0 {
		sc.app.t.Fatalf("no confirmation email to %s", email)
	}
	return sc.app.linkIn(list[0].Text, "/email-learning/public/enrollments/confirm/")
}

// enrollConfirmed takes an address through the form and the link.
func (sc school) enrollConfirmed(email string) store.Enrollment {
	sc.app.t.Helper()
	c := sc.app.client()
	if res := c.post(sc.coursePath()+"enroll", url.Values{"email": {email}}); res.status != http.StatusSeeOther {
		sc.app.t.Fatalf("enroll %s: %d", email, res.status)
	}
	if res := c.post(sc.confirmLink(email), nil); res.status != http.StatusOK {
		sc.app.t.Fatalf("confirm %s: %d\n%s", email, res.status, res.body)
	}
	return sc.enrollment(email)
}

// mailCount is how many emails were recorded.
func (sc school) mailCount() int {
	sc.app.t.Helper()
	sc.app.settle()
	list, err := sc.app.db.Read().ListMailMessages(context.Background(), 0, 10000)
	if err != nil {
		sc.app.t.Fatal(err)
	}
	return len(list)
}

// TestPublicEnrollmentSameAnswer sends the form for a new address, one
// waiting for confirmation, an active learner, addresses blocked by the
// organization and platform-wide (in other cases), and with the honeypot
// filled in: every answer is the same; what is sent differs.
func TestPublicEnrollmentSameAnswer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := &testClock{t: time.Now()}
		app := newTestApp(t, db, withLearning(t, clock, nil))
		sc := newSchool(t, app)
		admin := app.loggedIn(adminEmail, adminPassword)
		sc.enrollConfirmed("active@example.com")
		clock.advance(learning.ResendWindow) // the confirmation's email no longer holds back a reminder
		app.client().post(sc.coursePath()+"enroll", url.Values{"email": {"waiting@example.com"}})
		if res := admin.post(organizationPath(1)+"blocked-emails/", url.Values{"email": {"Blocked@Example.com"}}); res.status != http.StatusSeeOther {
			t.Fatalf("block: %d\n%s", res.status, res.body)
		}
		if res := admin.post("/email-learning/platform/blocked-emails/", url.Values{"email": {"everywhere@example.com"}}); res.status != http.StatusSeeOther {
			t.Fatalf("block everywhere: %d\n%s", res.status, res.body)
		}

		// The public page offers the form, with the honeypot.
		public := app.client().get("/email-learning/public/organization/1/")
		for _, want := range []string{`action="` + sc.coursePath() + `enroll"`, `name="email"`, `name="website"`, `href="` + sc.coursePath() + `"`} {
			if !strings.Contains(public.body, want) {
				t.Errorf("the public page lacks %s:\n%s", want, public.body)
			}
		}

		type answer struct {
			status                 int
			location, body, cookie string
			contentType            string
			nextStatus             int
			next, nextCookie       string
		}
		send := func(form url.Values) answer {
			c := app.client()
			res := c.post(sc.coursePath()+"enroll", form)
			next := c.get(res.header.Get("Location"))
			return answer{status: res.status, location: res.header.Get("Location"), body: res.body, cookie: res.header.Get("Set-Cookie"),
				next: next.body, nextStatus: next.status, nextCookie: next.header.Get("Set-Cookie"), contentType: res.header.Get("Content-Type")}
		}
		base := send(url.Values{"email": {"new@example.com"}})
		if base.status != http.StatusSeeOther || base.location != sc.coursePath()+"enrolled" || base.nextStatus != http.StatusOK ||
			!strings.Contains(base.next, "Check your inbox") || !strings.Contains(base.next, "Go basics") {
			t.Fatalf("the answer to a new address: %+v", base)
		}
		for name, form := range map[string]url.Values{
			"waiting for confirmation": {"email": {"waiting@example.com"}},
			"active":                   {"email": {"ACTIVE@example.com"}},
			"blocked":                  {"email": {"blocked@EXAMPLE.com"}},
			"blocked everywhere":       {"email": {" Everywhere@example.com"}},
			"honeypot":                 {"email": {"bot@example.com"}, "website": {"http://spam.example"}},
		} {
			if got := send(form); got != base {
				t.Errorf("%s: the answer differs:\n%+v\nwant\n%+v", name, got, base)
			}
		}

		for _, tc := range []struct {
			email     string
			confirm   int
			reminders int
		}{
			{"new@example.com", 1, 0},
			{"waiting@example.com", 1, 0}, // within the throttle: nothing more
			{"active@example.com", 1, 1},
			{"blocked@example.com", 0, 0},
			{"everywhere@example.com", 0, 0},
			{"bot@example.com", 0, 0},
		} {
			if n := len(app.mails(tc.email, mail.KindEnrollmentConfirm)); n != tc.confirm {
				t.Errorf("%s got %d confirmations, want %d", tc.email, n, tc.confirm)
			}
			if n := len(app.mails(tc.email, mail.KindEnrollmentReminder)); n != tc.reminders {
				t.Errorf("%s got %d reminders, want %d", tc.email, n, tc.reminders)
			}
		}
		for email, want := range map[string]string{"new@example.com": "unverified", "active@example.com": "active",
			"blocked@example.com": "none", "everywhere@example.com": "none", "bot@example.com": "none"} {
			if got := sc.status(email); got != want {
				t.Errorf("%s: status %s, want %s", email, got, want)
			}
		}
		// A second request within the throttle sends nothing more, to
		// anyone.
		before := sc.mailCount()
		for _, email := range []string{"new@example.com", "active@example.com"} {
			send(url.Values{"email": {email}})
		}
		if n := sc.mailCount(); n != before {
			t.Errorf("requests within the throttle sent %d emails", n-before)
		}
	})
}

func TestPublicEnrollmentRefusals(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	sc := newSchool(t, app)
	c := app.client()
	res := c.post(sc.coursePath()+"enroll", url.Values{"email": {"not an address"}})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Enter a valid email address.") ||
		!strings.Contains(res.body, `value="not an address"`) {
		t.Errorf("an invalid address: %d\n%s", res.status, res.body)
	}
	for _, path := range []string{"/email-learning/public/organization/1/courses/nope/", "/email-learning/public/organization/99/courses/go-basics/enroll",
		"/email-learning/public/organization/1/courses/nope/enrolled"} {
		var got int
		if strings.HasSuffix(path, "enroll") {
			got = c.post(path, url.Values{"email": {"ada@example.com"}}).status
		} else {
			got = c.get(path).status
		}
		if got != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, got)
		}
	}
	// A form from another site is refused, as every form.
	res = c.post(sc.coursePath()+"enroll", url.Values{"email": {"ada@example.com"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if res.status != http.StatusForbidden {
		t.Errorf("a cross-site enrollment: %d", res.status)
	}
	if n := sc.mailCount(); n != 0 {
		t.Errorf("refused requests sent %d emails", n)
	}
}

func TestEnrollmentLimits(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), func(o *Options) {
		o.EnrollPerIP = auth.Limit{Every: time.Hour, Burst: 3}
		o.EnrollPerAddress = auth.Limit{Every: time.Hour, Burst: 1}
	})
	sc := newSchool(t, app)
	err := app.db.InTx(t.Context(), func(q *store.Queries) error {
		_, err := q.CreateCourse(t.Context(), store.NewCourse{OrganizationID: 1, Title: "Rust", TitleKey: "rust", TitleSkeleton: names.Key("Rust"), Slug: "rust", Enabled: true, Public: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c := app.client()
	// Over the address's limit: the same answer, nothing sent.
	for _, slug := range []string{"go-basics", "rust"} {
		res := c.post(learning.CoursePath(1, slug)+"enroll", url.Values{"email": {"ada@example.com"}})
		if res.status != http.StatusSeeOther {
			t.Errorf("%s: %d", slug, res.status)
		}
	}
	if n := len(app.mails("ada@example.com", mail.KindEnrollmentConfirm)); n != 1 {
		t.Errorf("%d confirmations over the address's limit, want 1", n)
	}
	res, _ := c.api(http.MethodPost, "/api/v1/public/organizations/1/courses/rust/enrollments", map[string]string{"email": "ADA@example.com"})
	if res.status != http.StatusAccepted || len(app.mails("ada@example.com", mail.KindEnrollmentConfirm)) != 1 {
		t.Errorf("the API over the address's limit: %d", res.status)
	}
	// Over the IP's limit: 429, for the form and the API.
	res = c.post(sc.coursePath()+"enroll", url.Values{"email": {"bob@example.com"}})
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" {
		t.Errorf("over the IP's limit: %d %v", res.status, res.header)
	}
	if res, _ := c.api(http.MethodPost, "/api/v1/public/organizations/1/courses/rust/enrollments", map[string]string{"email": "bob@example.com"}); res.status != http.StatusTooManyRequests {
		t.Errorf("the API over the IP's limit: %d", res.status)
	}
	if sc.status("bob@example.com") != "none" {
		t.Error("a throttled request enrolled")
	}
}

// TestEnrollmentLimitPerMailbox: the addresses of one mailbox, +tags and
// all, share the address's limit, so they cannot fill its inbox; each is
// kept as typed.
func TestEnrollmentLimitPerMailbox(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), func(o *Options) {
		o.EnrollPerAddress = auth.Limit{Every: time.Hour, Burst: 2}
	})
	sc := newSchool(t, app)
	c := app.client()
	for i := range 6 {
		email := fmt.Sprintf("ada+%d@example.com", i)
		if i%2 == 1 {
			res, _ := c.api(http.MethodPost, "/api/v1/public/organizations/1/courses/go-basics/enrollments", map[string]string{"email": strings.ToUpper(email)})
			if res.status != http.StatusAccepted {
				t.Errorf("API for %s: %d", email, res.status)
			}
		} else if res := c.post(sc.coursePath()+"enroll", url.Values{"email": {email}}); res.status != http.StatusSeeOther {
			t.Errorf("form for %s: %d", email, res.status)
		}
	}
	c.post(sc.coursePath()+"enroll", url.Values{"email": {"Ada@Example.com"}})
	sent := map[string]int{}
	for _, email := range []string{"ada@example.com", "ada+0@example.com", "ada+1@example.com", "ada+2@example.com",
		"ada+3@example.com", "ada+4@example.com", "ada+5@example.com"} {
		if n := len(app.mails(email, mail.KindEnrollmentConfirm)); n > 0 {
			sent[email] = n
		}
	}
	if want := map[string]int{"ada+0@example.com": 1, "ada+1@example.com": 1}; !maps.Equal(sent, want) {
		t.Errorf("confirmations sent into one mailbox: %v, want %v", sent, want)
	}
	if got := sc.enrollment("ada+1@example.com").LearnerEmail; got != "ada+1@example.com" {
		t.Errorf("the address is kept as %q", got)
	}
	if res := c.post(sc.coursePath()+"enroll", url.Values{"email": {"bob+1@example.com"}}); res.status != http.StatusSeeOther || len(app.mails("bob+1@example.com", mail.KindEnrollmentConfirm)) != 1 {
		t.Errorf("another mailbox: %d", res.status)
	}
}

// TestConfirmationLink follows the emailed link: opening it changes
// nothing, the button activates once, and used, expired and tampered
// links are refused.
func TestConfirmationLink(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := &testClock{t: time.Now()}
		var activated []string
		app := newTestApp(t, db, withLearning(t, clock, func(l *learning.Service) {
			l.OnActivate(func(ctx context.Context, q *store.Queries, e store.Enrollment) error {
				activated = append(activated, e.LearnerEmail+" "+string(e.Status))
				return nil
			})
		}))
		sc := newSchool(t, app)
		guest := app.client()
		guest.post(sc.coursePath()+"enroll", url.Values{"email": {"ada@example.com"}})
		emails := app.mails("ada@example.com", mail.KindEnrollmentConfirm)
		if len(emails) != 1 || emails[0].Header.Get("Subject") != "Confirm your enrollment in Go basics" ||
			!strings.Contains(emails[0].HTML, "My Organization") {
			t.Fatalf("confirmation emails: %+v", emails)
		}
		link := sc.confirmLink("ada@example.com")

		for range 2 { // a mail scanner, then the person
			res := app.client().get(link)
			if res.status != http.StatusOK || !strings.Contains(res.body, "Confirm and start the course") || !strings.Contains(res.body, "ada@example.com") {
				t.Fatalf("the link: %d\n%s", res.status, res.body)
			}
		}
		if got := sc.status("ada@example.com"); got != "unverified" || len(activated) != 0 {
			t.Fatalf("opening the link changed the status to %s", got)
		}
		res := app.client().post(link, nil)
		if res.status != http.StatusOK || !strings.Contains(res.body, "is enrolled in <strong>Go basics</strong>") {
			t.Fatalf("confirming: %d\n%s", res.status, res.body)
		}
		if got := sc.status("ada@example.com"); got != "active" || fmt.Sprint(activated) != "[ada@example.com active]" {
			t.Errorf("after confirming: %s, hooks %v", got, activated)
		}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			var res response
			if method == http.MethodGet {
				res = app.client().get(link)
			} else {
				res = app.client().post(link, nil)
			}
			if res.status != http.StatusGone || !strings.Contains(res.body, "already used") {
				t.Errorf("%s of the used link: %d\n%s", method, res.status, res.body)
			}
		}
		if len(activated) != 1 {
			t.Errorf("the used link activated again: %v", activated)
		}
		tampered := strings.Replace(link, "/confirm/", "/confirm/x", 1)
		if res := app.client().post(tampered, nil); res.status != http.StatusNotFound || !strings.Contains(res.body, "not valid") {
			t.Errorf("a tampered link: %d\n%s", res.status, res.body)
		}

		guest.post(sc.coursePath()+"enroll", url.Values{"email": {"late@example.com"}})
		late := sc.confirmLink("late@example.com")
		clock.advance(learning.ConfirmValidity)
		for _, res := range []response{app.client().get(late), app.client().post(late, nil)} {
			if res.status != http.StatusGone || !strings.Contains(res.body, "expired") {
				t.Errorf("an expired link: %d\n%s", res.status, res.body)
			}
		}
		if got := sc.status("late@example.com"); got != "unverified" {
			t.Errorf("an expired link changed the status to %s", got)
		}
	})
}

// TestOneClickUnsubscribe posts to the List-Unsubscribe link the way mail
// providers do: no session, no form token, no Origin or a foreign one.
func TestOneClickUnsubscribe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := &testClock{t: time.Now()}
		var ended []string
		app := newTestApp(t, db, withLearning(t, clock, func(l *learning.Service) {
			l.OnEnd(func(ctx context.Context, q *store.Queries, e store.Enrollment) error {
				ended = append(ended, e.LearnerEmail+" "+string(e.Status))
				return nil
			})
		}))
		sc := newSchool(t, app)
		ada, bob := sc.enrollConfirmed("ada@example.com"), sc.enrollConfirmed("bob@example.com")
		clock.advance(learning.ResendWindow)

		// The link from the headers of a real email: a reminder.
		app.client().post(sc.coursePath()+"enroll", url.Values{"email": {"ada@example.com"}})
		reminders := app.mails("ada@example.com", mail.KindEnrollmentReminder)
		if len(reminders) != 1 || reminders[0].Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Fatalf("reminder: %+v", reminders)
		}
		header := reminders[0].Header.Get("List-Unsubscribe")
		link := strings.TrimPrefix(strings.Trim(header, "<>"), app.srv.URL)
		if !strings.HasPrefix(link, fmt.Sprintf("/email-learning/public/unsubscribe/%d/", ada.ID)) {
			t.Fatalf("List-Unsubscribe = %s", header)
		}
		if !strings.Contains(reminders[0].Text, app.srv.URL+link) {
			t.Errorf("the reminder's text lacks the link:\n%s", reminders[0].Text)
		}

		oneClick := func(path string, headers ...string) response {
			req, _ := http.NewRequest(http.MethodPost, app.srv.URL+path, strings.NewReader("List-Unsubscribe=One-Click"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			return app.client().do(req)
		}
		// A bad signature: 404, nothing changes.
		bobLink := strings.Replace(link, fmt.Sprintf("/%d/", ada.ID), fmt.Sprintf("/%d/", bob.ID), 1)
		for _, bad := range []string{bobLink, strings.TrimSuffix(link, "/") + "x/", fmt.Sprintf("/email-learning/public/unsubscribe/x/%s", link[strings.LastIndex(link[:len(link)-1], "/")+1:])} {
			if res := oneClick(bad); res.status != http.StatusNotFound {
				t.Errorf("one-click with a bad link %s: %d", bad, res.status)
			}
			if res := app.client().get(bad); res.status != http.StatusNotFound {
				t.Errorf("GET of a bad link %s: %d", bad, res.status)
			}
		}
		if sc.status("ada@example.com") != "active" || sc.status("bob@example.com") != "active" || len(ended) != 0 {
			t.Fatalf("a bad link changed something: %v", ended)
		}

		// The page asks first, and changes nothing.
		page := app.client().get(link)
		if page.status != http.StatusOK || !strings.Contains(page.body, "Unsubscribe?") || !strings.Contains(page.body, `action="`+link+`"`) ||
			sc.status("ada@example.com") != "active" {
			t.Fatalf("the unsubscribe page: %d\n%s", page.status, page.body)
		}
		res := oneClick(link)
		if res.status != http.StatusOK || !strings.Contains(res.body, "You are unsubscribed") {
			t.Fatalf("one-click without Origin: %d\n%s", res.status, res.body)
		}
		if e := sc.enrollment("ada@example.com"); e.Status != store.EnrollmentUnsubscribed || e.EndedAt == nil {
			t.Errorf("after one click: %+v", e)
		}
		// Again: no second end, and the page says it was done before.
		if res := oneClick(link); res.status != http.StatusOK || !strings.Contains(res.body, "You were already unsubscribed") {
			t.Errorf("twice: %d", res.status)
		}
		if page := app.client().get(link); !strings.Contains(page.body, "You are unsubscribed") {
			t.Errorf("the page after unsubscribing:\n%s", page.body)
		}
		// From a webmail's servers, with its own Origin.
		bobLink = learning.NewService(db, learning.Config{SecretKey: testSecretKey}).UnsubscribeURL(bob) // no base URL: the path
		if res := oneClick(bobLink, "Origin", "https://mail.example.net", "Sec-Fetch-Site", "cross-site"); res.status != http.StatusOK {
			t.Errorf("one-click with a foreign Origin: %d\n%s", res.status, res.body)
		}
		if got := sc.status("bob@example.com"); got != "unsubscribed" {
			t.Errorf("bob: %s", got)
		}
		if fmt.Sprint(ended) != "[ada@example.com unsubscribed bob@example.com unsubscribed]" {
			t.Errorf("end hooks saw %v", ended)
		}
		// The exemption is exact: other public forms from other sites are
		// still refused.
		res = app.client().post(learning.ConfirmPath("whatever"), nil, "Origin", "https://mail.example.net", "Sec-Fetch-Site", "cross-site")
		if res.status != http.StatusForbidden {
			t.Errorf("a cross-site POST elsewhere: %d", res.status)
		}
	})
}

// TestEnrollmentStaffPages: learners, an enrollment, its cancellation by
// an editor, and a viewer who only reads.
func TestEnrollmentStaffPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		sc := newSchool(t, app)
		editor, viewer := sc.member("editor@example.com", access.Editor), sc.member("viewer@example.com", access.Viewer)
		e := sc.enrollConfirmed("ada@example.com")
		app.client().post(sc.coursePath()+"enroll", url.Values{"email": {"bob@example.com"}})
		app.settle()
		detail := enrollmentPath(1, e.ID)

		if res := viewer.get(organizationPath(1)); !strings.Contains(res.body, `href="/email-learning/platform/organizations/1/learners/"`) {
			t.Errorf("the organization page does not link learners:\n%s", res.body)
		}
		list := viewer.get(organizationPath(1) + "learners/")
		if !strings.Contains(list.body, `href="/email-learning/platform/organizations/1/blocked-emails/"`) {
			t.Errorf("the learners page does not link blocked addresses:\n%s", list.body)
		}
		for _, want := range []string{"ada@example.com", "bob@example.com", `href="` + detail + `"`, `<span class="status status-active">active</span>`,
			`<span class="status status-unverified">unverified</span>`, "2 learners"} {
			if !strings.Contains(list.body, want) {
				t.Errorf("the learners list lacks %s:\n%s", want, list.body)
			}
		}
		if res := viewer.get(organizationPath(1) + "learners/?q=BOB"); strings.Contains(res.body, "ada@example.com") || !strings.Contains(res.body, "bob@example.com") {
			t.Errorf("search:\n%s", res.body)
		}

		page := viewer.get(detail)
		if page.status != http.StatusOK || !strings.Contains(page.body, "ada@example.com in Go basics") || !strings.Contains(page.body, "What was sent when") ||
			strings.Contains(page.body, "Cancel enrollment") {
			t.Errorf("the viewer's enrollment page: %d\n%s", page.status, page.body)
		}
		if res := viewer.get(enrollmentPath(1, sc.enrollment("bob@example.com").ID)); res.status != http.StatusOK ||
			!strings.Contains(res.body, "Link expires") || !strings.Contains(res.body, `<span class="status status-unverified">unverified</span>`) {
			t.Errorf("the page of an unverified enrollment: %d\n%s", res.status, res.body)
		}
		if res := viewer.get(detail + "cancel"); res.status != http.StatusForbidden {
			t.Errorf("the viewer's cancel page: %d", res.status)
		}
		if res := viewer.post(detail+"cancel", nil); res.status != http.StatusForbidden || sc.status("ada@example.com") != "active" {
			t.Errorf("a viewer cancelling: %d, %s", res.status, sc.status("ada@example.com"))
		}
		if res, _ := viewer.api(http.MethodPost, fmt.Sprintf("/api/v1/organizations/1/enrollments/%d/cancel", e.ID), nil); res.status != http.StatusForbidden ||
			sc.status("ada@example.com") != "active" {
			t.Errorf("a viewer cancelling through the API: %d", res.status)
		}

		if res := editor.get(detail); !strings.Contains(res.body, `href="`+detail+`cancel"`) {
			t.Errorf("the editor's page lacks the cancel link:\n%s", res.body)
		}
		if res := editor.get(detail + "cancel"); res.status != http.StatusOK || !strings.Contains(res.body, "Cancel the enrollment of ada@example.com?") {
			t.Errorf("the cancel page: %d\n%s", res.status, res.body)
		}
		res := editor.post(detail+"cancel", nil)
		if res.status != http.StatusSeeOther || res.header.Get("Location") != detail {
			t.Fatalf("cancel: %d %s", res.status, res.header.Get("Location"))
		}
		page = editor.get(detail)
		if !strings.Contains(page.body, "was cancelled") || !strings.Contains(page.body, `<span class="status status-cancelled">cancelled</span>`) ||
			strings.Contains(page.body, "Cancel enrollment") {
			t.Errorf("after cancelling:\n%s", page.body)
		}
		if res := editor.post(detail+"cancel", nil); res.status != http.StatusConflict {
			t.Errorf("cancelling twice: %d", res.status)
		}
	})
}

func TestBlockedEmailPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		sc := newSchool(t, app)
		editor, viewer := sc.member("editor@example.com", access.Editor), sc.member("viewer@example.com", access.Viewer)
		admin := app.loggedIn(adminEmail, adminPassword)
		list := organizationPath(1) + "blocked-emails/"

		res := editor.post(list, url.Values{"email": {" Spam@Example.com "}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != list {
			t.Fatalf("block: %d %s", res.status, res.body)
		}
		page := editor.get(list)
		for _, want := range []string{"spam@example.com is blocked", "<td>spam@example.com</td>", "<td>editor@example.com</td>",
			"Blocking stops all future email", `action="` + list + `remove"`} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the list lacks %s:\n%s", want, page.body)
			}
		}
		if res := editor.post(list, url.Values{"email": {"SPAM@example.com"}}); res.status != http.StatusConflict || !strings.Contains(res.body, "blocked already") {
			t.Errorf("blocking twice: %d\n%s", res.status, res.body)
		}
		if res := editor.post(list, url.Values{"email": {"nope"}}); res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Enter a valid email address.") {
			t.Errorf("an invalid address: %d", res.status)
		}
		page = viewer.get(list)
		if page.status != http.StatusOK || !strings.Contains(page.body, "spam@example.com") || strings.Contains(page.body, "<form method=\"post\" action=\""+list) {
			t.Errorf("the viewer's list: %d\n%s", page.status, page.body)
		}
		if res := viewer.post(list+"remove", url.Values{"email": {"spam@example.com"}}); res.status != http.StatusForbidden {
			t.Errorf("a viewer unblocking: %d", res.status)
		}
		// The platform-wide list is the platform admins'.
		if res := editor.get("/email-learning/platform/blocked-emails/"); res.status != http.StatusForbidden {
			t.Errorf("an editor on the platform list: %d", res.status)
		}
		if res := admin.get("/email-learning/platform/"); !strings.Contains(res.body, `href="/email-learning/platform/blocked-emails/"`) {
			t.Error("the platform admin's menu does not link the platform-wide list")
		}
		if res := admin.post("/email-learning/platform/blocked-emails/", url.Values{"email": {"All@example.com"}}); res.status != http.StatusSeeOther {
			t.Errorf("block everywhere: %d", res.status)
		}
		if page := admin.get("/email-learning/platform/blocked-emails/"); !strings.Contains(page.body, "<td>all@example.com</td>") || strings.Contains(page.body, "spam@example.com") {
			t.Errorf("the platform list:\n%s", page.body)
		}

		// Blocked addresses get nothing from the form.
		for _, email := range []string{"spam@example.com", "ALL@example.com"} {
			app.client().post(sc.coursePath()+"enroll", url.Values{"email": {email}})
		}
		if n := sc.mailCount(); n != 0 {
			t.Errorf("blocked addresses got %d emails", n)
		}
		if res := editor.post(list+"remove", url.Values{"email": {"SPAM@example.com"}}); res.status != http.StatusSeeOther {
			t.Errorf("unblock: %d", res.status)
		}
		if res := editor.post(list+"remove", url.Values{"email": {"spam@example.com"}}); res.status != http.StatusNotFound {
			t.Errorf("unblocking twice: %d", res.status)
		}
		if res := admin.post("/email-learning/platform/blocked-emails/remove", url.Values{"email": {"all@example.com"}}); res.status != http.StatusSeeOther {
			t.Errorf("unblock everywhere: %d", res.status)
		}
		app.client().post(sc.coursePath()+"enroll", url.Values{"email": {"spam@example.com"}})
		if n := len(app.mails("spam@example.com", mail.KindEnrollmentConfirm)); n != 1 {
			t.Errorf("after unblocking: %d confirmations", n)
		}
	})
}

// TestEnrollmentAPI runs the enrollment endpoints through their answers
// and refusals.
func TestEnrollmentAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		sc := newSchool(t, app)
		editor := sc.member("editor@example.com", access.Editor)
		anon := app.client()
		publicURL := "/api/v1/public/organizations/1/courses/go-basics/enrollments"

		for _, email := range []string{"ada@example.com", "Ada@example.com"} {
			res, body := anon.api(http.MethodPost, publicURL, map[string]string{"email": email})
			if res.status != http.StatusAccepted || body["status"] != "pending_confirmation" {
				t.Errorf("public enrollment of %s: %d %s", email, res.status, res.body)
			}
		}
		for _, tc := range []struct {
			path   string
			body   any
			status int
			code   string
		}{
			{publicURL, map[string]string{"email": "nope"}, 422, "invalid_email"},
			{publicURL, map[string]string{"mail": "ada@example.com"}, 400, "malformed_json"},
			{"/api/v1/public/organizations/1/courses/nope/enrollments", map[string]string{"email": "ada@example.com"}, 404, "course_not_found"},
		} {
			if res, _ := anon.api(http.MethodPost, tc.path, tc.body); res.status != tc.status || !strings.Contains(res.body, `"code":"`+tc.code+`"`) {
				t.Errorf("%s %v: %d %s, want %d %s", tc.path, tc.body, res.status, res.body, tc.status, tc.code)
			}
		}
		if n := len(app.mails("ada@example.com", mail.KindEnrollmentConfirm)); n != 1 {
			t.Errorf("%d confirmations, want 1", n)
		}

		base := "/api/v1/organizations/1"
		res, created := editor.api(http.MethodPost, base+"/enrollments", map[string]any{"email": "Bob@example.com", "course_id": sc.courseID})
		if res.status != http.StatusCreated || created["status"] != "active" || created["learner_email"] != "bob@example.com" ||
			created["course_id"] != float64(sc.courseID) || created["activated_at"] == nil {
			t.Fatalf("direct enrollment: %d %s", res.status, res.body)
		}
		var otherCourse int64
		err := app.db.InTx(t.Context(), func(q *store.Queries) error {
			if _, err := q.BlockEmail(t.Context(), 1, "blocked@example.com", 0); err != nil {
				return err
			}
			o, err := q.CreateOrganization(t.Context(), store.OrganizationFields{Name: "Other", NameKey: "other", NameSkeleton: names.Key("Other"), Slug: "other"})
			if err != nil {
				return err
			}
			otherCourse, err = q.CreateCourse(t.Context(), store.NewCourse{OrganizationID: o.ID, Title: "X", TitleKey: "x", TitleSkeleton: names.Key("X"), Slug: "x", Enabled: true, Public: true})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"blocked", map[string]any{"email": "BLOCKED@example.com", "course_id": sc.courseID}, 422, "email_blocked"},
			{"enrolled already", map[string]any{"email": "bob@example.com", "course_id": sc.courseID}, 409, "already_enrolled"},
			{"another organization's course", map[string]any{"email": "carol@example.com", "course_id": otherCourse}, 422, "course_not_found"},
			{"invalid address", map[string]any{"email": "nope", "course_id": sc.courseID}, 422, "invalid_email"},
		} {
			if res, _ := editor.api(http.MethodPost, base+"/enrollments", tc.body); res.status != tc.status || !strings.Contains(res.body, `"code":"`+tc.code+`"`) {
				t.Errorf("%s: %d %s, want %d %s", tc.name, res.status, res.body, tc.status, tc.code)
			}
		}
		if sc.status("carol@example.com") != "none" || sc.status("blocked@example.com") != "none" {
			t.Error("a refused direct enrollment enrolled")
		}

		_, list := editor.api(http.MethodGet, base+"/enrollments", nil)
		items, _ := list["items"].([]any)
		if len(items) != 2 || list["next_cursor"] != "" {
			t.Fatalf("enrollments: %v", list)
		}
		_, active := editor.api(http.MethodGet, base+"/enrollments?status=active", nil)
		if items, _ := active["items"].([]any); len(items) != 1 || items[0].(map[string]any)["learner_email"] != "bob@example.com" {
			t.Errorf("active enrollments: %v", active)
		}
		if res, _ := editor.api(http.MethodGet, base+"/enrollments?status=nope", nil); res.status != http.StatusUnprocessableEntity {
			t.Errorf("a bad status filter: %d", res.status)
		}
		_, learners := editor.api(http.MethodGet, base+"/learners?q=ada", nil)
		if got := fmt.Sprint(learners["items"]); !strings.Contains(got, "email:ada@example.com") || !strings.Contains(got, "status:unverified") ||
			!strings.Contains(got, "course_title:Go basics") || strings.Contains(got, "bob@") {
			t.Errorf("learners: %s", got)
		}

		id := int64(created["id"].(float64))
		res, cancelled := editor.api(http.MethodPost, fmt.Sprintf("%s/enrollments/%d/cancel", base, id), nil)
		if res.status != http.StatusOK || cancelled["status"] != "cancelled" || cancelled["ended_at"] == nil {
			t.Errorf("cancel: %d %s", res.status, res.body)
		}
		if res, _ := editor.api(http.MethodPost, fmt.Sprintf("%s/enrollments/%d/cancel", base, id), nil); res.status != http.StatusConflict {
			t.Errorf("cancel twice: %d", res.status)
		}
		// A cancelled enrollment can be made active again directly.
		if res, again := editor.api(http.MethodPost, base+"/enrollments", map[string]any{"email": "bob@example.com", "course_id": sc.courseID}); res.status != http.StatusCreated ||
			again["id"] != created["id"] || again["status"] != "active" {
			t.Errorf("re-enrolling a cancelled learner: %d %s", res.status, res.body)
		}

		res, blocked := editor.api(http.MethodPost, base+"/blocked-emails", map[string]string{"email": "Spam@example.com"})
		if res.status != http.StatusCreated || blocked["email"] != "spam@example.com" || blocked["created_by"] != "editor@example.com" {
			t.Errorf("block: %d %s", res.status, res.body)
		}
		if res, _ := editor.api(http.MethodPost, base+"/blocked-emails", map[string]string{"email": "spam@example.com"}); res.status != http.StatusConflict {
			t.Errorf("block twice: %d", res.status)
		}
		_, bl := editor.api(http.MethodGet, base+"/blocked-emails", nil)
		if items, _ := bl["items"].([]any); len(items) != 2 {
			t.Errorf("blocked addresses: %v", bl)
		}
		if res, _ := editor.api(http.MethodDelete, base+"/blocked-emails", map[string]string{"email": "SPAM@example.com"}); res.status != http.StatusNoContent {
			t.Errorf("unblock by body: %d %s", res.status, res.body)
		}
		if res, _ := editor.api(http.MethodDelete, base+"/blocked-emails?email=blocked%40example.com", nil); res.status != http.StatusNoContent {
			t.Errorf("unblock by query: %d %s", res.status, res.body)
		}
		if res, _ := editor.api(http.MethodDelete, base+"/blocked-emails?email=blocked%40example.com", nil); res.status != http.StatusNotFound {
			t.Errorf("unblock twice: %d %s", res.status, res.body)
		}
	})
}
