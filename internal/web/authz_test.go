package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/bounces/providers"
	"github.com/mailschool/mailschool/internal/bounces/providers/providertest"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// actor is who sends a request in the authorization test.
type actor string

const (
	anonymous     actor = "anonymous"
	viewer        actor = "viewer"
	editor        actor = "editor"
	orgAdmin      actor = "admin"
	owner         actor = "owner"
	otherAdmin    actor = "admin of another organization"
	platformAdmin actor = "platform admin"
)

// Actors that send an API key instead of a session: keys of the
// organization under test with each role, one revoked and one expired (both
// admin keys), another organization's admin key and a platform key.
const (
	viewerKey   actor = "viewer key"
	editorKey   actor = "editor key"
	adminKey    actor = "admin key"
	revokedKey  actor = "revoked admin key"
	expiredKey  actor = "expired admin key"
	otherKey    actor = "admin key of another organization"
	platformKey actor = "platform key"
)

var actors = []actor{anonymous, viewer, editor, orgAdmin, owner, otherAdmin, platformAdmin,
	viewerKey, editorKey, adminKey, revokedKey, expiredKey, otherKey, platformKey}

// sessionActors log in; the others hold keys.
var sessionActors = actors[:7]

// roleOf is each actor's role in the organization under test.
var roleOf = map[actor]access.Role{viewer: access.Viewer, editor: access.Editor, orgAdmin: access.Admin, owner: access.Owner,
	viewerKey: access.Viewer, editorKey: access.Editor, adminKey: access.Admin}

// keyActor reports whether a is an API key.
func keyActor(a actor) bool { return !slices.Contains(sessionActors, a) }

// authzOrg is a fresh organization for one request: its members, a member
// to act on, a pending invitation, a logo and a course.
type authzOrg struct {
	id      int64
	name    string
	slug    string
	target  int64            // an editor, not one of the actors
	invite  int64            // a pending invitation
	token   string           // its link's token
	counter int              // tells requests' new names apart
	keys    map[actor]string // the organization's keys of the key actors
	keyID   int64            // a key to revoke
	course  int64            // a disabled course with a published lesson and an unpublished quiz
	lesson  int64
	quiz    int64
	// A platform key to revoke.
	platformKeyID int64
	// The fixture that made it, for the import's body.
	fixture *authzFixture

	// Learners: an enabled public course with an active enrollment (and
	// its unsubscribe link) and an unverified one (and its confirmation
	// token), an address the organization blocks and one blocked
	// platform-wide.
	enrollCourse    int64 // enabled and public, unlike course
	courseSlug      string
	enrollment      int64
	enrollmentKey   string // its link key
	learner         int64  // its learner
	unsubscribe     string
	confirmToken    string
	blocked         string
	platformBlocked string

	// A quiz of enrollCourse emailed to the active enrollment: its link's
	// page, and a form of answers that passes it.
	quizPage   string
	quizAnswer url.Values
	// Certificates: a completed enrollment's claimed certificate and its
	// claim link.
	certificate string // the number
	claim       string // the claim link's path
	// A finished learner import into enrollCourse.
	importID int64
	// A webhook with one message (webhooks_test.go).
	webhook, webhookMessage int64
}

// rule is who may use a route.
type rule struct {
	kind     string // "public", "login", "platform", "org"
	action   access.Action
	platform access.PlatformAction
}

var (
	public   = rule{kind: "public"}
	login    = rule{kind: "login"}
	platform = func(a access.PlatformAction) rule { return rule{kind: "platform", platform: a} }
	inOrg    = func(a access.Action) rule { return rule{kind: "org", action: a} }
)

// authzCase is how the test calls one route, and who may.
type authzCase struct {
	rule rule
	// path builds the URL; form or json is the body.
	path func(o *authzOrg) string
	form func(o *authzOrg) url.Values
	json func(o *authzOrg) any
	// ok is the status of an allowed request.
	ok int
	// upload, for a form with a file, is the file: the form is sent as
	// multipart/form-data.
	upload func(o *authzOrg) upload
	// want overrides the rule's outcome for some actors.
	want map[actor]int
	// endsSession marks requests that end or start a session: the actor
	// logs in again (or, anonymous, starts afresh) afterwards.
	endsSession bool
	// suspended: the organization is suspended before the request.
	suspended bool
}

func orgURL(suffix string) func(o *authzOrg) string {
	return func(o *authzOrg) string { return fmt.Sprintf(organizationsPath+"%d/%s", o.id, suffix) }
}

func apiURL(suffix string) func(o *authzOrg) string {
	return func(o *authzOrg) string { return fmt.Sprintf("/api/v1/organizations/%d%s", o.id, suffix) }
}

func fixed(path string) func(*authzOrg) string { return func(*authzOrg) string { return path } }

