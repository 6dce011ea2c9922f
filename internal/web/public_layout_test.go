package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// staffLinks are what a learner-facing page must never offer: the staff
// interface and its login.
var staffLinks = []string{`href="/email-learning/platform/`, `href="/accounts/`, "Back to the platform", "Log out"}

// checkLearnerPage checks a learner-facing page: the public layout, no
// staff links, and the organization's name in its header (linking to its
// public page) and footer; an empty orgName wants a neutral page.
func checkLearnerPage(t *testing.T, what string, res response, orgName string) {
	t.Helper()
	if !strings.Contains(res.body, `<body class="public">`) {
		t.Errorf("%s: not the public layout\n%s", what, res.body)
	}
	for _, link := range staffLinks {
		if strings.Contains(res.body, link) {
			t.Errorf("%s: offers %s\n%s", what, link, res.body)
		}
	}
	if orgName == "" {
		if strings.Contains(res.body, `class="public-brand"`) {
			t.Errorf("%s: names an organization, want a neutral page\n%s", what, res.body)
		}
		return
	}
	for _, want := range []string{
		`<a class="public-brand" href="/email-learning/public/organization/1/" title="` + orgName + `">`,
		`<span class="public-brand-name">` + orgName + `</span>`,
		`<span class="public-footer-name">` + orgName + `</span>`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("%s: lacks %s\n%s", what, want, res.body)
		}
	}
}

