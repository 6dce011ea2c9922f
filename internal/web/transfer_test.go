package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/transfer"
)

// exportSource fills organization 1 of app with a bit of everything an
// export holds: a logo, a member besides the owner, a course completed
// with its certificate (claimed), a course with a quiz passed by one
// learner and failed by another (whose next attempt is scheduled), and a
// blocked address. It renames the organization to name.
func exportSource(t *testing.T, app *testApp, admin *client, name string) {
	t.Helper()
	ctx := context.Background()
	zoe, claim := completeCourse(t, app, admin, "zoe@example.com")
	if res := app.client().post(claim, url.Values{"name": {"Zoë Ünal"}}); res.status != http.StatusSeeOther {
		t.Fatalf("claim: %d\n%s", res.status, res.body)
	}
	completeAgain(t, app, admin, zoe.CourseID, "bob@example.com")

	sc := school{app: app, orgID: 1, slug: "quizzes"}
	err := app.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		sc.courseID, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: 1, Title: "Quizzes", TitleKey: "quizzes", TitleSkeleton: names.Key("Quizzes"),
			Slug: sc.slug, Description: "Answer by email.", Enabled: true, Public: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	quiz := sc.addQuiz(t)
	even, compiled := quiz.Questions[0], quiz.Questions[1]
	pick := func(q store.QuizQuestion, i int) store.QuizAnswer {
		return store.QuizAnswer{ID: q.Answers[i].ID, Text: fmt.Sprint(q.ID)}
	}
	for email, chosen := range map[string][]store.QuizAnswer{
		"ada@example.com": {pick(even, 1), pick(even, 2), pick(compiled, 0)},
		"bob@example.com": {pick(even, 0), pick(compiled, 1)},
	} {
		res, body := admin.api(http.MethodPost, "/api/v1/organizations/1/enrollments", map[string]any{"email": email, "course_id": sc.courseID})
		if res.status != http.StatusCreated {
			t.Fatalf("enroll %s: %d %v", email, res.status, body)
		}
		storetest.Eventually(t, 10*time.Second, "the quiz email", func() bool { return len(app.mails(email, mail.KindQuiz)) > 0 })
		path := app.linkIn(app.mails(email, mail.KindQuiz)[0].Text, "/email-learning/public/quizzes/")
		if res := app.client().post(path, answers(chosen...)); res.status != http.StatusSeeOther {
			t.Fatalf("answer %s: %d", email, res.status)
		}
	}
	sc.member("viewer@example.com", access.Viewer)
	if res, _ := admin.api(http.MethodPut, "/api/v1/organizations/1/logo", testPNG(40, 30)); res.status != http.StatusOK {
		t.Fatalf("logo: %d %s", res.status, res.body)
	}
	if res, _ := admin.api(http.MethodPost, "/api/v1/organizations/1/blocked-emails", map[string]string{"email": "spam@example.com"}); res.status != http.StatusCreated {
		t.Fatalf("block: %d %s", res.status, res.body)
	}
	if res, _ := admin.api(http.MethodPatch, "/api/v1/organizations/1", map[string]string{"name": name, "sender_name": "Lovelace", "postal_address": "1 Analytical Street"}); res.status != http.StatusOK {
		t.Fatalf("rename: %d %s", res.status, res.body)
	}
}

// export downloads organization id's export as c.
func export(t *testing.T, c *client, id int64) []byte {
	t.Helper()
	res := c.get(fmt.Sprintf("/api/v1/organizations/%d/export", id))
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %s\n%s", res.status, res.header.Get("Content-Type"), excerpt(res.body, 300))
	}
	return []byte(res.body)
}

