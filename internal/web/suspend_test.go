package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestSuspendedOrganization suspends an organization as a platform admin
// would, through the pages and the API: its staff and keys are refused,
// its public pages answer 410 without a word of why (also the page cached
// before), unsubscribe links and certificates keep working, and resuming
// brings it all back.
func TestSuspendedOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		f := newAuthzFixture(t, app)
		o := f.newOrg()
		root, ownerClient, visitor := f.clients[platformAdmin], f.clients[owner], app.client()
		adminKey := f.keyClient(o.keys[adminKey])
		publicPage := fmt.Sprintf("/email-learning/public/organization/%d/", o.id)
		coursePage := fmt.Sprintf("/email-learning/public/organization/%d/courses/%s/", o.id, o.courseSlug)

		// The public page is cached for anonymous visitors.
		if res := visitor.get(publicPage); res.status != http.StatusOK {
			t.Fatalf("public page: %d", res.status)
		}

		// The confirmation page asks for an optional reason; a bad one
		// comes back beside its field.
		if res := root.get(orgURL("suspend")(o)); res.status != http.StatusOK || !strings.Contains(res.body, `name="reason"`) {
			t.Fatalf("suspend page: %d\n%s", res.status, excerpt(res.body, 300))
		}
		if res := root.post(orgURL("suspend")(o), url.Values{"reason": {strings.Repeat("x", 501)}}); res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "within 500 characters") {
			t.Errorf("a reason too long: %d\n%s", res.status, excerpt(res.body, 300))
		}
		if res := ownerClient.post(orgURL("suspend")(o), url.Values{}); res.status != http.StatusForbidden {
			t.Errorf("the owner suspends: %d", res.status)
		}
		if res := root.post(orgURL("suspend")(o), url.Values{"reason": {"Phishing reported."}}); res.status != http.StatusSeeOther {
			t.Fatalf("suspend: %d\n%s", res.status, excerpt(res.body, 300))
		}
		if res, _ := root.api(http.MethodPost, apiURL("/suspend")(o), nil); res.status != http.StatusConflict {
			t.Errorf("suspended twice: %d", res.status)
		}

		// The platform admin sees it, with the banner and the reason.
		page := root.get(orgURL("")(o))
		if page.status != http.StatusOK || !strings.Contains(page.body, `id="suspended"`) || !strings.Contains(page.body, "Phishing reported.") ||
			!strings.Contains(page.body, fmt.Sprintf(`action="/email-learning/platform/organizations/%d/resume"`, o.id)) {
			t.Errorf("the platform admin's page: %d\n%s", page.status, excerpt(page.body, 2000))
		}
		if res, body := root.api(http.MethodGet, apiURL("")(o), nil); res.status != http.StatusOK || body["suspended_at"] == nil {
			t.Errorf("the platform admin's API: %d %v", res.status, body["suspended_at"])
		}
		list := root.get(organizationsPath)
		if !strings.Contains(list.body, "suspended</span>") {
			t.Errorf("the platform's list does not show the suspension:\n%s", excerpt(list.body, 2000))
		}

		// Its staff are refused on pages and in the API, and so are its keys.
		for _, a := range []actor{owner, orgAdmin, viewer} {
			res := f.clients[a].get(orgURL("courses/")(o))
			if res.status != http.StatusForbidden || !strings.Contains(res.body, "This organization is suspended. Contact the platform") ||
				strings.Contains(res.body, "Phishing") {
				t.Errorf("%s opens its courses: %d\n%s", a, res.status, excerpt(res.body, 500))
			}
		}
		for name, c := range map[string]*client{"owner": ownerClient, "admin key": adminKey} {
			res, body := c.api(http.MethodGet, apiURL("")(o), nil)
			if res.status != http.StatusForbidden || apiErrorCode(body) != "organization_suspended" {
				t.Errorf("%s reads the organization: %d %s", name, res.status, res.body)
			}
			if res, body := c.api(http.MethodPatch, apiURL("")(o), map[string]string{"description": "Still here."}); res.status != http.StatusForbidden || apiErrorCode(body) != "organization_suspended" {
				t.Errorf("%s edits the organization: %d %s", name, res.status, res.body)
			}
		}
		if res, _ := f.clients[otherAdmin].api(http.MethodGet, apiURL("")(o), nil); res.status != http.StatusNotFound {
			t.Errorf("an outsider reads the organization: %d", res.status)
		}

		// Public pages answer 410, the same neutral page, also the one
		// cached before.
		gone := []response{visitor.get(publicPage), visitor.get("/email-learning/public/@" + o.slug + "/"), visitor.get(coursePage),
			visitor.post(coursePage+"enroll", url.Values{"email": {"new@example.com"}}),
			visitor.get(learning.ConfirmPath(o.confirmToken)), visitor.get(o.quizPage), visitor.post(o.quizPage, o.quizAnswer),
			ownerClient.get(publicPage)}
		for i, res := range gone {
			if res.status != http.StatusGone || !strings.Contains(res.body, "This page is not available.") || strings.Contains(strings.ToLower(res.body), "suspend") {
				t.Errorf("public answer %d: %d\n%s", i, res.status, excerpt(res.body, 500))
			}
		}
		res, body := visitor.api(http.MethodPost, fmt.Sprintf("/api/v1/public/organizations/%d/courses/%s/enrollments", o.id, o.courseSlug),
			map[string]string{"email": "new@example.com"})
		if res.status != http.StatusGone || apiErrorCode(body) != "not_available" {
			t.Errorf("public enrollment API: %d %s", res.status, res.body)
		}
		// A learner can always leave, and certificates certify the past.
		if res := visitor.get(o.unsubscribe); res.status != http.StatusOK {
			t.Errorf("unsubscribe page: %d", res.status)
		}
		if res := visitor.get(learning.CertificatePath(o.certificate)); res.status != http.StatusOK {
			t.Errorf("certificate page: %d", res.status)
		}
		if res := visitor.post(o.unsubscribe, nil); res.status != http.StatusOK || !strings.Contains(res.body, "nsubscribed") {
			t.Errorf("unsubscribe: %d\n%s", res.status, excerpt(res.body, 500))
		}

		// Resuming brings everything back.
		if res := ownerClient.post(orgURL("resume")(o), nil); res.status != http.StatusForbidden {
			t.Errorf("the owner resumes: %d", res.status)
		}
		if res := root.post(orgURL("resume")(o), nil); res.status != http.StatusSeeOther {
			t.Fatalf("resume: %d\n%s", res.status, excerpt(res.body, 300))
		}
		if res := visitor.get(publicPage); res.status != http.StatusOK {
			t.Errorf("public page after the resumption: %d", res.status)
		}
		if res, body := adminKey.api(http.MethodGet, apiURL("")(o), nil); res.status != http.StatusOK || body["suspended_at"] != nil {
			t.Errorf("the admin key after the resumption: %d %s", res.status, res.body)
		}
		if res, _ := root.api(http.MethodPost, apiURL("/resume")(o), nil); res.status != http.StatusConflict {
			t.Errorf("resumed twice: %d", res.status)
		}
		// The API does the same, and the audit log has each step.
		if res, body := root.api(http.MethodPost, apiURL("/suspend")(o), map[string]string{"reason": "Again."}); res.status != http.StatusOK || body["suspended_at"] == nil {
			t.Errorf("suspend by the API: %d %s", res.status, res.body)
		}
		if res, body := root.api(http.MethodPost, apiURL("/resume")(o), nil); res.status != http.StatusOK || body["suspended_at"] != nil {
			t.Errorf("resume by the API: %d %s", res.status, res.body)
		}
		audit := root.get(orgURL("audit/")(o))
		if !strings.Contains(audit.body, "Organization suspended") || !strings.Contains(audit.body, "Organization resumed") || strings.Contains(audit.body, "Phishing") {
			t.Errorf("the audit page:\n%s", excerpt(audit.body, 2000))
		}
		_, log := root.api(http.MethodGet, apiURL("/audit-log")(o), nil)
		var actions []string
		for _, item := range log["items"].([]any) {
			if action := item.(map[string]any)["kind"].(string); strings.HasPrefix(action, "organization.") {
				actions = append(actions, action)
			}
		}
		if got := strings.Join(actions, " "); got != "organization.resumed organization.suspended organization.resumed organization.suspended" {
			t.Errorf("audit log: %s", got)
		}
	})
}

// apiErrorCode is the code of an API error body.
func apiErrorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}