// TestLearnerPagesSpeakForTheOrganization walks the pages a learner
// meets, good links and bad: each is branded by the organization when it
// is known, neutral otherwise, and none offers the staff interface.
func TestLearnerPagesSpeakForTheOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := &testClock{t: time.Now()}
		app := newTestApp(t, db, withLearning(t, clock, nil))
		admin := app.loggedIn(adminEmail, adminPassword)
		const org = "Acme Academy"
		if res, _ := admin.api(http.MethodPatch, "/api/v1/organizations/1", map[string]any{"name": org}); res.status != http.StatusOK {
			t.Fatalf("rename: %d %s", res.status, res.body)
		}
		if res, _ := admin.api(http.MethodPut, "/api/v1/organizations/1/logo", testPNG(30, 30)); res.status != http.StatusOK {
			t.Fatalf("logo: %d %s", res.status, res.body)
		}
		sc := newSchool(t, app)
		sc.addQuiz(t)
		learner := app.client()
		orgPage := "/email-learning/public/organization/1/"

		page := func(what, path string, status int, brand string) response {
			t.Helper()
			res := learner.get(path)
			if res.status != status {
				t.Errorf("%s: %d, want %d\n%s", what, res.status, status, res.body)
			}
			checkLearnerPage(t, what, res, brand)
			return res
		}
		home := page("the public page", orgPage, http.StatusOK, org)
		if !strings.Contains(home.body, `<img src="/email-learning/public/organization/1/logo/thumb?v=`) {
			t.Errorf("the public page's header lacks the logo\n%s", home.body)
		}
		// Staff who look at it see it as learners do.
		if res := admin.get(orgPage); res.status != http.StatusOK {
			t.Errorf("the public page for staff: %d", res.status)
		} else {
			checkLearnerPage(t, "the public page for staff", res, org)
		}
		page("the course page", sc.coursePath(), http.StatusOK, org)
		enrolled := page("the enrolled page", sc.coursePath()+"enrolled", http.StatusOK, org)
		if !strings.Contains(enrolled.body, `<a href="`+orgPage+`">Back to `+org+`</a>`) {
			t.Errorf("the enrolled page leads nowhere back\n%s", enrolled.body)
		}

		// Enrollment: the link's page, the confirmation, the used link.
		if res := learner.post(sc.coursePath()+"enroll", url.Values{"email": {"ada@example.com"}}); res.status != http.StatusSeeOther {
			t.Fatalf("enroll: %d", res.status)
		}
		confirm := sc.confirmLink("ada@example.com")
		page("the confirmation link", confirm, http.StatusOK, org)
		res := learner.post(confirm, nil)
		checkLearnerPage(t, "you are enrolled", res, org)
		if res.status != http.StatusOK || !strings.Contains(res.body, "<h1>You are enrolled</h1>") ||
			!strings.Contains(res.body, `<a href="`+orgPage+`">See the courses of `+org+`</a>`) {
			t.Errorf("you are enrolled: %d\n%s", res.status, res.body)
		}
		used := page("a used confirmation link", confirm, http.StatusGone, org)
		if !strings.Contains(used.body, "<h1>Already confirmed</h1>") || !strings.Contains(used.body, "ada@example.com is enrolled in") {
			t.Errorf("a used confirmation link says\n%s", used.body)
		}

		// The quiz the course starts with.
		storetest.Eventually(t, 10*time.Second, "the quiz email", func() bool { return len(app.mails("ada@example.com", mail.KindQuiz)) > 0 })
		quiz := app.linkIn(app.mails("ada@example.com", mail.KindQuiz)[0].Text, "/email-learning/public/quizzes/")
		page("the quiz", quiz, http.StatusOK, org)

		// Unsubscribing.
		unsubscribe := learning.NewService(db, learning.Config{SecretKey: testSecretKey}).UnsubscribeURL(sc.enrollment("ada@example.com"))
		page("the unsubscribe page", unsubscribe, http.StatusOK, org)
		res = learner.post(unsubscribe, nil)
		checkLearnerPage(t, "unsubscribed", res, org)
		// The quiz of an ended enrollment is closed, and says whose it was.
		closed := page("a closed quiz", quiz, http.StatusGone, org)
		if !strings.Contains(closed.body, "This quiz is closed") {
			t.Errorf("a closed quiz says\n%s", closed.body)
		}

		// Links that never worked, and addresses that lead nowhere: no
		// organization to speak for.
		page("a bad confirmation link", learning.ConfirmPath("nope"), http.StatusNotFound, "")
		page("a bad unsubscribe link", strings.TrimSuffix(unsubscribe, "/")+"x/", http.StatusNotFound, "")
		page("a bad quiz link", strings.TrimSuffix(quiz, "/")+"x/", http.StatusNotFound, "")
		page("a bad claim link", learning.CertificateClaimPath(1, "nope"), http.StatusNotFound, "")
		page("an unknown certificate", learning.CertificatePath(learning.NewCertificateNumber()), http.StatusNotFound, "")
		page("an unknown organization", "/email-learning/public/organization/999/", http.StatusNotFound, "")
		page("an unknown slug", "/email-learning/public/@nobody/", http.StatusNotFound, "")
		page("no such public page", "/email-learning/public/nothing/here", http.StatusNotFound, "")
		// A course that is not open still has its organization's page.
		closedCourse := page("a closed course", learning.CoursePath(1, "nope"), http.StatusNotFound, org)
		if !strings.Contains(closedCourse.body, `<a href="`+orgPage+`">See the courses of `+org+`</a>`) {
			t.Errorf("a closed course leads nowhere\n%s", closedCourse.body)
		}

		// An expired confirmation link still speaks for its organization.
		if res := learner.post(sc.coursePath()+"enroll", url.Values{"email": {"bob@example.com"}}); res.status != http.StatusSeeOther {
			t.Fatalf("enroll: %d", res.status)
		}
		late := sc.confirmLink("bob@example.com")
		clock.advance(learning.ConfirmValidity + time.Minute)
		expired := page("an expired confirmation link", late, http.StatusGone, org)
		if !strings.Contains(expired.body, "<h1>Link expired</h1>") || !strings.Contains(expired.body, "has expired") {
			t.Errorf("an expired confirmation link says\n%s", expired.body)
		}
	})
}

// TestCertificatePagesSpeakForTheOrganization checks the claim and
// certificate pages' layout.
func TestCertificatePagesSpeakForTheOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		_, claim := completeCourse(t, app, admin, "zoe@example.com")
		learner := app.client()
		checkLearnerPage(t, "the claim page", learner.get(claim), "My Organization")
		res := learner.post(claim, url.Values{"name": {"Zoë"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("claim: %d", res.status)
		}
		checkLearnerPage(t, "the certificate", learner.get(res.header.Get("Location")), "My Organization")
		again := learner.post(claim, url.Values{"name": {"Mallory"}})
		checkLearnerPage(t, "claiming again", again, "My Organization")
	})
}