// apiSnapshot reads what the API says of an organization: the
// organization, its members, courses with their contents and quiz
// attempts, learners, enrollments with their details, certificates,
// blocked addresses and audit log, with ids and the install's address
// taken out.
func apiSnapshot(t *testing.T, c *client, base string, id int64) map[string]any {
	t.Helper()
	get := func(path string) any {
		t.Helper()
		res, _ := c.api(http.MethodGet, fmt.Sprintf("/api/v1/organizations/%d%s", id, path), nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.status, res.body)
		}
		var v any
		if err := json.Unmarshal([]byte(res.body), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	items := func(v any) []any { return v.(map[string]any)["items"].([]any) }
	snap := map[string]any{}
	for _, path := range []string{"", "/members", "/courses", "/learners", "/enrollments", "/certificates", "/blocked-emails", "/audit-log"} {
		snap[path] = get(path)
	}
	for _, course := range items(snap["/courses"]) {
		cid := int64(course.(map[string]any)["id"].(float64))
		snap[fmt.Sprintf("course %s contents", course.(map[string]any)["slug"])] = get(fmt.Sprintf("/courses/%d/contents", cid))
		snap[fmt.Sprintf("course %s quiz attempts", course.(map[string]any)["slug"])] = get(fmt.Sprintf("/courses/%d/quiz-attempts", cid))
	}
	for i, e := range items(snap["/enrollments"]) {
		snap[fmt.Sprintf("enrollment %d", i)] = get(fmt.Sprintf("/enrollments/%d", int64(e.(map[string]any)["id"].(float64))))
	}
	for i, l := range items(snap["/learners"]) {
		snap[fmt.Sprintf("learner %d", i)] = get(fmt.Sprintf("/learners/%d", int64(l.(map[string]any)["id"].(float64))))
	}
	return normalizeIDs(snap, base).(map[string]any)
}

var digits = regexp.MustCompile(`\d+`)

// normalizeIDs replaces every id (fields named id or ending in _id) by
// "id", and in addresses the install's base and every number.
func normalizeIDs(v any, base string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch {
			case (k == "id" || strings.HasSuffix(k, "_id")) && x != nil:
				v[k] = "id"
			case strings.HasSuffix(k, "url") && x != nil:
				v[k] = digits.ReplaceAllString(strings.TrimPrefix(x.(string), base), "N")
			default:
				v[k] = normalizeIDs(x, base)
			}
		}
	case []any:
		for i := range v {
			v[i] = normalizeIDs(v[i], base)
		}
	}
	return v
}

