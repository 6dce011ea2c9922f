package web

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// refusedForm checks a form shown again after an error: its status, the
// message exactly once (written as the page escapes it), the values typed
// still in it (kept: fragments of the page), and a message at the top
// only when top is set.
func refusedForm(t *testing.T, what string, res response, status int, msg string, top bool, kept ...string) {
	t.Helper()
	if res.status != status {
		t.Errorf("%s: status %d, want %d\n%s", what, res.status, status, res.body)
		return
	}
	if n := strings.Count(res.body, html.EscapeString(msg)); n != 1 {
		t.Errorf("%s: the message %q is on the page %d times, want once\n%s", what, msg, n, res.body)
	}
	if got := strings.Contains(res.body, `class="error" role="alert"`); got != top {
		t.Errorf("%s: a message at the top: %v, want %v\n%s", what, got, top, res.body)
	}
	if !top && !strings.Contains(res.body, `<p class="field-error" id="`) {
		t.Errorf("%s: no message beside a field\n%s", what, res.body)
	}
	for _, v := range kept {
		if !strings.Contains(res.body, v) {
			t.Errorf("%s: the typed %q is not kept\n%s", what, v, res.body)
		}
	}
}

// Every staff form refused for a field shows the field's message once,
// beside it (described by it, marked invalid), and keeps what was typed.
func TestRefusedFormsKeepWhatWasTyped(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	f := newAuthzFixture(t, app)
	o := f.newOrg()
	admin, orgPage := f.clients[platformAdmin], organizationPath(o.id)
	course := coursePath(o.id, o.course)

	res := admin.postMultipart(organizationsPath, map[string]string{"name": o.name, "description": "Typed words", "owner_email": "boss@example.com"},
		upload{"logo", "logo.png", testPNG(4, 4)})
	refusedForm(t, "add organization, name taken", res, 409, fmt.Sprintf("An organization named %q already exists.", o.name), false,
		"Typed words", `value="boss@example.com"`, "Choose the logo again")
	if !strings.Contains(res.body, `aria-describedby="name-error" aria-invalid="true"`) || !strings.Contains(res.body, `<p class="field-error" id="name-error">`) {
		t.Errorf("the name field is not described by its message:\n%s", res.body)
	}

	res = admin.postMultipart(orgPage+"edit", map[string]string{"name": "Renamed", "description": "New words", "slug": "Bad Slug!", "remove_logo": "on"})
	refusedForm(t, "edit organization, bad address", res, 422,
		"The address may hold lower-case letters, digits and single hyphens, at most 60 characters.", false,
		`value="Renamed"`, "New words", `value="Bad Slug!"`, `name="remove_logo" checked`)
	if !strings.Contains(res.body, `aria-describedby="slug-help slug-error" aria-invalid="true"`) {
		t.Errorf("the address field is not described by its help and its message:\n%s", res.body)
	}

	res = admin.post(orgPage+"courses/new", url.Values{"title": {" "}, "slug": {"typed-slug"}, "description": {"About it"}})
	refusedForm(t, "add course, no title", res, 422, "Enter a title.", false, `value="typed-slug"`, "About it")
	if strings.Contains(res.body, `name="public" checked`) {
		t.Errorf("add course: the unchecked public box came back checked")
	}

	res = admin.post(course+"edit", url.Values{"title": {""}, "description": {"Changed text"}, "public": {"on"}})
	refusedForm(t, "edit course, no title", res, 422, "Enter a title.", false, "Changed text", `name="public" checked`)

	res = admin.post(course+"contents/new", url.Values{"kind": {"lesson"}, "title": {""}, "body": {"Typed **body**"},
		"waiting_period": {"3"}, "waiting_unit": {"hours"}, "published": {"on"}, "action": {"save"}})
	refusedForm(t, "add lesson, no title", res, 422, "Enter a title.", false, "Typed **body**", `value="3"`,
		`<option value="hours" selected>`, `name="published" checked`)

	res = admin.post(course+"contents/new", url.Values{"kind": {"quiz"}, "title": {"Typed quiz"}, "required_score": {"50"},
		"questions[0].text": {"Which one?"}, "questions[0].answers[0].text": {"This"}, "questions[0].answers[1].text": {"That"},
		"waiting_period": {"0"}, "waiting_unit": {"days"}, "action": {"save"}})
	refusedForm(t, "add quiz, no correct answer", res, 422, "Mark at least one answer as correct.", false,
		`value="Typed quiz"`, `value="50"`, `value="Which one?"`, `value="This"`, `value="That"`)

	res = admin.post(orgPage+"members/", url.Values{"email": {"not an address"}, "role": {"admin"}})
	refusedForm(t, "add member, bad address", res, 422, "Enter a valid email address.", false, `value="not an address"`, `<option value="admin" selected>`)

	res = f.clients[owner].post(orgPage+"transfer", url.Values{"user_id": {"999999"}})
	refusedForm(t, "transfer to a non-member", res, 422, "Choose a member of the organization to transfer it to.", false)

	res = admin.post(orgPage+"blocked-emails/", url.Values{"email": {"nobody"}})
	refusedForm(t, "block a bad address", res, 422, "Enter a valid email address.", false, `value="nobody"`)

	res = admin.post(orgPage+"delete", url.Values{"confirm_name": {"Wrong name"}})
	refusedForm(t, "delete with a wrong name", res, 422,
		fmt.Sprintf("Type the organization's name, %q, to confirm the deletion.", o.name), false, `value="Wrong name"`)

	res = f.clients[viewer].post("/accounts/password_change/", url.Values{"old_password": {authzPassword},
		"new_password": {"a long new password"}, "password_confirm": {"another one"}})
	refusedForm(t, "change password, mismatch", res, 422, "The two passwords do not match.", false)

	res = app.client().post("/accounts/password_reset/", url.Values{"email": {"no at sign"}})
	refusedForm(t, "reset password, bad address", res, 422, "Enter a valid email address.", false, `value="no at sign"`)

	res = app.client().post("/invitations/"+o.token+"/", url.Values{"name": {"New Person"},
		"password": {"a long new password"}, "password_confirm": {"another one"}})
	refusedForm(t, "accept invitation, mismatch", res, 422, "The two passwords do not match.", false, `value="New Person"`)

	if res := app.client().post("/accounts/password_reset/", url.Values{"email": {adminEmail}}); res.status != 303 {
		t.Fatalf("ask for a reset link: %d", res.status)
	}
	link := app.linkIn(app.mails(adminEmail, mail.KindPasswordReset)[0].Text, "/accounts/reset/")
	res = app.client().post(link, url.Values{"new_password": {"short"}, "password_confirm": {"short"}})
	refusedForm(t, "set a new password, too short", res, 422, "Password is too short: use at least 8 characters.", false)

	// A message about no field of the form is at the top, once.
	res = admin.post(orgPage+"members/", url.Values{"email": {f.users[editor].Email}, "role": {"viewer"}})
	refusedForm(t, "add a member twice", res, 409,
		fmt.Sprintf("%s is already a member of %s, as editor.", f.users[editor].Email, o.name), true, `value="`+f.users[editor].Email+`"`)
}