// authzCases lists every route of the routes table: the test fails when a
// route has no entry here, so a new route cannot skip the matrix.
func authzCases(outboxID int64) map[string]authzCase {
	memberURL := func(suffix string) func(o *authzOrg) string {
		return func(o *authzOrg) string {
			return fmt.Sprintf(organizationsPath+"%d/members/%d/%s", o.id, o.target, suffix)
		}
	}
	invitationURL := func(suffix string) func(o *authzOrg) string {
		return func(o *authzOrg) string {
			return fmt.Sprintf(organizationsPath+"%d/invitations/%d/%s", o.id, o.invite, suffix)
		}
	}
	outbox := func(suffix string) func(*authzOrg) string {
		return fixed(fmt.Sprintf("/email-learning/platform/outbox/%d/%s", outboxID, suffix))
	}
	newName := func(o *authzOrg) string { o.counter++; return fmt.Sprintf("%s new %d", o.name, o.counter) }
	newEmail := func(o *authzOrg) string { o.counter++; return fmt.Sprintf("new%d.%d@example.com", o.id, o.counter) }
	publicCourse := func(suffix string) func(o *authzOrg) string {
		return func(o *authzOrg) string { return learning.CoursePath(o.id, o.courseSlug) + suffix }
	}
	enrollmentURL := func(suffix string) func(o *authzOrg) string {
		return func(o *authzOrg) string {
			return fmt.Sprintf(organizationsPath+"%d/enrollments/%d/%s", o.id, o.enrollment, suffix)
		}
	}
	emailForm := func(email func(o *authzOrg) string) func(o *authzOrg) url.Values {
		return func(o *authzOrg) url.Values { return url.Values{"email": {email(o)}} }
	}
	emailJSON := func(email func(o *authzOrg) string) func(o *authzOrg) any {
		return func(o *authzOrg) any { return map[string]string{"email": email(o)} }
	}
	blocked := func(o *authzOrg) string { return o.blocked }
	confirmPage := func(o *authzOrg) string { return learning.ConfirmPath(o.confirmToken) }
	unsubscribePage := func(o *authzOrg) string { return o.unsubscribe }
	quizPage := func(o *authzOrg) string { return o.quizPage }
	claimPage := func(o *authzOrg) string { return o.claim }
	staffCertificate := func(suffix string) func(o *authzOrg) string {
		return func(o *authzOrg) string {
			return fmt.Sprintf(organizationsPath+"%d/certificates/%s/%s", o.id, o.certificate, suffix)
		}
	}
	certificateAPI := func(suffix string) func(o *authzOrg) string {
		return func(o *authzOrg) string {
			return fmt.Sprintf("/api/v1/organizations/%d/certificates/%s%s", o.id, o.certificate, suffix)
		}
	}
	certificate := func(suffix string) func(o *authzOrg) string {
		return func(o *authzOrg) string { return learning.CertificatePath(o.certificate) + suffix }
	}
	invitationPage := func(o *authzOrg) string { return "/invitations/" + o.token + "/" }
	// Invitations are for one address: everyone logged in is someone else.
	// An ownership offer is seen and ended by the owner (or a platform
	// admin) and by the member it names (here nobody of the actors); to
	// everyone else there is none.
	// Keys are nobody, so no offer names them.
	offerHidden := map[actor]int{viewer: 404, editor: 404, orgAdmin: 404, viewerKey: 404, editorKey: 404, adminKey: 404, otherKey: 404, platformKey: 404}
	notOffered := map[actor]int{viewer: 404, editor: 404, orgAdmin: 404, owner: 404, otherAdmin: 404, platformAdmin: 404,
		viewerKey: 404, editorKey: 404, adminKey: 404, otherKey: 404, platformKey: 404}
	// Suspending is a platform action on one organization: whoever cannot
	// see the organization gets what its other routes give them.
	unseen := map[actor]int{otherAdmin: 404, otherKey: 404}
	forSomeoneElse := map[actor]int{viewer: 403, editor: 403, orgAdmin: 403, owner: 403, otherAdmin: 403, platformAdmin: 403}

	return map[string]authzCase{
		"GET /{$}":             {rule: public, path: fixed("/"), ok: 303},
		"GET /healthz":         {rule: public, path: fixed("/healthz"), ok: 200},
		"GET /readyz":          {rule: public, path: fixed("/readyz"), ok: 200},
		"GET /metrics":         {rule: public, path: fixed("/metrics"), ok: 404}, // metrics are off in this app
		"GET /static/{file}":   {rule: public, path: fixed("/static/style.css"), ok: 200},
		"/":                    {rule: public, path: fixed("/no/such/page"), ok: 404},
		"GET /accounts/login/": {rule: public, path: fixed("/accounts/login/"), ok: 200, want: map[actor]int{viewer: 303, editor: 303, orgAdmin: 303, owner: 303, otherAdmin: 303, platformAdmin: 303}},
		"POST /accounts/login/": {rule: public, path: fixed("/accounts/login/"), ok: 401,
			form: func(*authzOrg) url.Values {
				return url.Values{"email": {"nobody@example.com"}, "password": {"wrong password"}}
			}},
		"POST /accounts/logout/":                            {rule: public, path: fixed("/accounts/logout/"), ok: 303, endsSession: true},
		"GET /accounts/password_change/":                    {rule: login, path: fixed("/accounts/password_change/"), ok: 301},
		"GET /accounts/settings/":                           {rule: login, path: fixed("/accounts/settings/"), ok: 200},
		"POST /accounts/settings/name":                      {rule: login, path: fixed("/accounts/settings/name"), ok: 303, form: func(*authzOrg) url.Values { return url.Values{"name": {"Someone"}} }},
		"POST /accounts/settings/password":                  {rule: login, path: fixed("/accounts/settings/password"), ok: 422, form: func(*authzOrg) url.Values { return url.Values{"old_password": {"not it"}} }},
		"POST /accounts/settings/sessions/end-others":       {rule: login, path: fixed("/accounts/settings/sessions/end-others"), ok: 303, endsSession: true},
		"POST /accounts/settings/sessions/{session_id}/end": {rule: login, path: fixed("/accounts/settings/sessions/not-a-session/end"), ok: 303},
		"POST /accounts/settings/email": {rule: login, path: fixed("/accounts/settings/email"), ok: 422, form: func(*authzOrg) url.Values {
			return url.Values{"email": {"new.address@example.com"}, "email_password": {"not it"}}
		}},
		"GET /accounts/settings/email/{token}/":  {rule: public, path: fixed("/accounts/settings/email/not-a-token/"), ok: 404},
		"POST /accounts/settings/email/{token}/": {rule: public, path: fixed("/accounts/settings/email/not-a-token/"), ok: 404},
		"GET /accounts/settings/delete":          {rule: login, path: fixed("/accounts/settings/delete"), ok: 200},
		"POST /accounts/settings/delete":         {rule: login, path: fixed("/accounts/settings/delete"), ok: 422, form: func(*authzOrg) url.Values { return url.Values{"password": {"not it"}} }},
		"POST /accounts/password_change/":        {rule: login, path: fixed("/accounts/password_change/"), ok: 422, form: func(*authzOrg) url.Values { return url.Values{"old_password": {"not it"}} }},

		// Sign-up is closed in this app: its pages answer 404 to everyone.
		"GET /accounts/signup/":                  {rule: public, path: fixed("/accounts/signup/"), ok: 404},
		"POST /accounts/signup/":                 {rule: public, path: fixed("/accounts/signup/"), ok: 404},
		"GET /accounts/signup/done/":             {rule: public, path: fixed("/accounts/signup/done/"), ok: 404},
		"GET /accounts/signup/confirm/{token}/":  {rule: public, path: fixed("/accounts/signup/confirm/not-a-token/"), ok: 404},
		"POST /accounts/signup/confirm/{token}/": {rule: public, path: fixed("/accounts/signup/confirm/not-a-token/"), ok: 404},
		"GET /email-learning/platform/signups/":  {rule: platform(access.ViewAllOrganizations), path: fixed("/email-learning/platform/signups/"), ok: 200},
		"GET /accounts/password_reset/":          {rule: public, path: fixed("/accounts/password_reset/"), ok: 200},
		"POST /accounts/password_reset/":         {rule: public, path: fixed("/accounts/password_reset/"), ok: 303, form: func(*authzOrg) url.Values { return url.Values{"email": {"nobody@example.com"}} }},
		"GET /accounts/password_reset/done/":     {rule: public, path: fixed("/accounts/password_reset/done/"), ok: 200},
		"GET /accounts/reset/{token}/":           {rule: public, path: fixed("/accounts/reset/not-a-token/"), ok: 404},
		"POST /accounts/reset/{token}/":          {rule: public, path: fixed("/accounts/reset/not-a-token/"), ok: 404},

		"GET /email-learning/platform/":                  {rule: login, path: fixed("/email-learning/platform/"), ok: 200},
		"GET /email-learning/platform/outbox/":           {rule: platform(access.ViewOutbox), path: fixed("/email-learning/platform/outbox/"), ok: 200},
		"GET /email-learning/platform/outbox/{id}/":      {rule: platform(access.ViewOutbox), path: outbox(""), ok: 200},
		"GET /email-learning/platform/outbox/{id}/html":  {rule: platform(access.ViewOutbox), path: outbox("html"), ok: 200},
		"GET /email-learning/platform/outbox/{id}/raw":   {rule: platform(access.ViewOutbox), path: outbox("raw"), ok: 200},
		"GET /email-learning/platform/organizations/":    {rule: login, path: fixed(organizationsPath), ok: 200},
		"GET /email-learning/platform/organizations/new": {rule: platform(access.CreateOrganization), path: fixed(organizationsPath + "new"), ok: 200},
		"POST /email-learning/platform/organizations/": {rule: platform(access.CreateOrganization), path: fixed(organizationsPath), ok: 303,
			form: func(o *authzOrg) url.Values { return url.Values{"name": {newName(o)}} }},
		"POST /email-learning/platform/organizations/switch": {rule: inOrg(access.ViewOrganization), path: fixed(organizationsPath + "switch"), ok: 303,
			form: func(o *authzOrg) url.Values { return url.Values{"organization_id": {itoa(o.id)}} }},
		"GET /email-learning/platform/organizations/{id}/":     {rule: inOrg(access.ViewOrganization), path: orgURL(""), ok: 200},
		"GET /email-learning/platform/organizations/{id}/edit": {rule: inOrg(access.EditOrganization), path: orgURL("edit"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/edit": {rule: inOrg(access.EditOrganization), path: orgURL("edit"), ok: 303,
			form: func(o *authzOrg) url.Values {
				return url.Values{"name": {o.name}, "slug": {o.slug}, "description": {"Changed by the test."}}
			}},
		"GET /email-learning/platform/organizations/{id}/delete": {rule: inOrg(access.DeleteOrganization), path: orgURL("delete"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/delete": {rule: inOrg(access.DeleteOrganization), path: orgURL("delete"), ok: 303,
			form: func(o *authzOrg) url.Values { return url.Values{"confirm_name": {o.name}} }},
		"GET /email-learning/platform/organizations/{id}/suspend":     {rule: platform(access.SuspendOrganizations), path: orgURL("suspend"), ok: 200, want: unseen},
		"POST /email-learning/platform/organizations/{id}/suspend":    {rule: platform(access.SuspendOrganizations), path: orgURL("suspend"), ok: 303, want: unseen, form: func(*authzOrg) url.Values { return url.Values{"reason": {"Unpaid invoices."}} }},
		"POST /email-learning/platform/organizations/{id}/resume":     {rule: platform(access.SuspendOrganizations), path: orgURL("resume"), ok: 303, want: unseen, suspended: true},
		"GET /email-learning/platform/organizations/{id}/members/new": {rule: inOrg(access.ManageMembers), path: orgURL("members/new"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/members/": {rule: inOrg(access.ManageMembers), path: orgURL("members/"), ok: 303,
			form: func(o *authzOrg) url.Values { return url.Values{"email": {newEmail(o)}, "role": {"viewer"}} }},
		"POST /email-learning/platform/organizations/{id}/members/{user_id}/role": {rule: inOrg(access.ManageMembers), path: memberURL("role"), ok: 303,
			form: func(*authzOrg) url.Values { return url.Values{"role": {"viewer"}} }},
		"GET /email-learning/platform/organizations/{id}/members/{user_id}/remove":            {rule: inOrg(access.ManageMembers), path: memberURL("remove"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/members/{user_id}/remove":           {rule: inOrg(access.ManageMembers), path: memberURL("remove"), ok: 303},
		"POST /email-learning/platform/organizations/{id}/invitations/{invitation_id}/resend": {rule: inOrg(access.ManageMembers), path: invitationURL("resend"), ok: 303},
		"POST /email-learning/platform/organizations/{id}/invitations/{invitation_id}/revoke": {rule: inOrg(access.ManageMembers), path: invitationURL("revoke"), ok: 303},
		"GET /email-learning/platform/organizations/{id}/transfer":                            {rule: inOrg(access.TransferOwnership), path: orgURL("transfer"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/transfer":                           {rule: inOrg(access.TransferOwnership), path: orgURL("transfer"), ok: 303, form: func(o *authzOrg) url.Values { return url.Values{"user_id": {itoa(o.target)}} }},
		"POST /email-learning/platform/organizations/{id}/transfer/accept":                    {rule: inOrg(access.ViewOrganization), path: orgURL("transfer/accept"), ok: 303, want: notOffered},
		"POST /email-learning/platform/organizations/{id}/transfer/end":                       {rule: inOrg(access.ViewOrganization), path: orgURL("transfer/end"), ok: 303, want: offerHidden},
		"GET /email-learning/platform/organizations/{id}/reports/":                            {rule: inOrg(access.ViewOrganization), path: orgURL("reports/"), ok: 200},
		"GET /email-learning/platform/organizations/{id}/reports/email/":                      {rule: inOrg(access.ViewOrganization), path: orgURL("reports/email/"), ok: 200},
		"GET /email-learning/platform/organizations/{id}/audit/":                              {rule: inOrg(access.ViewAuditLog), path: orgURL("audit/"), ok: 200},
		"GET /invitations/{token}/":                                                           {rule: public, path: invitationPage, ok: 200, want: forSomeoneElse},
		"POST /invitations/{token}/": {rule: public, path: invitationPage, ok: 303, want: forSomeoneElse, endsSession: true, form: func(*authzOrg) url.Values {
			return url.Values{"name": {"Newcomer"}, "password": {"a long passphrase"}, "password_confirm": {"a long passphrase"}}
		}},
		"GET /email-learning/public/organization/{id}/":     {rule: public, path: func(o *authzOrg) string { return fmt.Sprintf("/email-learning/public/organization/%d/", o.id) }, ok: 200},
		"GET /email-learning/public/organization/{id}/logo": {rule: public, path: func(o *authzOrg) string { return fmt.Sprintf("/email-learning/public/organization/%d/logo", o.id) }, ok: 200},
		"GET /email-learning/public/organization/{id}/logo/thumb": {rule: public, path: func(o *authzOrg) string {
			return fmt.Sprintf("/email-learning/public/organization/%d/logo/thumb", o.id)
		}, ok: 200},
		"GET /email-learning/public/{handle}/": {rule: public, path: func(o *authzOrg) string { return "/email-learning/public/@" + o.slug + "/" }, ok: 302},

		"GET /api/v1/organizations": {rule: login, path: fixed("/api/v1/organizations"), ok: 200},
		"POST /api/v1/organizations": {rule: platform(access.CreateOrganization), path: fixed("/api/v1/organizations"), ok: 201, json: func(o *authzOrg) any { return map[string]string{"name": newName(o)} },
			want: map[actor]int{platformKey: 422}}, // a key owns nothing: it must name an owner
		"GET /api/v1/organizations/{id}":             {rule: inOrg(access.ViewOrganization), path: apiURL(""), ok: 200},
		"PATCH /api/v1/organizations/{id}":           {rule: inOrg(access.EditOrganization), path: apiURL(""), ok: 200, json: func(*authzOrg) any { return map[string]string{"description": "Changed."} }},
		"DELETE /api/v1/organizations/{id}":          {rule: inOrg(access.DeleteOrganization), path: apiURL(""), ok: 204, json: func(o *authzOrg) any { return map[string]string{"confirm_name": o.name} }},
		"POST /api/v1/organizations/{id}/suspend":    {rule: platform(access.SuspendOrganizations), path: apiURL("/suspend"), ok: 200, want: unseen, json: func(*authzOrg) any { return map[string]string{"reason": "Unpaid invoices."} }},
		"POST /api/v1/organizations/{id}/resume":     {rule: platform(access.SuspendOrganizations), path: apiURL("/resume"), ok: 200, want: unseen, suspended: true},
		"PUT /api/v1/organizations/{id}/logo":        {rule: inOrg(access.EditOrganization), path: apiURL("/logo"), ok: 200, json: func(*authzOrg) any { return testPNG(8, 8) }},
		"DELETE /api/v1/organizations/{id}/logo":     {rule: inOrg(access.EditOrganization), path: apiURL("/logo"), ok: 200},
		"GET /api/v1/organizations/{id}/members":     {rule: inOrg(access.ViewOrganization), path: apiURL("/members"), ok: 200},
		"POST /api/v1/organizations/{id}/members":    {rule: inOrg(access.ManageMembers), path: apiURL("/members"), ok: 202, json: func(o *authzOrg) any { return map[string]string{"email": newEmail(o), "role": "editor"} }},
		"GET /api/v1/organizations/{id}/invitations": {rule: inOrg(access.ManageMembers), path: apiURL("/invitations"), ok: 200},
		"PATCH /api/v1/organizations/{id}/members/{user_id}": {rule: inOrg(access.ManageMembers), ok: 200, json: func(*authzOrg) any { return map[string]string{"role": "admin"} },
			path: func(o *authzOrg) string { return fmt.Sprintf("/api/v1/organizations/%d/members/%d", o.id, o.target) }},
		"DELETE /api/v1/organizations/{id}/members/{user_id}": {rule: inOrg(access.ManageMembers), ok: 204,
			path: func(o *authzOrg) string { return fmt.Sprintf("/api/v1/organizations/%d/members/%d", o.id, o.target) }},
		"POST /api/v1/organizations/{id}/invitations/{invitation_id}/resend": {rule: inOrg(access.ManageMembers), ok: 200,
			path: func(o *authzOrg) string {
				return fmt.Sprintf("/api/v1/organizations/%d/invitations/%d/resend", o.id, o.invite)
			}},
		"DELETE /api/v1/organizations/{id}/invitations/{invitation_id}": {rule: inOrg(access.ManageMembers), ok: 204,
			path: func(o *authzOrg) string {
				return fmt.Sprintf("/api/v1/organizations/%d/invitations/%d", o.id, o.invite)
			}},
		"POST /api/v1/organizations/{id}/transfer-ownership": {rule: inOrg(access.TransferOwnership), path: apiURL("/transfer-ownership"), ok: 202,
			json: func(o *authzOrg) any { return map[string]int64{"user_id": o.target} }},
		"GET /api/v1/organizations/{id}/transfer-ownership":         {rule: inOrg(access.ViewOrganization), path: apiURL("/transfer-ownership"), ok: 200, want: offerHidden},
		"DELETE /api/v1/organizations/{id}/transfer-ownership":      {rule: inOrg(access.ViewOrganization), path: apiURL("/transfer-ownership"), ok: 204, want: offerHidden},
		"POST /api/v1/organizations/{id}/transfer-ownership/accept": {rule: inOrg(access.ViewOrganization), path: apiURL("/transfer-ownership/accept"), ok: 200, want: notOffered},
		"GET /api/v1/me": {rule: login, path: fixed("/api/v1/me"), ok: 200},
		"GET /email-learning/platform/organizations/{id}/api-keys/": {rule: inOrg(access.ManageAPIKeys), path: orgURL("api-keys/"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/api-keys/": {rule: inOrg(access.ManageAPIKeys), path: orgURL("api-keys/"), ok: 201,
			form: func(o *authzOrg) url.Values { return url.Values{"name": {newName(o)}, "role": {"viewer"}} }},
		"GET /email-learning/platform/organizations/{id}/api-keys/{key_id}/revoke": {rule: inOrg(access.ManageAPIKeys), ok: 200,
			path: func(o *authzOrg) string { return fmt.Sprintf(organizationsPath+"%d/api-keys/%d/revoke", o.id, o.keyID) }},
		"POST /email-learning/platform/organizations/{id}/api-keys/{key_id}/revoke": {rule: inOrg(access.ManageAPIKeys), ok: 303,
			path: func(o *authzOrg) string { return fmt.Sprintf(organizationsPath+"%d/api-keys/%d/revoke", o.id, o.keyID) }},
		"GET /email-learning/platform/organizations/{id}/webhooks/":                  {rule: inOrg(access.ManageWebhooks), path: orgURL("webhooks/"), ok: 200},
		"GET /email-learning/platform/organizations/{id}/webhooks/new":               {rule: inOrg(access.ManageWebhooks), path: orgURL("webhooks/new"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/webhooks/":                 {rule: inOrg(access.ManageWebhooks), path: orgURL("webhooks/"), ok: 201, form: webhookFormBody},
		"GET /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/":     {rule: inOrg(access.ManageWebhooks), path: webhookURL(""), ok: 200},
		"GET /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/edit": {rule: inOrg(access.ManageWebhooks), path: webhookURL("edit"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/edit": {rule: inOrg(access.ManageWebhooks), path: webhookURL("edit"), ok: 303,
			form: webhookFormBody},
		"GET /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/delete":         {rule: inOrg(access.ManageWebhooks), path: webhookURL("delete"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/delete":        {rule: inOrg(access.ManageWebhooks), path: webhookURL("delete"), ok: 303},
		"GET /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/rotate-secret":  {rule: inOrg(access.ManageWebhooks), path: webhookURL("rotate-secret"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/rotate-secret": {rule: inOrg(access.ManageWebhooks), path: webhookURL("rotate-secret"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/test":          {rule: inOrg(access.ManageWebhooks), path: webhookURL("test"), ok: 303},
		"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/deliveries/{message_id}/redeliver": {rule: inOrg(access.ManageWebhooks), ok: 303,
			path: func(o *authzOrg) string {
				return webhookURL(fmt.Sprintf("deliveries/%d/redeliver", o.webhookMessage))(o)
			}},
		"GET /api/v1/organizations/{id}/webhooks":                             {rule: inOrg(access.ManageWebhooks), path: apiURL("/webhooks"), ok: 200},
		"POST /api/v1/organizations/{id}/webhooks":                            {rule: inOrg(access.ManageWebhooks), path: apiURL("/webhooks"), ok: 201, json: webhookJSONBody},
		"GET /api/v1/organizations/{id}/webhooks/{webhook_id}":                {rule: inOrg(access.ManageWebhooks), path: webhookAPI(""), ok: 200},
		"PATCH /api/v1/organizations/{id}/webhooks/{webhook_id}":              {rule: inOrg(access.ManageWebhooks), path: webhookAPI(""), ok: 200, json: webhookJSONBody},
		"DELETE /api/v1/organizations/{id}/webhooks/{webhook_id}":             {rule: inOrg(access.ManageWebhooks), path: webhookAPI(""), ok: 204},
		"POST /api/v1/organizations/{id}/webhooks/{webhook_id}/rotate-secret": {rule: inOrg(access.ManageWebhooks), path: webhookAPI("/rotate-secret"), ok: 200},
		"GET /api/v1/organizations/{id}/webhooks/{webhook_id}/deliveries":     {rule: inOrg(access.ManageWebhooks), path: webhookAPI("/deliveries"), ok: 200},
		"POST /api/v1/organizations/{id}/webhooks/{webhook_id}/deliveries/{message_id}/redeliver": {rule: inOrg(access.ManageWebhooks), ok: 202,
			path: func(o *authzOrg) string {
				return webhookAPI(fmt.Sprintf("/deliveries/%d/redeliver", o.webhookMessage))(o)
			}},
		"POST /api/v1/organizations/{id}/webhooks/{webhook_id}/test": {rule: inOrg(access.ManageWebhooks), path: webhookAPI("/test"), ok: 202},

		"GET /api/v1/organizations/{id}/api-keys": {rule: inOrg(access.ManageAPIKeys), path: apiURL("/api-keys"), ok: 200},
		"POST /api/v1/organizations/{id}/api-keys": {rule: inOrg(access.ManageAPIKeys), path: apiURL("/api-keys"), ok: 201,
			json: func(o *authzOrg) any { return map[string]string{"name": newName(o), "role": "viewer"} }},
		"DELETE /api/v1/organizations/{id}/api-keys/{key_id}": {rule: inOrg(access.ManageAPIKeys), ok: 204,
			path: func(o *authzOrg) string { return fmt.Sprintf("/api/v1/organizations/%d/api-keys/%d", o.id, o.keyID) }},
		"GET /api/v1/platform/api-keys": {rule: platform(access.ManagePlatformKeys), path: fixed("/api/v1/platform/api-keys"), ok: 200},
		"POST /api/v1/platform/api-keys": {rule: platform(access.ManagePlatformKeys), path: fixed("/api/v1/platform/api-keys"), ok: 201,
			json: func(o *authzOrg) any { return map[string]string{"name": newName(o)} }},
		"DELETE /api/v1/platform/api-keys/{key_id}": {rule: platform(access.ManagePlatformKeys), ok: 204,
			path: func(o *authzOrg) string { return fmt.Sprintf("/api/v1/platform/api-keys/%d", o.platformKeyID) }},
		"GET /api/{$}":             {rule: public, path: fixed("/api/"), ok: 200},
		"GET /api/v1/openapi.json": {rule: public, path: fixed("/api/v1/openapi.json"), ok: 200},

		"GET /email-learning/platform/organizations/{id}/reports/courses/{course_id}/": {rule: inOrg(access.ViewOrganization), ok: 200, path: func(o *authzOrg) string {
			return fmt.Sprintf("/email-learning/platform/organizations/%d/reports/courses/%d/", o.id, o.enrollCourse)
		}},
		"GET /api/v1/organizations/{id}/courses/{course_id}/report": {rule: inOrg(access.ViewOrganization), ok: 200, path: func(o *authzOrg) string {
			return fmt.Sprintf("/api/v1/organizations/%d/courses/%d/report", o.id, o.enrollCourse)
		}},
		"GET /api/v1/organizations/{id}/courses/{course_id}/report.csv": {rule: inOrg(access.ViewOrganization), ok: 200, path: func(o *authzOrg) string {
			return fmt.Sprintf("/api/v1/organizations/%d/courses/%d/report.csv", o.id, o.enrollCourse)
		}},

		"GET /email-learning/platform/organizations/{id}/courses/{$}": {rule: inOrg(access.ViewOrganization), path: orgURL("courses/"), ok: 200},
		"GET /email-learning/platform/organizations/{id}/courses/new": {rule: inOrg(access.EditContent), path: orgURL("courses/new"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/courses/new": {rule: inOrg(access.EditContent), path: orgURL("courses/new"), ok: 303,
			form: func(o *authzOrg) url.Values { return url.Values{"title": {newName(o)}, "public": {"on"}} }},
		"GET /email-learning/platform/organizations/{id}/courses/{course_id}/{$}":  {rule: inOrg(access.ViewOrganization), path: courseURL(""), ok: 200},
		"GET /email-learning/platform/organizations/{id}/courses/{course_id}/edit": {rule: inOrg(access.EditContent), path: courseURL("edit"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/courses/{course_id}/edit": {rule: inOrg(access.EditContent), path: courseURL("edit"), ok: 303,
			form: func(*authzOrg) url.Values {
				return url.Values{"title": {"Course renamed"}, "description": {"Changed."}}
			}},
		"POST /email-learning/platform/organizations/{id}/courses/{course_id}/enabled": {rule: inOrg(access.EditContent), path: courseURL("enabled"), ok: 303,
			form: func(*authzOrg) url.Values { return url.Values{"enabled": {"true"}} }},
		"GET /email-learning/platform/organizations/{id}/courses/{course_id}/delete":       {rule: inOrg(access.EditContent), path: courseURL("delete"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/courses/{course_id}/delete":      {rule: inOrg(access.EditContent), path: courseURL("delete"), ok: 303},
		"GET /email-learning/platform/organizations/{id}/courses/{course_id}/contents/new": {rule: inOrg(access.EditContent), path: courseURL("contents/new?kind=quiz"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/courses/{course_id}/contents/new": {rule: inOrg(access.EditContent), path: courseURL("contents/new"), ok: 303,
			form: func(*authzOrg) url.Values {
				return url.Values{"kind": {"lesson"}, "title": {"New lesson"}, "body": {"Hello"}, "waiting_period": {"1"}, "waiting_unit": {"days"}}
			}},
		"GET /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/{$}":  {rule: inOrg(access.ViewOrganization), path: lessonURL(""), ok: 200},
		"GET /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/edit": {rule: inOrg(access.EditContent), path: lessonURL("edit"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/edit": {rule: inOrg(access.EditContent), path: lessonURL("edit"), ok: 303,
			form: func(*authzOrg) url.Values {
				return url.Values{"title": {"Lesson changed"}, "body": {"Changed."}, "waiting_period": {"2"}, "waiting_unit": {"hours"}, "published": {"on"}}
			}},
		"GET /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/delete":  {rule: inOrg(access.EditContent), path: lessonURL("delete"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/delete": {rule: inOrg(access.EditContent), path: lessonURL("delete"), ok: 303},
		"POST /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/move": {rule: inOrg(access.EditContent), path: lessonURL("move"), ok: 303,
			form: func(*authzOrg) url.Values { return url.Values{"direction": {"down"}} }},

		"GET /email-learning/platform/organizations/{id}/courses/{course_id}/imports/{$}": {rule: inOrg(access.ViewOrganization), path: importsURL(""), ok: 200},
		"POST /email-learning/platform/organizations/{id}/courses/{course_id}/imports/{$}": {rule: inOrg(access.ImportLearners), path: importsURL(""), ok: 303,
			upload: func(o *authzOrg) upload {
				return upload{"file", "learners.csv", []byte("email\n" + newEmail(o) + "\n")}
			}},
		"GET /email-learning/platform/organizations/{id}/courses/{course_id}/imports/{import_id}/{$}": {rule: inOrg(access.ViewOrganization), ok: 200,
			path: func(o *authzOrg) string { return importsURL(itoa(o.importID) + "/")(o) }},
		"POST /api/v1/organizations/{id}/courses/{course_id}/imports": {rule: inOrg(access.ImportLearners), path: importsAPI(""), ok: 202,
			json: func(o *authzOrg) any { return csvBody("email\n" + newEmail(o) + "\n") }},
		"GET /api/v1/organizations/{id}/courses/{course_id}/imports/{import_id}": {rule: inOrg(access.ViewOrganization), ok: 200,
			path: func(o *authzOrg) string { return importsAPI("/" + itoa(o.importID))(o) }},

		"GET /api/v1/organizations/{id}/courses": {rule: inOrg(access.ViewOrganization), path: apiURL("/courses"), ok: 200},
		"POST /api/v1/organizations/{id}/courses": {rule: inOrg(access.EditContent), path: apiURL("/courses"), ok: 201,
			json: func(o *authzOrg) any { return map[string]string{"title": newName(o)} }},
		"GET /api/v1/organizations/{id}/courses/{course_id}": {rule: inOrg(access.ViewOrganization), path: courseAPI(""), ok: 200},
		"PATCH /api/v1/organizations/{id}/courses/{course_id}": {rule: inOrg(access.EditContent), path: courseAPI(""), ok: 200,
			json: func(*authzOrg) any { return map[string]any{"description": "Changed.", "enabled": true} }},
		"DELETE /api/v1/organizations/{id}/courses/{course_id}":       {rule: inOrg(access.EditContent), path: courseAPI(""), ok: 204},
		"GET /api/v1/organizations/{id}/courses/{course_id}/contents": {rule: inOrg(access.ViewOrganization), path: courseAPI("/contents"), ok: 200},
		"POST /api/v1/organizations/{id}/courses/{course_id}/contents": {rule: inOrg(access.EditContent), path: courseAPI("/contents"), ok: 201,
			json: func(*authzOrg) any {
				return map[string]any{"kind": "quiz", "title": "Another quiz", "questions": []any{
					map[string]any{"text": "Sure?", "answers": []any{map[string]any{"text": "Yes", "correct": true}, map[string]any{"text": "No"}}}}}
			}},
		"POST /api/v1/organizations/{id}/courses/{course_id}/contents/reorder": {rule: inOrg(access.EditContent), path: courseAPI("/contents/reorder"), ok: 200,
			json: func(o *authzOrg) any { return map[string][]int64{"ids": {o.quiz, o.lesson}} }},
		"GET /api/v1/organizations/{id}/courses/{course_id}/contents/{content_id}": {rule: inOrg(access.ViewOrganization), path: lessonAPI, ok: 200},
		"PATCH /api/v1/organizations/{id}/courses/{course_id}/contents/{content_id}": {rule: inOrg(access.EditContent), path: lessonAPI, ok: 200,
			json: func(*authzOrg) any { return map[string]any{"title": "Changed", "waiting_period_seconds": 60} }},
		"DELETE /api/v1/organizations/{id}/courses/{course_id}/contents/{content_id}":         {rule: inOrg(access.EditContent), path: lessonAPI, ok: 204},
		"GET /email-learning/platform/organizations/{id}/learners/":                           {rule: inOrg(access.ViewOrganization), path: orgURL("learners/"), ok: 200},
		"GET /email-learning/platform/organizations/{id}/enrollments/{enrollment_id}/":        {rule: inOrg(access.ViewOrganization), path: enrollmentURL(""), ok: 200},
		"GET /email-learning/platform/organizations/{id}/enrollments/{enrollment_id}/cancel":  {rule: inOrg(access.ManageEnrollments), path: enrollmentURL("cancel"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/enrollments/{enrollment_id}/cancel": {rule: inOrg(access.ManageEnrollments), path: enrollmentURL("cancel"), ok: 303},
		"GET /email-learning/platform/organizations/{id}/certificates/":                       {rule: inOrg(access.ViewOrganization), path: orgURL("certificates/"), ok: 200},
		"GET /email-learning/platform/organizations/{id}/certificates/{number}/":              {rule: inOrg(access.ViewOrganization), path: staffCertificate(""), ok: 200},
		"GET /email-learning/platform/organizations/{id}/certificates/{number}/revoke":        {rule: inOrg(access.RevokeCertificates), path: staffCertificate("revoke"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/certificates/{number}/revoke":       {rule: inOrg(access.RevokeCertificates), path: staffCertificate("revoke"), ok: 303, form: func(*authzOrg) url.Values { return url.Values{"reason": {"Copied."}} }},
		"GET /email-learning/platform/organizations/{id}/blocked-emails/":                     {rule: inOrg(access.ViewOrganization), path: orgURL("blocked-emails/"), ok: 200},
		"POST /email-learning/platform/organizations/{id}/blocked-emails/":                    {rule: inOrg(access.ManageEnrollments), path: orgURL("blocked-emails/"), ok: 303, form: emailForm(newEmail)},
		"POST /email-learning/platform/organizations/{id}/blocked-emails/remove":              {rule: inOrg(access.ManageEnrollments), path: orgURL("blocked-emails/remove"), ok: 303, form: emailForm(blocked)},
		"GET /email-learning/platform/organizations/{id}/bounces/":                            {rule: inOrg(access.ViewOrganization), path: orgURL("bounces/"), ok: 200},
		"GET /email-learning/platform/blocked-emails/":                                        {rule: platform(access.ManageBlockedEmails), path: fixed("/email-learning/platform/blocked-emails/"), ok: 200},
		"POST /email-learning/platform/blocked-emails/":                                       {rule: platform(access.ManageBlockedEmails), path: fixed("/email-learning/platform/blocked-emails/"), ok: 303, form: emailForm(newEmail)},
		"POST /email-learning/platform/blocked-emails/remove":                                 {rule: platform(access.ManageBlockedEmails), path: fixed("/email-learning/platform/blocked-emails/remove"), ok: 303, form: emailForm(func(o *authzOrg) string { return o.platformBlocked })},
		"GET /email-learning/public/organization/{id}/courses/{slug}/":                        {rule: public, path: publicCourse(""), ok: 200},
		"POST /email-learning/public/organization/{id}/courses/{slug}/enroll":                 {rule: public, path: publicCourse("enroll"), ok: 303, form: emailForm(newEmail)},
		"GET /email-learning/public/organization/{id}/courses/{slug}/enrolled":                {rule: public, path: publicCourse("enrolled"), ok: 200},
		"GET /email-learning/public/enrollments/confirm/{token}/":                             {rule: public, path: confirmPage, ok: 200},
		"POST /email-learning/public/enrollments/confirm/{token}/":                            {rule: public, path: confirmPage, ok: 200},
		"GET /email-learning/public/unsubscribe/{enrollment_id}/{signature}/":                 {rule: public, path: unsubscribePage, ok: 200},
		"POST /email-learning/public/unsubscribe/{enrollment_id}/{signature}/":                {rule: public, path: unsubscribePage, ok: 200},
		"GET /email-learning/public/quizzes/{delivery_id}/{signature}/":                       {rule: public, path: quizPage, ok: 200},
		"POST /email-learning/public/quizzes/{delivery_id}/{signature}/":                      {rule: public, path: quizPage, ok: 303, form: func(o *authzOrg) url.Values { return o.quizAnswer }},
		"GET /email-learning/public/certificates/claim/{enrollment_id}/{signature}/":          {rule: public, path: claimPage, ok: 200},
		"POST /email-learning/public/certificates/claim/{enrollment_id}/{signature}/":         {rule: public, path: claimPage, ok: 409, form: func(*authzOrg) url.Values { return url.Values{"name": {"Someone Else"}} }},
		"GET /email-learning/public/certificates/{number}/":                                   {rule: public, path: certificate(""), ok: 200},
		"GET /email-learning/public/certificates/{number}/qr.png":                             {rule: public, path: certificate("qr.png"), ok: 200},
		"GET /email-learning/public/certificates/{number}/certificate.pdf":                    {rule: public, path: certificate("certificate.pdf"), ok: 200},
		// Providers post without a session; a post without the provider's
		// signature is refused whoever sends it.
		"POST /email-learning/bounces/{provider}/": {rule: public, path: fixed("/email-learning/bounces/sendgrid/"), ok: 403},
		"POST /api/v1/public/organizations/{id}/courses/{slug}/enrollments": {rule: public, ok: 202, json: emailJSON(newEmail), path: func(o *authzOrg) string {
			return fmt.Sprintf("/api/v1/public/organizations/%d/courses/%s/enrollments", o.id, o.courseSlug)
		}},
		"GET /api/v1/organizations/{id}/learners":     {rule: inOrg(access.ViewOrganization), path: apiURL("/learners"), ok: 200},
		"GET /api/v1/organizations/{id}/enrollments":  {rule: inOrg(access.ViewOrganization), path: apiURL("/enrollments"), ok: 200},
		"POST /api/v1/organizations/{id}/enrollments": {rule: inOrg(access.ManageEnrollments), path: apiURL("/enrollments"), ok: 201, json: func(o *authzOrg) any { return map[string]any{"email": newEmail(o), "course_id": o.enrollCourse} }},
		"POST /api/v1/organizations/{id}/enrollments/{enrollment_id}/cancel": {rule: inOrg(access.ManageEnrollments), ok: 200, path: func(o *authzOrg) string {
			return fmt.Sprintf("/api/v1/organizations/%d/enrollments/%d/cancel", o.id, o.enrollment)
		}},
		"GET /api/v1/organizations/{id}/certificates":                  {rule: inOrg(access.ViewOrganization), path: apiURL("/certificates"), ok: 200},
		"GET /api/v1/organizations/{id}/certificates/{number}":         {rule: inOrg(access.ViewOrganization), path: certificateAPI(""), ok: 200},
		"POST /api/v1/organizations/{id}/certificates/{number}/revoke": {rule: inOrg(access.RevokeCertificates), path: certificateAPI("/revoke"), ok: 200, json: func(*authzOrg) any { return map[string]string{"reason": "Copied."} }},
		"GET /api/v1/organizations/{id}/blocked-emails":                {rule: inOrg(access.ViewOrganization), path: apiURL("/blocked-emails"), ok: 200},
		"POST /api/v1/organizations/{id}/blocked-emails":               {rule: inOrg(access.ManageEnrollments), path: apiURL("/blocked-emails"), ok: 201, json: emailJSON(newEmail)},
		"DELETE /api/v1/organizations/{id}/blocked-emails":             {rule: inOrg(access.ManageEnrollments), path: apiURL("/blocked-emails"), ok: 204, json: emailJSON(blocked)},
		"GET /api/v1/organizations/{id}/bounces":                       {rule: inOrg(access.ViewOrganization), path: apiURL("/bounces"), ok: 200},
		"GET /api/v1/organizations/{id}/audit-log":                     {rule: inOrg(access.ViewAuditLog), path: apiURL("/audit-log"), ok: 200},
		"GET /api/v1/organizations/{id}/export":                        {rule: inOrg(access.ExportOrganization), path: apiURL("/export"), ok: 200},
		"GET /email-learning/platform/organizations/{id}/export":       {rule: inOrg(access.ExportOrganization), path: orgURL("export"), ok: 200},
		"GET /api/v1/organizations/{id}/reports":                       {rule: inOrg(access.ViewOrganization), path: apiURL("/reports"), ok: 200},
		"GET /api/v1/organizations/{id}/exports/enrollments.csv":       {rule: inOrg(access.ExportLearners), path: apiURL("/exports/enrollments.csv"), ok: 200},
		"GET /api/v1/organizations/{id}/exports/learners.csv":          {rule: inOrg(access.ExportLearners), path: apiURL("/exports/learners.csv"), ok: 200},
		"GET /api/v1/organizations/{id}/exports/audit.csv":             {rule: inOrg(access.ExportAuditLog), path: apiURL("/exports/audit.csv"), ok: 200},
		"POST /api/v1/organizations/import": {rule: platform(access.ImportOrganization), path: fixed("/api/v1/organizations/import"), ok: 201,
			json: func(o *authzOrg) any { return exportOf(o) }},
		"GET /api/v1/organizations/{id}/exports/report.csv": {rule: inOrg(access.ViewOrganization), path: apiURL("/exports/report.csv"), ok: 200},
		"GET /api/v1/organizations/{id}/enrollments/{enrollment_id}": {rule: inOrg(access.ViewOrganization), ok: 200, path: func(o *authzOrg) string {
			return fmt.Sprintf("/api/v1/organizations/%d/enrollments/%d", o.id, o.enrollment)
		}},
		"GET /api/v1/organizations/{id}/learners/{learner_id}": {rule: inOrg(access.ViewOrganization), ok: 200, path: func(o *authzOrg) string {
			return fmt.Sprintf("/api/v1/organizations/%d/learners/%d", o.id, o.learner)
		}},
		"GET /api/v1/organizations/{id}/courses/{course_id}/quiz-attempts": {rule: inOrg(access.ViewOrganization), ok: 200, path: func(o *authzOrg) string {
			return fmt.Sprintf("/api/v1/organizations/%d/courses/%d/quiz-attempts", o.id, o.enrollCourse)
		}},
		"GET /api/v1/platform/outbox":              {rule: platform(access.ViewOutbox), path: fixed("/api/v1/platform/outbox"), ok: 200},
		"GET /api/v1/platform/outbox/{message_id}": {rule: platform(access.ViewOutbox), path: fixed(fmt.Sprintf("/api/v1/platform/outbox/%d", outboxID)), ok: 200},
	}
}

// expected is the status an actor gets from a route under its rule.
func (c authzCase) expected(pattern string, a actor) int {
	api := strings.Contains(pattern, "/api/")
	if keyActor(a) {
		switch {
		case pattern == "GET /metrics":
			return c.ok // its bearer token is its own, never taken for a key
		case !api:
			return http.StatusBadRequest // keys are for the API only
		case a == revokedKey || a == expiredKey:
			return http.StatusUnauthorized
		}
	}
	if s, ok := c.want[a]; ok {
		return s
	}
	if a == anonymous && c.rule.kind != "public" {
		if api || !strings.HasPrefix(pattern, "GET ") {
			return http.StatusUnauthorized
		}
		return http.StatusSeeOther // to the login page
	}
	switch c.rule.kind {
	case "platform":
		keyMay := a == platformKey && c.rule.platform != access.ManagePlatformKeys // keys never manage keys
		if a != platformAdmin && !keyMay {
			return http.StatusForbidden
		}
	case "org":
		switch {
		case a == platformAdmin:
		case a == otherAdmin, a == otherKey, a == platformKey:
			return http.StatusNotFound // another organization's ids reveal nothing
		case keyActor(a) && c.rule.action == access.ManageAPIKeys:
			return http.StatusForbidden // keys never manage keys
		case !roleOf[a].AtLeast(minimumRoleFor(c.rule.action)):
			return http.StatusForbidden
		}
	}
	return c.ok
}

// designMatrix is the role matrix of the design, written out here rather
// than read from access, so that a change to access that breaks the
// design fails this test: the lowest role allowed each action.
var designMatrix = map[access.Action]access.Role{
	access.ViewOrganization:   access.Viewer,
	access.EditContent:        access.Editor,
	access.ManageEnrollments:  access.Editor,
	access.EditOrganization:   access.Admin,
	access.ManageMembers:      access.Admin,
	access.ViewAuditLog:       access.Admin,
	access.TransferOwnership:  access.Owner,
	access.DeleteOrganization: access.Owner,
	access.ManageAPIKeys:      access.Admin,
	// The design has no row for certificates: revoking one is managing
	// the enrollment that earned it.
	access.RevokeCertificates: access.Editor,
	// Exports: whoever may see a list may download it.
	access.ExportLearners: access.Viewer,
	access.ExportAuditLog: access.Admin,
	// Importing learners is managing enrollments in bulk.
	access.ImportLearners: access.Editor,
	// Exporting hands out everything the organization holds, as deleting
	// removes it: the owner's.
	access.ExportOrganization: access.Owner,
	// Webhooks are set up by whoever sets up the organization's other
	// integrations: its admins (and their keys, unlike API keys).
	access.ManageWebhooks: access.Admin,
}

func minimumRoleFor(action access.Action) access.Role {
	if r, ok := designMatrix[action]; ok {
		return r
	}
	return access.Role("nobody")
}

// TestAuthorizationMatrix walks every route for every actor and checks the
// outcome against the role matrix; a refused request must change nothing.
func TestAuthorizationMatrix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		_, sendgridKey := providertest.SendGridKey(t)
		app := newTestApp(t, db, withBounceWebhooks(t, providers.Settings{SendGridPublicKey: sendgridKey}, providers.Options{}, &reportCollector{}))
		f := newAuthzFixture(t, app)
		cases := authzCases(f.outboxID)

		var server Server
		var patterns []string
		for _, rt := range server.routes() {
			patterns = append(patterns, rt.pattern)
			if _, ok := cases[rt.pattern]; !ok {
				t.Errorf("route %q has no entry in the authorization test", rt.pattern)
			}
		}
		for pattern := range cases {
			if !slices.Contains(patterns, pattern) {
				t.Errorf("the authorization test has an entry for %q, which is not a route", pattern)
			}
		}

		for _, pattern := range patterns {
			c, ok := cases[pattern]
			if !ok {
				continue
			}
			method, _, found := strings.Cut(pattern, " ")
			if !found {
				method = http.MethodGet
			}
			for _, a := range actors {
				o := f.newOrg()
				if c.suspended {
					f.suspend(o)
				}
				path := c.path(o)
				before := f.fingerprint(o)
				res := f.request(a, method, path, c, o)
				want := c.expected(pattern, a)
				if res.status != want {
					t.Errorf("%s %s as %s: status %d, want %d\n%s", method, path, a, res.status, want, excerpt(res.body, 300))
				}
				if want != c.ok || res.status >= 400 && res.status != c.ok {
					if after := f.fingerprint(o); after != before {
						t.Errorf("%s %s as %s was refused but changed data:\nbefore %s\nafter  %s", method, path, a, before, after)
					}
				}
				if c.endsSession {
					f.logIn(a)
				}
			}
		}
		// No actor is offered an organization in the walk: one accepts
		// here, so that the acceptance too is checked against the API
		// description.
		o := f.newOrg()
		for _, step := range []struct {
			who          actor
			method, path string
			body         any
			want         int
		}{
			{owner, http.MethodDelete, apiURL("/transfer-ownership")(o), nil, http.StatusNoContent},
			{owner, http.MethodPost, apiURL("/transfer-ownership")(o), map[string]int64{"user_id": f.users[editor].ID}, http.StatusAccepted},
			{editor, http.MethodPost, apiURL("/transfer-ownership/accept")(o), nil, http.StatusOK},
		} {
			if res, _ := f.clients[step.who].api(step.method, step.path, step.body); res.status != step.want {
				t.Fatalf("%s %s as %s: status %d, want %d\n%s", step.method, step.path, step.who, res.status, step.want, res.body)
			}
		}
		requireAPICoverage(t, app.apiSeen)
	})
}

// authzFixture holds the actors' sessions and makes organizations.
type authzFixture struct {
	t        *testing.T
	app      *testApp
	users    map[actor]*store.User
	clients  map[actor]*client
	keys     map[actor]string // the keys that outlive one organization: another's, the platform's
	other    int64            // the other admin's organization
	outboxID int64
	n        int
}

const authzPassword = "a long passphrase"

func newAuthzFixture(t *testing.T, app *testApp) *authzFixture {
	t.Helper()
	ctx := context.Background()
	f := &authzFixture{t: t, app: app, users: map[actor]*store.User{}, clients: map[actor]*client{}, keys: map[actor]string{}}
	hash, err := auth.HashPassword(context.Background(), authzPassword)
	if err != nil {
		t.Fatal(err)
	}
	err = app.db.InTx(ctx, func(q *store.Queries) error {
		for _, a := range sessionActors[1:] {
			if a == platformAdmin {
				continue
			}
			u, err := q.CreateUser(ctx, store.NewUser{Email: "authz-" + strings.ReplaceAll(string(a), " ", "-") + "@example.com", PasswordHash: hash})
			if err != nil {
				return err
			}
			f.users[a] = &u
		}
		u, err := q.UserByEmail(ctx, adminEmail)
		f.users[platformAdmin] = &u
		if err != nil {
			return err
		}
		other, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "Other", NameKey: "other", NameSkeleton: names.Key("Other"), Slug: "other"})
		if err != nil {
			return err
		}
		f.other = other.ID
		return q.AddMembership(ctx, other.ID, f.users[otherAdmin].ID, string(access.Owner))
	})
	if err != nil {
		t.Fatal(err)
	}
	f.clients[anonymous] = app.client()
	for _, a := range sessionActors[1:] {
		f.logIn(a)
	}
	f.keys[otherKey] = f.newKey(f.other, otherAdmin, "admin")
	res, _ := f.clients[platformAdmin].api(http.MethodPost, "/api/v1/platform/api-keys", map[string]string{"name": "Provisioning"})
	if res.status != http.StatusCreated {
		t.Fatalf("create a platform key: %d %s", res.status, res.body)
	}
	f.keys[platformKey] = jsonField(t, res.body, "key")
	// An email in the outbox, for the outbox pages.
	res, _ = f.clients[platformAdmin].api(http.MethodPost, fmt.Sprintf("/api/v1/organizations/%d/members", f.other),
		map[string]string{"email": "someone@example.com", "role": "viewer"})
	if res.status != http.StatusAccepted {
		t.Fatalf("invite for the outbox: %d %s", res.status, res.body)
	}
	list, err := app.db.Read().ListMailMessages(ctx, 0, 1)
	if err != nil || len(list) != 1 {
		t.Fatalf("outbox: %v, %v", list, err)
	}
	f.outboxID = list[0].ID
	return f
}

// newKey creates a key in organization orgID through the API, as creator.
func (f *authzFixture) newKey(orgID int64, creator actor, role string) string {
	f.t.Helper()
	body := map[string]any{"name": fmt.Sprintf("%s key %d", role, f.n), "role": role}
	res, _ := f.clients[creator].api(http.MethodPost, fmt.Sprintf("/api/v1/organizations/%d/api-keys", orgID), body)
	if res.status != http.StatusCreated {
		f.t.Fatalf("create a %s key: %d %s", role, res.status, res.body)
	}
	return jsonField(f.t, res.body, "key")
}

// keyClient is a client without cookies that sends key.
func (f *authzFixture) keyClient(key string) *client {
	c := f.app.client()
	c.http.Jar = nil
	c.http.Transport = bearer{key: key, next: http.DefaultTransport}
	return c
}

// bearer sends an API key with every request.
type bearer struct {
	key  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.next.RoundTrip(r)
}

func jsonField(t testing.TB, body, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	v, _ := m[field].(string)
	return v
}

func (f *authzFixture) logIn(a actor) {
	f.t.Helper()
	if keyActor(a) {
		return // keys need no login
	}
	if a == anonymous {
		f.clients[a] = f.app.client()
		return
	}
	password := authzPassword
	if a == platformAdmin {
		password = adminPassword
	}
	f.clients[a] = f.app.loggedIn(f.users[a].Email, password)
}

// newOrg makes an organization where each actor has their role, with a
// member to act on, a pending invitation and a logo.
func (f *authzFixture) newOrg() *authzOrg {
	f.t.Helper()
	ctx := context.Background()
	f.n++
	o := &authzOrg{name: fmt.Sprintf("Org %d", f.n), slug: fmt.Sprintf("org-%d", f.n), fixture: f}
	err := f.app.db.InTx(ctx, func(q *store.Queries) error {
		org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: o.name, NameKey: strings.ToLower(o.name), NameSkeleton: names.Key(o.name), Slug: o.slug})
		if err != nil {
			return err
		}
		o.id = org.ID
		for a, role := range roleOf {
			if keyActor(a) {
				continue
			}
			if err := q.AddMembership(ctx, o.id, f.users[a].ID, string(role)); err != nil {
				return err
			}
		}
		target, err := q.CreateUser(ctx, store.NewUser{Email: fmt.Sprintf("target%d@example.com", f.n)})
		if err != nil {
			return err
		}
		o.target = target.ID
		if err := q.AddMembership(ctx, o.id, target.ID, string(access.Editor)); err != nil {
			return err
		}
		// The owner offered the organization to the target, who alone may
		// accept or decline.
		if err := q.OfferOwnership(ctx, o.id, target.ID, f.users[owner].ID); err != nil {
			return err
		}
		token, hash := auth.NewToken()
		inv, err := q.SaveInvitation(ctx, store.NewInvitation{OrganizationID: o.id, Email: fmt.Sprintf("invited%d@example.com", f.n),
			Role: "viewer", TokenHash: hash, InvitedBy: f.users[owner].ID, ExpiresAt: time.Now().Add(time.Hour)})
		o.invite, o.token = inv.ID, token
		if err != nil {
			return err
		}
		png := testPNG(4, 4)
		if err := q.SetOrganizationLogo(ctx, o.id, store.Logo{ContentType: "image/png", Data: png, ETag: `"l"`,
			ThumbContentType: "image/png", Thumb: png, ThumbETag: `"t"`}); err != nil {
			return err
		}
		if err := o.addCourse(ctx, q); err != nil {
			return err
		}
		if err := f.addKeys(ctx, q, o); err != nil {
			return err
		}
		if err := o.addWebhook(ctx, q); err != nil {
			return err
		}
		return f.addLearners(ctx, q, o)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

// addKeys gives an organization of newOrg the keys of the key actors,
// made by its admin (its owner for the admin keys), and a key to revoke.
func (f *authzFixture) addKeys(ctx context.Context, q *store.Queries, o *authzOrg) error {
	o.keys = map[actor]string{}
	past := time.Now().Add(-time.Minute)
	keys := []struct {
		a       actor
		role    string
		creator actor
		expires *time.Time
	}{
		{viewerKey, "viewer", orgAdmin, nil}, {editorKey, "editor", orgAdmin, nil}, {adminKey, "admin", owner, nil},
		{revokedKey, "admin", owner, nil}, {expiredKey, "admin", owner, &past}, {"", "viewer", orgAdmin, nil},
	}
	_, hash, err := auth.NewAPIKeySecret()
	if err != nil {
		return err
	}
	platformKey, err := q.CreateAPIKey(ctx, store.NewAPIKey{Name: fmt.Sprintf("platform %d", f.n), Role: "platform",
		SecretHash: hash, CreatedBy: f.users[platformAdmin].ID, CreatorEmail: adminEmail})
	if err != nil {
		return err
	}
	o.platformKeyID = platformKey.ID
	for _, k := range keys {
		secret, hash, err := auth.NewAPIKeySecret()
		if err != nil {
			return err
		}
		created, err := q.CreateAPIKey(ctx, store.NewAPIKey{OrganizationID: o.id, Name: fmt.Sprintf("%s %d", k.role, f.n), Role: k.role,
			SecretHash: hash, CreatedBy: f.users[k.creator].ID, CreatorEmail: f.users[k.creator].Email, ExpiresAt: k.expires})
		if err != nil {
			return err
		}
		if k.a == "" {
			o.keyID = created.ID
			continue
		}
		o.keys[k.a] = auth.FormatAPIKey(created.ID, secret)
		if k.a == revokedKey {
			if err := q.RevokeAPIKey(ctx, o.id, created.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// addLearners gives an organization of newOrg its course, enrollments and
// blocked addresses.
func (f *authzFixture) addLearners(ctx context.Context, q *store.Queries, o *authzOrg) error {
	var err error
	o.courseSlug = "course-" + itoa(o.id)
	if o.enrollCourse, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: o.id, Title: "Course of " + o.name, TitleKey: strings.ToLower("Course of " + o.name), TitleSkeleton: names.Key("Course of " + o.name),
		Slug: o.courseSlug, Enabled: true, Public: true}); err != nil {
		return err
	}
	now := time.Now()
	for i, status := range []store.EnrollmentStatus{store.EnrollmentActive, store.EnrollmentUnverified} {
		l, err := q.SaveLearner(ctx, o.id, fmt.Sprintf("learner%d.%d@example.com", f.n, i))
		if err != nil {
			return err
		}
		ne := store.NewEnrollment{OrganizationID: o.id, CourseID: o.enrollCourse, LearnerID: l.ID, Status: status, At: now}
		if status == store.EnrollmentUnverified {
			o.confirmToken, ne.TokenHash = auth.NewToken()
			ne.ExpiresAt = now.Add(time.Hour)
		}
		e, _, err := q.CreateEnrollment(ctx, ne)
		if err != nil {
			return err
		}
		if status == store.EnrollmentActive {
			o.enrollment, o.enrollmentKey, o.learner = e.ID, e.LinkKey, l.ID
			o.unsubscribe = learning.NewService(f.app.db, learning.Config{SecretKey: testSecretKey}).UnsubscribeURL(e)
		}
	}
	if err := f.addQuizDelivery(ctx, q, o, now); err != nil {
		return err
	}
	if err := f.addCertificate(ctx, q, o); err != nil {
		return err
	}
	if err := f.addImport(ctx, q, o); err != nil {
		return err
	}
	o.blocked, o.platformBlocked = fmt.Sprintf("blocked%d@example.com", f.n), fmt.Sprintf("everywhere%d@example.com", f.n)
	if _, err := q.BlockEmail(ctx, o.id, o.blocked, 0); err != nil {
		return err
	}
	_, err = q.BlockEmail(ctx, 0, o.platformBlocked, 0)
	return err
}

// addCertificate gives an organization of newOrg a completed enrollment
// with a claimed certificate.
func (f *authzFixture) addCertificate(ctx context.Context, q *store.Queries, o *authzOrg) error {
	l, err := q.SaveLearner(ctx, o.id, fmt.Sprintf("graduate%d@example.com", f.n))
	if err != nil {
		return err
	}
	now := time.Now()
	e, _, err := q.CreateEnrollment(ctx, store.NewEnrollment{OrganizationID: o.id, CourseID: o.enrollCourse, LearnerID: l.ID,
		Status: store.EnrollmentCompleted, At: now})
	if err != nil {
		return err
	}
	c, _, err := q.CreateCertificate(ctx, store.NewCertificate{OrganizationID: o.id, EnrollmentID: e.ID, Number: learning.NewCertificateNumber(),
		CourseTitle: "Course of " + o.name, OrganizationName: o.name, CompletedAt: now})
	if err != nil {
		return err
	}
	s := learning.NewService(f.app.db, learning.Config{BaseURL: f.app.srv.URL, SecretKey: testSecretKey})
	qr, err := qrcode.Encode(s.CertificateURL(c.Number), qrcode.Medium, 256)
	if err != nil {
		return err
	}
	if _, err := q.ClaimCertificate(ctx, o.id, c.ID, "Grace Hopper", qr, now); err != nil {
		return err
	}
	o.certificate, o.claim = c.Number, strings.TrimPrefix(s.CertificateClaimURL(e), f.app.srv.URL)
	return nil
}

func (f *authzFixture) request(a actor, method, path string, c authzCase, o *authzOrg) response {
	f.t.Helper()
	cl := f.clients[a]
	if keyActor(a) {
		key := o.keys[a]
		if key == "" {
			key = f.keys[a]
		}
		cl = f.keyClient(key)
	}
	switch {
	case strings.HasPrefix(path, "/api/"):
		var body any
		if c.json != nil {
			body = c.json(o)
		}
		res, _ := cl.api(method, path, body)
		return res
	case method == http.MethodPost && c.upload != nil:
		return cl.postMultipart(path, nil, c.upload(o))
	case method == http.MethodPost:
		var form url.Values
		if c.form != nil {
			form = c.form(o)
		}
		return cl.post(path, form)
	default:
		return cl.get(path)
	}
}

// suspend suspends the organization, as a platform admin would.
func (f *authzFixture) suspend(o *authzOrg) {
	f.t.Helper()
	ctx := context.Background()
	err := f.app.db.InTx(ctx, func(q *store.Queries) error {
		if err := q.SuspendOrganization(ctx, o.id, &f.users[platformAdmin].ID, "", time.Now()); err != nil {
			return err
		}
		_, err := q.HoldOrganizationDeliveries(ctx, o.id)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// fingerprint sums up what a request could change: the organization under
// test and the other one, their members, open invitations, courses and
// content, audit logs, and how many organizations exist.
func (f *authzFixture) fingerprint(o *authzOrg) string {
	f.t.Helper()
	ctx := context.Background()
	q := f.app.db.Read()
	var b strings.Builder
	_, total, err := q.ListOrganizations(ctx, store.OrganizationFilter{Limit: 1})
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprintf(&b, "organizations=%d", total)
	everywhere, _, err := q.ListBlockedEmails(ctx, 0, 0, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprintf(&b, " blocked everywhere=%d", len(everywhere))
	for _, id := range []int64{o.id, f.other} {
		org, err := q.OrganizationByID(ctx, id)
		if err != nil {
			fmt.Fprintf(&b, " [%d gone]", id)
			continue
		}
		fmt.Fprintf(&b, " [%d %q %q %q %s suspended=%t", id, org.Name, org.Slug, org.Description, org.LogoETag, org.Suspended())
		members, err := q.OrganizationMembers(ctx, id, 0, 100)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, m := range members {
			fmt.Fprintf(&b, " %s=%s", m.Email, m.Role)
		}
		invitations, err := q.OpenInvitations(ctx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, inv := range invitations {
			fmt.Fprintf(&b, " inv:%s:%s:%s", inv.Email, inv.Role, inv.ExpiresAt.Format(time.RFC3339Nano))
		}
		audit, err := q.AuditLog(ctx, id, 0, 1000)
		if err != nil {
			f.t.Fatal(err)
		}
		fingerprintCourses(f.t, &b, q, id)
		// A revoked key's use is recorded: the refusal changes nothing else.
		audit = slices.DeleteFunc(audit, func(e store.AuditEntry) bool { return e.Action == "api_key.revoked_use" })
		fmt.Fprintf(&b, " audit=%d", len(audit))
		keys, err := q.APIKeys(ctx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		fmt.Fprintf(&b, " keys=%d", len(keys))
		enrollments, _, err := q.ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: id, Limit: 1000})
		if err != nil {
			f.t.Fatal(err)
		}
		for _, e := range enrollments {
			fmt.Fprintf(&b, " enr:%s:%d:%s", e.LearnerEmail, e.CourseID, e.Status)
		}
		certificates, _, err := q.ListCertificates(ctx, store.CertificateFilter{OrganizationID: id, Limit: 1000})
		if err != nil {
			f.t.Fatal(err)
		}
		for _, c := range certificates {
			fmt.Fprintf(&b, " cert:%s:%v", c.Number, c.Revoked())
		}
		blocked, _, err := q.ListBlockedEmails(ctx, id, 0, 1000)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, bl := range blocked {
			fmt.Fprintf(&b, " blocked:%s", bl.Email)
		}
		fingerprintImports(f.t, &b, q, id)
		fingerprintWebhooks(f.t, &b, q, id)
		b.WriteString("]")
	}
	return b.String()
}

// TestCrossOrganizationIDs puts ids of one organization into the URLs of
// another: the answer is 404 and nothing changes.
func TestCrossOrganizationIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		f := newAuthzFixture(t, app)
		a, b := f.newOrg(), f.newOrg()
		// a's admin addresses b's member and invitation through a's URLs.
		requests := []struct{ method, path, body string }{
			{"POST", fmt.Sprintf(organizationsPath+"%d/members/%d/role", a.id, b.target), "role=viewer"},
			{"POST", fmt.Sprintf(organizationsPath+"%d/members/%d/remove", a.id, b.target), ""},
			{"GET", fmt.Sprintf(organizationsPath+"%d/members/%d/remove", a.id, b.target), ""},
			{"POST", fmt.Sprintf(organizationsPath+"%d/invitations/%d/resend", a.id, b.invite), ""},
			{"POST", fmt.Sprintf(organizationsPath+"%d/invitations/%d/revoke", a.id, b.invite), ""},
			{"PATCH", fmt.Sprintf("/api/v1/organizations/%d/members/%d", a.id, b.target), `{"role":"viewer"}`},
			{"DELETE", fmt.Sprintf("/api/v1/organizations/%d/members/%d", a.id, b.target), ""},
			{"POST", fmt.Sprintf("/api/v1/organizations/%d/invitations/%d/resend", a.id, b.invite), ""},
			{"DELETE", fmt.Sprintf("/api/v1/organizations/%d/invitations/%d", a.id, b.invite), ""},
			{"GET", fmt.Sprintf(organizationsPath+"%d/enrollments/%d/", a.id, b.enrollment), ""},
			{"GET", fmt.Sprintf(organizationsPath+"%d/enrollments/%d/cancel", a.id, b.enrollment), ""},
			{"POST", fmt.Sprintf(organizationsPath+"%d/enrollments/%d/cancel", a.id, b.enrollment), ""},
			{"POST", fmt.Sprintf(organizationsPath+"%d/blocked-emails/remove", a.id), "email=" + b.blocked},
			{"POST", fmt.Sprintf("/api/v1/organizations/%d/enrollments/%d/cancel", a.id, b.enrollment), ""},
			{"GET", fmt.Sprintf(organizationsPath+"%d/certificates/%s/", a.id, b.certificate), ""},
			{"GET", fmt.Sprintf(organizationsPath+"%d/certificates/%s/revoke", a.id, b.certificate), ""},
			{"POST", fmt.Sprintf(organizationsPath+"%d/certificates/%s/revoke", a.id, b.certificate), "reason=Copied."},
			{"GET", fmt.Sprintf("/api/v1/organizations/%d/certificates/%s", a.id, b.certificate), ""},
			{"POST", fmt.Sprintf("/api/v1/organizations/%d/certificates/%s/revoke", a.id, b.certificate), `{"reason":"Copied."}`},
			{"DELETE", fmt.Sprintf("/api/v1/organizations/%d/blocked-emails", a.id), `{"email":"` + b.blocked + `"}`},
			{"GET", learning.CoursePath(a.id, b.courseSlug), ""},
			{"POST", learning.CoursePath(a.id, b.courseSlug) + "enroll", "email=cross@example.com"},
			{"POST", fmt.Sprintf("/api/v1/public/organizations/%d/courses/%s/enrollments", a.id, b.courseSlug), `{"email":"cross@example.com"}`},
			{"GET", fmt.Sprintf(organizationsPath+"%d/courses/%d/imports/", a.id, b.enrollCourse), ""},
			{"POST", fmt.Sprintf(organizationsPath+"%d/courses/%d/imports/", a.id, b.enrollCourse), "file=cross@example.com"},
			{"GET", fmt.Sprintf(organizationsPath+"%d/courses/%d/imports/%d/", a.id, b.enrollCourse, b.importID), ""},
			{"GET", fmt.Sprintf(organizationsPath+"%d/courses/%d/imports/%d/", a.id, a.enrollCourse, b.importID), ""},
			{"POST", fmt.Sprintf("/api/v1/organizations/%d/courses/%d/imports", a.id, b.enrollCourse), "cross@example.com\n"},
			{"GET", fmt.Sprintf("/api/v1/organizations/%d/courses/%d/imports/%d", a.id, b.enrollCourse, b.importID), ""},
			{"GET", fmt.Sprintf("/api/v1/organizations/%d/courses/%d/imports/%d", a.id, a.enrollCourse, b.importID), ""},
		}
		// The actors have the same roles in a and b: what tells the
		// answers apart is only whether the ids belong to a.
		for _, who := range []actor{orgAdmin, owner, platformAdmin} {
			for _, r := range requests {
				before := f.fingerprint(b) + f.fingerprint(a)
				var res response
				switch {
				case strings.HasPrefix(r.path, "/api/"):
					var body any
					if r.body != "" {
						body = []byte(r.body)
					}
					req, _ := http.NewRequest(r.method, f.clients[who].base+r.path, strings.NewReader(string(asBytes(body))))
					req.Header.Set("Content-Type", "application/json")
					res = f.clients[who].do(req)
				case r.method == "POST":
					form, _ := url.ParseQuery(r.body)
					res = f.clients[who].post(r.path, form)
				default:
					res = f.clients[who].get(r.path)
				}
				if res.status != http.StatusNotFound {
					t.Errorf("%s %s as %s: status %d, want 404\n%s", r.method, r.path, who, res.status, excerpt(res.body, 200))
				}
				if after := f.fingerprint(b) + f.fingerprint(a); after != before {
					t.Errorf("%s %s as %s changed data:\nbefore %s\nafter  %s", r.method, r.path, who, before, after)
				}
			}
		}
	})
}

func asBytes(v any) []byte {
	if b, ok := v.([]byte); ok {
		return b
	}
	return nil
}