// TestExportImportIntoAFreshInstall: an organization exported and imported
// into another install answers the same through the API and shows the
// same pages, its members can use it, and delivery goes on.
func TestExportImportIntoAFreshInstall(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		exportSource(t, app, admin, "Lovelace Academy")
		app.settle()
		before := apiSnapshot(t, admin, app.srv.URL, 1)
		// The fresh install has an organization with the slug.
		before[""].(map[string]any)["slug"] = "my-organization-2"
		zipped := export(t, admin, 1)

		// The file: a manifest first read, one file per kind, no secret.
		zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
		if err != nil {
			t.Fatal(err)
		}
		var all strings.Builder
		for _, f := range zr.File {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			all.Write(b)
		}
		for _, secret := range []string{"$argon2id$", "password_hash", "token_hash", "link_key", "secret_hash"} {
			if strings.Contains(all.String(), secret) {
				t.Errorf("the export holds %q", secret)
			}
		}
		if !strings.Contains(all.String(), `"format": "mailschool-organization"`) || !strings.Contains(all.String(), `"enrollments": 4`) {
			t.Errorf("the manifest is not as expected:\n%s", excerpt(all.String(), 2000))
		}

		// Another install, with its own database.
		fresh := newTestApp(t, storetest.New(t, db.Dialect()))
		freshAdmin := fresh.loggedIn(adminEmail, adminPassword)
		res, created := freshAdmin.api(http.MethodPost, "/api/v1/organizations/import", zipped)
		if res.status != http.StatusCreated {
			t.Fatalf("import: %d %s", res.status, res.body)
		}
		id := int64(created["id"].(float64))
		if created["name"] != "Lovelace Academy" || created["slug"] != "my-organization-2" {
			t.Errorf("imported as %v (%v)", created["name"], created["slug"])
		}
		after := apiSnapshot(t, freshAdmin, fresh.srv.URL, id)

		// The import's own audit entry comes last, after the exported ones.
		log := after["/audit-log"].(map[string]any)["items"].([]any)
		if first := log[0].(map[string]any); first["kind"] != "organization.imported" || first["actor_email"] != adminEmail {
			t.Errorf("the newest audit entry is %v", first)
		}
		after["/audit-log"].(map[string]any)["items"] = log[1:]
		for key, want := range before {
			got, _ := json.MarshalIndent(after[key], "", " ")
			wantJSON, _ := json.MarshalIndent(want, "", " ")
			if !bytes.Equal(got, wantJSON) {
				t.Errorf("%s differs after the import:\n%s", key, lineDiff(string(wantJSON), string(got)))
			}
		}

		// Pages show the same.
		for _, page := range []string{"", "learners/", "certificates/", "audit/"} {
			src := admin.get(fmt.Sprintf("%s%d/%s", organizationsPath, 1, page))
			dst := freshAdmin.get(fmt.Sprintf("%s%d/%s", organizationsPath, id, page))
			if src.status != http.StatusOK || dst.status != http.StatusOK {
				t.Fatalf("page %q: %d and %d", page, src.status, dst.status)
			}
			for _, text := range []string{"Lovelace Academy", "Go basics", "zoe@example.com", "Zoë Ünal", "Organization imported"} {
				if strings.Contains(src.body, text) && !strings.Contains(dst.body, text) {
					t.Errorf("page %q: %q is missing after the import", page, text)
				}
			}
		}
		if page := freshAdmin.get(fmt.Sprintf("%s%d/audit/", organizationsPath, id)); !strings.Contains(page.body, "Organization imported") {
			t.Error("the audit page does not show the import")
		}
		// The certificates verify at their numbers in the new install (a
		// claimed one; an unclaimed one has no page yet).
		claimed := 0
		for _, c := range after["/certificates"].(map[string]any)["items"].([]any) {
			path := "/email-learning/public/certificates/" + c.(map[string]any)["number"].(string) + "/"
			src, dst := app.client().get(path), fresh.client().get(path)
			if src.status != dst.status || dst.status == http.StatusOK && !strings.Contains(dst.body, "Zoë Ünal") {
				t.Errorf("the certificate's page %s: %d before, %d after\n%s", path, src.status, dst.status, excerpt(dst.body, 500))
			}
			if dst.status == http.StatusOK {
				claimed++
				// Its QR code shows its address in the new install.
				want, err := qrcode.Encode(fresh.srv.URL+path, qrcode.Medium, 512)
				if qr := fresh.client().get(path + "qr.png"); err != nil || qr.body != string(want) {
					t.Errorf("the QR code of %s is not of its address here (%v)", path, err)
				}
			}
		}

		if claimed != 1 {
			t.Errorf("%d certificates have a page, want 1", claimed)
		}

		// The member without an account here has one without a password.
		u, err := fresh.db.Read().UserByEmail(ctx, "viewer@example.com")
		if err != nil || u.PasswordHash != "" {
			t.Errorf("viewer: %+v, %v", u, err)
		}

		// Bob's second attempt at the quiz is scheduled here.
		var scheduled int
		for key, v := range after {
			if strings.HasPrefix(key, "enrollment ") {
				for _, d := range v.(map[string]any)["deliveries"].([]any) {
					if d.(map[string]any)["status"] == "scheduled" {
						scheduled++
					}
				}
			}
		}
		if scheduled == 0 {
			t.Error("no delivery is scheduled after the import")
		}
		// Its time come, it goes out from here, with a link that works here.
		var bobsQuiz int64
		res, list := freshAdmin.api(http.MethodGet, fmt.Sprintf("/api/v1/organizations/%d/enrollments", id), nil)
		for _, e := range list["items"].([]any) {
			if e := e.(map[string]any); e["learner_email"] == "bob@example.com" && e["course_title"] == "Quizzes" {
				bobsQuiz = int64(e["id"].(float64))
			}
		}
		next, err := fresh.db.Read().NextScheduledDelivery(ctx, id, bobsQuiz)
		if err != nil {
			t.Fatalf("bob's next delivery (%d): %v", res.status, err)
		}
		if err := fresh.engine.Deliver(ctx, next.ID); err != nil {
			t.Fatal(err)
		}
		sent := fresh.mails("bob@example.com", mail.KindQuiz)
		if len(sent) != 1 {
			t.Fatalf("%d quiz emails to bob from the new install", len(sent))
		}
		if res := fresh.client().get(fresh.linkIn(sent[0].Text, "/email-learning/public/quizzes/")); res.status != http.StatusOK || !strings.Contains(res.body, "attempt 2") && !strings.Contains(res.body, "Is Go compiled?") {
			t.Errorf("the quiz link from the new install: %d\n%s", res.status, excerpt(res.body, 500))
		}

		// The same file again: the name is taken, and nothing is created.
		orgsBefore := countOrganizations(t, fresh.db)
		res, body := freshAdmin.api(http.MethodPost, "/api/v1/organizations/import", zipped)
		if res.status != http.StatusConflict || errorCode(body) != "name_taken" {
			t.Errorf("import again: %d %s", res.status, res.body)
		}
		if n := countOrganizations(t, fresh.db); n != orgsBefore {
			t.Errorf("%d organizations after a refused import, %d before", n, orgsBefore)
		}
		requireNoImportTable(t, fresh.db)

		// Into the install it came from, under another name for the
		// original: the numbers are taken, so the certificates get new ones,
		// and the old numbers still verify the originals.
		if res, _ := admin.api(http.MethodPatch, "/api/v1/organizations/1", map[string]string{"name": "Old Lovelace"}); res.status != http.StatusOK {
			t.Fatalf("rename: %d", res.status)
		}
		res, copied := admin.api(http.MethodPost, "/api/v1/organizations/import", zipped)
		if res.status != http.StatusCreated {
			t.Fatalf("import into the same install: %d %s", res.status, res.body)
		}
		_, originals := admin.api(http.MethodGet, "/api/v1/organizations/1/certificates", nil)
		_, copies := admin.api(http.MethodGet, fmt.Sprintf("/api/v1/organizations/%d/certificates", int64(copied["id"].(float64))), nil)
		numbers := map[string]bool{}
		for _, list := range []map[string]any{originals, copies} {
			for _, c := range list["items"].([]any) {
				numbers[c.(map[string]any)["number"].(string)] = true
			}
		}
		if len(numbers) != 4 {
			t.Errorf("%d distinct certificate numbers in the original and its copy, want 4", len(numbers))
		}
		for _, c := range copies["items"].([]any) {
			if c := c.(map[string]any); c["claimed_at"] != nil {
				if page := app.client().get("/email-learning/public/certificates/" + c["number"].(string) + "/"); page.status != http.StatusOK || !strings.Contains(page.body, "Lovelace Academy") {
					t.Errorf("the copy's certificate page: %d", page.status)
				}
			}
		}
	})
}