// TestUnsubscribeWordsEachState opens and posts the unsubscribe link of
// an enrollment in each status: only an open one is unsubscribed, and
// each page says where the learner stands.
func TestUnsubscribeWordsEachState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := &testClock{t: time.Now()}
		app := newTestApp(t, db, withLearning(t, clock, nil))
		sc := newSchool(t, app)
		links := learning.NewService(db, learning.Config{SecretKey: testSecretKey})
		ctx := context.Background()
		// set gives an active enrollment its status for the test.
		set := func(e store.Enrollment, to store.EnrollmentStatus) {
			t.Helper()
			err := db.InTx(ctx, func(q *store.Queries) error {
				var err error
				switch to {
				case store.EnrollmentCompleted, store.EnrollmentFailed:
					_, _, err = q.FinishEnrollment(ctx, e.OrganizationID, e.ID, to, clock.now())
				case store.EnrollmentCancelled, store.EnrollmentUnsubscribed:
					_, err = q.EndEnrollment(ctx, e.OrganizationID, e.ID, to, clock.now())
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			status             store.EnrollmentStatus
			getWants, postWant string
			after              store.EnrollmentStatus // after the POST
			form               bool                   // the GET asks for a click
		}{
			{status: store.EnrollmentUnverified, getWants: "<h1>Unsubscribe?</h1>", form: true,
				postWant: "was never confirmed, and now it cannot be", after: store.EnrollmentUnsubscribed},
			{status: store.EnrollmentActive, getWants: "<h1>Unsubscribe?</h1>", form: true,
				postWant: "<h1>You are unsubscribed</h1>", after: store.EnrollmentUnsubscribed},
			{status: store.EnrollmentUnsubscribed, getWants: "<h1>You are unsubscribed</h1>",
				postWant: "<h1>You were already unsubscribed</h1>", after: store.EnrollmentUnsubscribed},
			{status: store.EnrollmentCompleted, getWants: "<h1>You completed this course</h1>",
				postWant: "you will get no more emails from it", after: store.EnrollmentCompleted},
			{status: store.EnrollmentFailed, getWants: "<h1>This course has ended for you</h1>",
				postWant: "after the last attempt at a quiz", after: store.EnrollmentFailed},
			{status: store.EnrollmentCancelled, getWants: "<h1>This enrollment was ended</h1>",
				postWant: "My Organization ended the enrollment of", after: store.EnrollmentCancelled},
		} {
			t.Run(string(tc.status), func(t *testing.T) {
				email := string(tc.status) + "@example.com"
				if tc.status == store.EnrollmentUnverified {
					if res := app.client().post(sc.coursePath()+"enroll", url.Values{"email": {email}}); res.status != http.StatusSeeOther {
						t.Fatalf("enroll: %d", res.status)
					}
				} else {
					set(sc.enrollConfirmed(email), tc.status)
				}
				e := sc.enrollment(email)
				if e.Status != tc.status {
					t.Fatalf("the enrollment is %s, want %s", e.Status, tc.status)
				}
				link := links.UnsubscribeURL(e)
				get := app.client().get(link)
				checkLearnerPage(t, "GET", get, "My Organization")
				if get.status != http.StatusOK || !strings.Contains(get.body, tc.getWants) {
					t.Errorf("GET: %d, want %q\n%s", get.status, tc.getWants, get.body)
				}
				if hasForm := strings.Contains(get.body, "<form"); hasForm != tc.form {
					t.Errorf("GET offers a form: %v, want %v", hasForm, tc.form)
				}
				post := app.client().post(link, nil)
				checkLearnerPage(t, "POST", post, "My Organization")
				if post.status != http.StatusOK || !strings.Contains(post.body, tc.postWant) {
					t.Errorf("POST: %d, want %q\n%s", post.status, tc.postWant, post.body)
				}
				if tc.status != store.EnrollmentActive && tc.status != store.EnrollmentUnverified && strings.Contains(post.body, "You are unsubscribed") {
					t.Errorf("POST to a %s enrollment says it unsubscribed it\n%s", tc.status, post.body)
				}
				if got := sc.status(email); got != string(tc.after) {
					t.Errorf("after the POST the enrollment is %s, want %s", got, tc.after)
				}
			})
		}
	})
}