// multipartForm is a multipart body with its parts in the given order,
// as a browser sends them: fields in the order of the page, files where
// their inputs are.
func multipartForm(parts ...[2]string) (body []byte, contentType string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		if p[0] == "logo" {
			w, _ := mw.CreateFormFile("logo", "photo.png")
			w.Write([]byte(p[1]))
			continue
		}
		mw.WriteField(p[0], p[1])
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// A logo over 2 MiB is refused beside the logo field, and the form comes
// back with everything else that was typed, the fields after the file
// too; nothing is saved.
func TestTooLargeLogoKeepsTheForm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		if res := admin.postMultipart(organizationsPath, map[string]string{"name": "Acme Academy", "description": "Old words"}); res.status != 303 {
			t.Fatalf("create: %d\n%s", res.status, res.body)
		}
		before, err := db.Read().AllOrganizations(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		big := string(append(testPNG(2, 2), make([]byte, 3<<20)...))
		post := func(path string, parts ...[2]string) response {
			body, contentType := multipartForm(parts...)
			req, _ := http.NewRequest(http.MethodPost, admin.base+path, bytes.NewReader(body))
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("Origin", admin.base)
			return admin.do(req)
		}
		const msg = "The logo is larger than 2 MiB."

		res := post(organizationsPath, [2]string{"name", "Beta School"}, [2]string{"description", "We teach\nmany things."},
			[2]string{"owner_email", "boss@example.com"}, [2]string{"logo", big})
		refusedForm(t, "create with a 3 MiB logo", res, http.StatusRequestEntityTooLarge, msg, false,
			`value="Beta School"`, ">We teach\nmany things.</textarea>", `value="boss@example.com"`)
		if !strings.Contains(res.body, `aria-describedby="logo-help logo-error" aria-invalid="true"`) {
			t.Errorf("create: the logo field is not described by its message:\n%s", res.body)
		}

		edit := organizationPath(before[len(before)-1].ID) + "edit"
		// A field after the file is read too.
		res = post(edit, [2]string{"name", "Acme University"}, [2]string{"slug", "acme-u"}, [2]string{"logo", big},
			[2]string{"description", "New words"})
		refusedForm(t, "edit with a 3 MiB logo", res, http.StatusRequestEntityTooLarge, msg, false,
			`value="Acme University"`, "New words", `value="acme-u"`)

		after, err := db.Read().AllOrganizations(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("refused forms changed the organizations:\n%v\nto\n%v", before, after)
		}
	})
}

// A message about a field the form does not show goes to the top, so
// that no message is lost; those about its fields stay beside them.
func TestErrorsForSortsMessages(t *testing.T) {
	p := &problem.Error{Kind: problem.Invalid, Message: "Not saved: correct the marked fields.",
		Fields: map[string]string{"name": "Enter a name.", "kind": "Choose lesson or quiz."}}
	e := errorsFor(p, fieldSet{"name": true})
	if e.Error != "Choose lesson or quiz." || len(e.Fields) != 1 || e.Fields["name"] != "Enter a name." {
		t.Errorf("errorsFor = %+v", e)
	}
	if e := errorsFor(p, fieldSet{"name": true, "kind": true}); e.Error != "" || len(e.Fields) != 2 {
		t.Errorf("with every field shown, errorsFor = %+v", e)
	}
	if e := errorsFor(problem.New(problem.Conflict, "c", "Taken."), fieldSet{"name": true}); e.Error != "Taken." || e.Fields != nil {
		t.Errorf("without fields, errorsFor = %+v", e)
	}
	if got := e.FieldAttrs("name", "name-help"); got != ` aria-describedby="name-help name-error" aria-invalid="true"` {
		t.Errorf("FieldAttrs = %q", got)
	}
	if got := e.FieldAttrs("kind", "kind-help"); got != ` aria-describedby="kind-help"` {
		t.Errorf("FieldAttrs of a field without message = %q", got)
	}
	if got := e.FieldAttrs("kind"); got != "" {
		t.Errorf("FieldAttrs of a field without message or help = %q", got)
	}
}