// lineDiff lists the lines of two texts that differ, by line number.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&out, "%4d - %s\n     + %s\n", i+1, x, y)
		}
	}
	return out.String()
}

func countOrganizations(t *testing.T, db *store.DB) int {
	t.Helper()
	_, n, err := db.Read().ListOrganizations(context.Background(), store.OrganizationFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// requireNoImportTable checks that no import left its table of ids on
// the write connection.
func requireNoImportTable(t *testing.T, db *store.DB) {
	t.Helper()
	if db.Dialect() != store.SQLite {
		return
	}
	err := db.InTx(context.Background(), func(q *store.Queries) error {
		_, err := q.ImportedID(context.Background(), "courses", 1)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("the import's table is still there: %v", err)
	}
}

// TestExportRefusals: only the owner and platform admins export; another
// organization's id is not found.
func TestExportRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		sc := school{app: app, orgID: 1}
		for _, role := range []access.Role{access.Viewer, access.Editor, access.Admin} {
			c := sc.member("member-"+string(role)+"@example.com", role)
			if res := c.get("/api/v1/organizations/1/export"); res.status != http.StatusForbidden {
				t.Errorf("%s: %d", role, res.status)
			}
			if res := c.get(organizationsPath + "1/export"); res.status != http.StatusForbidden {
				t.Errorf("%s, the page: %d", role, res.status)
			}
		}
		other := staffIn(t, app, "other@example.com", nil)
		if res := other.get("/api/v1/organizations/1/export"); res.status != http.StatusNotFound {
			t.Errorf("not a member: %d", res.status)
		}
		// The delete page links to the download, which works.
		admin := app.loggedIn(adminEmail, adminPassword)
		page := admin.get(organizationsPath + "1/delete")
		if !strings.Contains(page.body, `href="/email-learning/platform/organizations/1/export"`) || !strings.Contains(page.body, "Download a copy first") {
			t.Errorf("the delete page has no download link:\n%s", excerpt(page.body, 2000))
		}
		res := admin.get(organizationsPath + "1/export")
		if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Disposition"), `attachment; filename="my-organization-`) {
			t.Errorf("download: %d %v", res.status, res.header)
		}
		// HEAD answers the download's headers, and is refused like GET.
		for _, c := range []struct {
			client *http.Client
			want   int
		}{{admin.http, http.StatusOK}, {other.http, http.StatusNotFound}} {
			head, err := c.client.Head(app.srv.URL + "/api/v1/organizations/1/export")
			if err != nil {
				t.Fatal(err)
			}
			head.Body.Close()
			if head.StatusCode != c.want || (c.want == http.StatusOK && head.Header.Get("Content-Type") != "application/zip") {
				t.Errorf("HEAD: %d %v, want %d", head.StatusCode, head.Header, c.want)
			}
		}
	})
}

// rezip rewrites an export, changing the files that change returns new
// contents for (nil drops the file).
func rezip(t *testing.T, zipped []byte, change func(name string, data []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		if data = change(f.Name, data); data == nil {
			continue
		}
		w, _ := zw.Create(f.Name)
		w.Write(data)
	}
	zw.Close()
	return buf.Bytes()
}

// TestImportRefusals: a file that is no export, an export of another
// format version, one too big, one that breaks half-way, one of a name
// taken: each is a clear 4xx and leaves nothing behind, no organization
// and no account.
func TestImportRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db, func(o *Options) { o.ImportMaxBytes = 256 << 10 })
		admin := app.loggedIn(adminEmail, adminPassword)
		sc := school{app: app, orgID: 1}
		sc.member("viewer@example.com", access.Viewer)
		if res, _ := admin.api(http.MethodPatch, "/api/v1/organizations/1", map[string]string{"name": "Source"}); res.status != http.StatusOK {
			t.Fatalf("rename: %d", res.status)
		}
		res, course := admin.api(http.MethodPost, "/api/v1/organizations/1/courses", map[string]any{"title": "Go basics"})
		if res.status != http.StatusCreated {
			t.Fatalf("create course: %d %s", res.status, res.body)
		}
		if res, _ := admin.api(http.MethodPost, fmt.Sprintf("/api/v1/organizations/1/courses/%v/contents", course["id"]),
			map[string]any{"kind": "lesson", "title": "Welcome", "body": "Hello."}); res.status != http.StatusCreated {
			t.Fatalf("add lesson: %d %s", res.status, res.body)
		}
		zipped := export(t, admin, 1)
		// The source is renamed, so that its name is free; its member's
		// address is changed, so that an import would create an account.
		if res, _ := admin.api(http.MethodPatch, "/api/v1/organizations/1", map[string]string{"name": "Renamed"}); res.status != http.StatusOK {
			t.Fatalf("rename: %d", res.status)
		}
		zipped = rezip(t, zipped, func(name string, data []byte) []byte {
			return append([]byte{}, bytes.ReplaceAll(data, []byte("viewer@example.com"), []byte("newcomer@example.com"))...)
		})
		users := func() int {
			n := 0
			for _, email := range []string{"newcomer@example.com"} {
				if _, err := db.Read().UserByEmail(context.Background(), email); err == nil {
					n++
				}
			}
			return n
		}
		big := make([]byte, 300<<10)
		copy(big, zipped)
		for _, tc := range []struct {
			name   string
			body   []byte
			status int
			code   string
		}{
			{"not a zip", []byte("PK but not really"), http.StatusBadRequest, "invalid_export"},
			{"truncated", zipped[:len(zipped)/2], http.StatusBadRequest, "invalid_export"},
			{"no manifest", rezip(t, zipped, func(name string, data []byte) []byte {
				if name == "manifest.json" {
					return nil
				}
				return data
			}), http.StatusBadRequest, "invalid_export"},
			{"another version", rezip(t, zipped, func(name string, data []byte) []byte {
				if name == "manifest.json" {
					return bytes.Replace(data, []byte(`"format_version": 1`), []byte(`"format_version": 99`), 1)
				}
				return data
			}), http.StatusUnprocessableEntity, "unsupported_export_version"},
			{"too big", big, http.StatusRequestEntityTooLarge, "body_too_large"},
			// The last kind refers to a row the file does not hold: the
			// organization, its member's account, everything before it is
			// undone.
			{"broken half-way", rezip(t, zipped, func(name string, data []byte) []byte {
				switch name {
				case "audit.jsonl":
					return append(data, []byte(`{"id":999999,"kind":"x","actor_id":null,"actor_email":"","target":"","target_user_id":null,"old_value":"","new_value":"","created_at":"nonsense"}`+"\n")...)
				}
				return data
			}), http.StatusBadRequest, "invalid_export"},
			{"a file cut short", rezip(t, zipped, func(name string, data []byte) []byte {
				if name == "members.jsonl" {
					return []byte{}
				}
				return data
			}), http.StatusBadRequest, "invalid_export"},
			// A value no column of this install takes: the database's
			// refusal is the file's fault, not the server's.
			{"an unknown kind of content", rezip(t, zipped, func(name string, data []byte) []byte {
				if name == "contents.jsonl" {
					return bytes.Replace(data, []byte(`"kind":"lesson"`), []byte(`"kind":"video"`), 1)
				}
				return data
			}), http.StatusBadRequest, "invalid_export"},
			{"a dangling reference", rezip(t, zipped, func(name string, data []byte) []byte {
				if name == "enrollments.jsonl" {
					return []byte(`{"id":1,"course_id":5,"learner_id":7,"status":"active","requested_ip":"","confirmed_ip":"","confirm_sent_at":null,` +
						`"activated_at":null,"ended_at":null,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}` + "\n")
				}
				return data
			}), http.StatusBadRequest, "invalid_export"},
		} {
			orgs, accounts := countOrganizations(t, db), users()
			res, body := admin.api(http.MethodPost, "/api/v1/organizations/import", tc.body)
			if res.status != tc.status || errorCode(body) != tc.code {
				t.Errorf("%s: %d %s, want %d %s", tc.name, res.status, res.body, tc.status, tc.code)
			}
			if countOrganizations(t, db) != orgs || users() != accounts {
				t.Errorf("%s: the refused import left an organization or an account", tc.name)
			}
		}
		requireNoImportTable(t, db)

		// Not JSON, and not for anyone but platform admins.
		req, _ := http.NewRequest(http.MethodPost, admin.base+"/api/v1/organizations/import", bytes.NewReader(zipped))
		req.Header.Set("Content-Type", "application/json")
		if res := admin.do(req); res.status != http.StatusUnsupportedMediaType {
			t.Errorf("as JSON: %d", res.status)
		}
		owner := staffIn(t, app, "owner@example.com", nil)
		if res, _ := owner.api(http.MethodPost, "/api/v1/organizations/import", zipped); res.status != http.StatusForbidden {
			t.Errorf("not a platform admin: %d", res.status)
		}

		// The file itself imports, and its new member gets an account.
		if res, _ := admin.api(http.MethodPost, "/api/v1/organizations/import", zipped); res.status != http.StatusCreated {
			t.Errorf("import: %d %s", res.status, res.body)
		}
		if users() != 1 {
			t.Error("the new member has no account")
		}
	})
}

// exportOf is the body of an import in the authorization test: the export
// of a new organization with a member, deleted once exported so that its
// name is free.
func exportOf(o *authzOrg) []byte {
	f := o.fixture
	f.t.Helper()
	ctx := context.Background()
	f.n++
	name := fmt.Sprintf("Exported %d", f.n)
	var id int64
	err := f.app.db.InTx(ctx, func(q *store.Queries) error {
		org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: name, NameKey: strings.ToLower(name), NameSkeleton: names.Key(name), Slug: fmt.Sprintf("exported-%d", f.n)})
		if err != nil {
			return err
		}
		id = org.ID
		return q.AddMembership(ctx, id, f.users[owner].ID, string(access.Owner))
	})
	if err != nil {
		f.t.Fatal(err)
	}
	var buf bytes.Buffer
	service := transfer.NewService(f.app.db, "test", nil)
	if err := service.Export(ctx, f.users[platformAdmin], id, func(store.Organization) io.Writer { return &buf }); err != nil {
		f.t.Fatal(err)
	}
	if err := f.app.db.InTx(ctx, func(q *store.Queries) error { return q.DeleteOrganization(ctx, id) }); err != nil {
		f.t.Fatal(err)
	}
	return buf.Bytes()
}
