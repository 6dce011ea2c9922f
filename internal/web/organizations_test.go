package web

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// upload is a file in a multipart form.
type upload struct {
	field, filename string
	data            []byte
}

// postMultipart sends a multipart form the way a browser does.
func (c *client) postMultipart(path string, fields map[string]string, files ...upload) response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for _, f := range files {
		w, _ := mw.CreateFormFile(f.field, f.filename)
		w.Write(f.data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.base)
	return c.do(req)
}

// api sends a JSON API request; body may be nil, a []byte or a value to
// encode.
func (c *client) api(method, path string, body any) (response, map[string]any) {
	c.t.Helper()
	var r io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		r, contentType = bytes.NewReader(b), "application/octet-stream"
	case csvBody:
		r, contentType = strings.NewReader(string(b)), "text/csv"
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if r != nil {
		req.Header.Set("Content-Type", contentType)
	}
	res := c.do(req)
	var decoded map[string]any
	json.Unmarshal([]byte(res.body), &decoded)
	return res, decoded
}

func testPNG(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

func testJPEG(w, h int) []byte {
	var buf bytes.Buffer
	jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h)), nil)
	return buf.Bytes()
}

// manyScans is a baseline JPEG whose one scan is repeated 40 times: the
// decoder would decode every block 40 times over.
func manyScans() []byte {
	b := testJPEG(64, 64)
	scan := b[bytes.Index(b, []byte{0xff, 0xda}) : len(b)-2] // up to the end-of-image marker
	return append(bytes.Join([][]byte{b[:len(b)-2], bytes.Repeat(scan, 39)}, nil), 0xff, 0xd9)
}

// pngBomb is a tiny PNG whose header claims 20000x20000 pixels.
func pngBomb() []byte {
	b := testPNG(1, 1)
	binary.BigEndian.PutUint32(b[16:], 20000)
	binary.BigEndian.PutUint32(b[20:], 20000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func orgCount(t *testing.T, db *store.DB) int {
	t.Helper()
	orgs, err := db.Read().AllOrganizations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(orgs)
}

func TestOrganizationFormsRefuseBadInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)
		const create = "/email-learning/platform/organizations/"
		res := c.postMultipart(create, map[string]string{"name": "Acme", "description": "first"},
			upload{"logo", "logo.gif", testPNG(40, 20)}) // a PNG named .gif is judged by its bytes
		if res.status != 303 {
			t.Fatalf("create: %d\n%s", res.status, res.body)
		}
		before := orgCount(t, db)
		tests := []struct {
			name   string
			fields map[string]string
			file   *upload
			status int
			want   string
		}{
			{"duplicate name", map[string]string{"name": "ACME"}, nil, 409, `An organization named &#34;ACME&#34; already exists.`},
			{"empty name", map[string]string{"name": ""}, nil, 422, "Enter a name."},
			{"whitespace name", map[string]string{"name": "   "}, nil, 422, "Enter a name."},
			{"10 KB name", map[string]string{"name": strings.Repeat("x", 10240)}, nil, 422, "at most 200 characters"},
			{"HTML renamed .png", map[string]string{"name": "B"}, &upload{"logo", "logo.png", []byte("<html><script>alert(1)</script></html>")}, 415, "must be a JPG, PNG or GIF"},
			{"truncated JPEG", map[string]string{"name": "B"}, &upload{"logo", "logo.jpg", testJPEG(64, 64)[:200]}, 422, "damaged or incomplete"},
			{"PNG bomb", map[string]string{"name": "B"}, &upload{"logo", "bomb.png", pngBomb()}, 422, "4096x4096"},
			{"JPEG of many scans", map[string]string{"name": "B"}, &upload{"logo", "scans.jpg", manyScans()}, 422, "This JPEG has too many scans: 40"},
			{"3 MiB file", map[string]string{"name": "B"}, &upload{"logo", "big.png", append(testPNG(2, 2), make([]byte, 3<<20)...)}, 413, "larger than 2 MiB"},
		}
		for _, tt := range tests {
			var files []upload
			if tt.file != nil {
				files = append(files, *tt.file)
			}
			res := c.postMultipart(create, tt.fields, files...)
			if res.status != tt.status || !strings.Contains(res.body, tt.want) {
				t.Errorf("%s: %d, want %d with %q\n%.2000s", tt.name, res.status, tt.status, tt.want, res.body)
			}
		}
		if n := orgCount(t, db); n != before {
			t.Errorf("refused forms created %d organizations", n-before)
		}
		// HTML in name and description is shown as text, line breaks kept.
		res = c.postMultipart(create, map[string]string{"name": "<script>alert('n')</script>", "description": "<img src=x onerror=alert(1)>\nline two"})
		if res.status != 303 {
			t.Fatalf("create with HTML: %d", res.status)
		}
		page := c.get(res.header.Get("Location"))
		if strings.Contains(page.body, "<script>alert") || strings.Contains(page.body, "<img src=x") ||
			!strings.Contains(page.body, "&lt;img src=x onerror=alert(1)&gt;\nline two") {
			t.Errorf("HTML in name or description is not escaped:\n%s", page.body)
		}
	})
}

func TestOrganizationListSearchAndPages(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	c := app.loggedIn(adminEmail, adminPassword)
	for i := range 30 {
		if res := c.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": fmt.Sprintf("School %02d", i)}); res.status != 303 {
			t.Fatalf("create %d: %d", i, res.status)
		}
	}
	// The switcher lists the admin's organizations too: look at the table.
	table := func(body string) string {
		start := strings.Index(body, "<table")
		end := strings.Index(body[max(start, 0):], "</nav>")
		if start < 0 || end < 0 {
			return ""
		}
		return body[start : start+end]
	}
	first := table(c.get("/email-learning/platform/organizations/").body)
	if !strings.Contains(first, "Page 1 of 2 · 31 organizations") || !strings.Contains(first, "My Organization") ||
		!strings.Contains(first, "School 23") || strings.Contains(first, "School 24") {
		t.Errorf("first page:\n%s", first)
	}
	second := table(c.get("/email-learning/platform/organizations/?page=2").body)
	if !strings.Contains(second, "School 24") || !strings.Contains(second, "School 29") || strings.Contains(second, "School 23") {
		t.Errorf("second page:\n%s", second)
	}
	found := table(c.get("/email-learning/platform/organizations/?q=" + url.QueryEscape("school 1")).body)
	if !strings.Contains(found, "10 organizations") || strings.Contains(found, "School 20") || !strings.Contains(found, "School 19") {
		t.Errorf("search for 'school 1':\n%s", found)
	}
	if none := c.get("/email-learning/platform/organizations/?q=%25"); !strings.Contains(none.body, "No organization matches") {
		t.Errorf("a %% search matched everything")
	}
}

func TestOrganizationPagesForStaff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		admin := app.loggedIn(adminEmail, adminPassword)
		admin.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": "Acme"})
		createStaff(t, db, "staff@example.com", "staff password 1")
		staff := app.loggedIn("staff@example.com", "staff password 1")
		list := staff.get("/email-learning/platform/organizations/")
		if list.status != 200 || strings.Contains(list.body, "Acme") || strings.Contains(list.body, "Add Organization") {
			t.Errorf("a user without memberships sees others' organizations or the add button")
		}
		for _, path := range []string{"/email-learning/platform/organizations/new"} {
			if res := staff.get(path); res.status != 403 {
				t.Errorf("staff GET %s: %d, want 403", path, res.status)
			}
		}
		if res := staff.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": "Mine"}); res.status != 403 {
			t.Errorf("staff create: %d, want 403", res.status)
		}
		for _, path := range []string{"2/", "2/edit", "2/delete"} {
			if res := staff.get("/email-learning/platform/organizations/" + path); res.status != 404 {
				t.Errorf("staff GET %s of an organization they are not in: %d, want 404", path, res.status)
			}
		}
		if res := staff.post("/email-learning/platform/organizations/2/delete", url.Values{"confirm_name": {"Acme"}}); res.status != 404 {
			t.Errorf("staff delete: %d, want 404", res.status)
		}
		if res := staff.post("/email-learning/platform/organizations/switch", url.Values{"organization_id": {"2"}}); res.status != 404 {
			t.Errorf("staff switches to a foreign organization: %d, want 404", res.status)
		}
		if n := orgCount(t, db); n != 2 {
			t.Errorf("organizations after staff attempts: %d", n)
		}
	})
}

func TestOrganizationDeleteNeedsTheName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)
		c.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": "Acme"})
		detail := c.get("/email-learning/platform/organizations/2/")
		if !regexp.MustCompile(`<td>` + regexp.QuoteMeta(adminEmail) + ` <span class="muted">\(you\)</span></td>\s*<td></td>\s*<td class="role">owner</td>`).MatchString(detail.body) {
			t.Errorf("the detail page does not list the owner:\n%s", detail.body)
		}
		confirm := c.get("/email-learning/platform/organizations/2/delete")
		if !strings.Contains(confirm.body, "This cannot be undone") || !strings.Contains(confirm.body, "1 membership") {
			t.Errorf("confirmation page:\n%s", confirm.body)
		}
		for _, typed := range []string{"", "acme", "My Organization"} {
			res := c.post("/email-learning/platform/organizations/2/delete", url.Values{"confirm_name": {typed}})
			if res.status != 422 || !strings.Contains(res.body, "to confirm the deletion") {
				t.Errorf("delete confirmed with %q: %d", typed, res.status)
			}
		}
		if orgCount(t, db) != 2 {
			t.Fatal("a refused delete removed the organization")
		}
		res := c.post("/email-learning/platform/organizations/2/delete", url.Values{"confirm_name": {"Acme"}})
		if res.status != 303 || orgCount(t, db) != 1 {
			t.Fatalf("delete: %d", res.status)
		}
		if list := c.get("/email-learning/platform/organizations/"); !strings.Contains(list.body, "Organization &#34;Acme&#34; and everything it owned were deleted.") {
			t.Error("no deletion message")
		}
		// The last organization may go too; a platform admin can then add one.
		c.post("/email-learning/platform/organizations/1/delete", url.Values{"confirm_name": {"My Organization"}})
		if n := orgCount(t, db); n != 0 {
			t.Fatalf("%d organizations left", n)
		}
		if list := c.get("/email-learning/platform/organizations/"); !strings.Contains(list.body, "Add the first one") {
			t.Error("the empty list does not offer to add one")
		}
		if res := c.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": "Fresh start"}); res.status != 303 {
			t.Errorf("create after deleting all: %d", res.status)
		}
	})
}

func TestPublicPageAndLogo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)
		c.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": "Acme Academy", "description": "We teach."},
			upload{"logo", "l.png", testPNG(100, 50)})
		err := db.InTx(t.Context(), func(q *store.Queries) error {
			for i, c := range []store.NewCourse{
				{Title: "Go basics", Enabled: true, Public: true},
				{Title: "Hidden draft", Enabled: false, Public: true},
				{Title: "Private course", Enabled: true, Public: false},
			} {
				c.OrganizationID, c.TitleKey, c.TitleSkeleton, c.Slug = 2, strings.ToLower(c.Title), names.Key(c.Title), fmt.Sprintf("c%d", i)
				if _, err := q.CreateCourse(t.Context(), c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		anon := app.client()
		page := anon.get("/email-learning/public/organization/2/")
		if page.status != 200 || !strings.Contains(page.body, "Acme Academy") || !strings.Contains(page.body, "We teach.") ||
			!strings.Contains(page.body, "Go basics") || strings.Contains(page.body, "Hidden draft") || strings.Contains(page.body, "Private course") {
			t.Errorf("public page:\n%s", page.body)
		}
		empty := anon.get("/email-learning/public/organization/1/")
		if !strings.Contains(empty.body, "no courses open for enrollment") {
			t.Error("no empty state on a page without courses")
		}
		for _, path := range []string{"/email-learning/public/organization/999/", "/email-learning/public/organization/x/", "/email-learning/public/@nope/", "/email-learning/public/nope/"} {
			if res := anon.get(path); res.status != 404 || !strings.Contains(res.body, "Page not found") {
				t.Errorf("GET %s: %d, want the 404 page", path, res.status)
			}
		}
		if res := anon.get("/email-learning/public/@acme-academy/"); res.status != 302 || res.header.Get("Location") != "/email-learning/public/organization/2/" {
			t.Errorf("slug: %d %s", res.status, res.header.Get("Location"))
		}

		logo := anon.get("/email-learning/public/organization/2/logo")
		etag := logo.header.Get("ETag")
		if logo.status != 200 || logo.header.Get("Content-Type") != "image/png" || etag == "" ||
			logo.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(logo.header.Get("Cache-Control"), "max-age") {
			t.Fatalf("logo: %d %v", logo.status, logo.header)
		}
		if img, err := png.Decode(strings.NewReader(logo.body)); err != nil || img.Bounds().Dx() != 100 {
			t.Errorf("logo does not decode to the upload's size: %v", err)
		}
		req, _ := http.NewRequest(http.MethodGet, anon.base+"/email-learning/public/organization/2/logo", nil)
		req.Header.Set("If-None-Match", etag)
		if res := anon.do(req); res.status != http.StatusNotModified {
			t.Errorf("logo with If-None-Match: %d, want 304", res.status)
		}
		versioned := anon.get("/email-learning/public/organization/2/logo?v=" + strings.Trim(etag, `"`))
		if !strings.Contains(versioned.header.Get("Cache-Control"), "immutable") {
			t.Errorf("versioned logo Cache-Control = %q", versioned.header.Get("Cache-Control"))
		}
		thumb := anon.get("/email-learning/public/organization/2/logo/thumb")
		if img, err := png.Decode(strings.NewReader(thumb.body)); err != nil || img.Bounds().Dx() != 64 || img.Bounds().Dy() != 32 {
			t.Errorf("thumbnail: %v", err)
		}
		if res := anon.get("/email-learning/public/organization/1/logo"); res.status != 404 {
			t.Errorf("logo of an organization without one: %d", res.status)
		}
		// Saving the form without a file keeps the logo.
		c.postMultipart("/email-learning/platform/organizations/2/edit", map[string]string{"name": "Acme U", "description": "", "slug": "acme-academy"})
		if res := anon.get("/email-learning/public/organization/2/logo"); res.status != 200 || res.header.Get("ETag") != etag {
			t.Errorf("the logo changed when other fields were saved: %d", res.status)
		}
	})
}

func TestOrganizationSwitcher(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	c := app.loggedIn(adminEmail, adminPassword)
	c.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": "Acme"})
	res := c.post("/email-learning/platform/organizations/switch", url.Values{"organization_id": {"2"}, "next": {"/email-learning/platform/"}})
	if res.status != 303 || res.header.Get("Location") != "/email-learning/platform/organizations/2/" {
		t.Fatalf("switch: %d %s", res.status, res.header.Get("Location"))
	}
	c.get(res.header.Get("Location"))
	home := c.get("/email-learning/platform/")
	if !strings.Contains(home.body, `<option value="2" title="Acme" selected>Acme</option>`) || !strings.Contains(home.body, "(last visited)") {
		t.Errorf("the switcher does not remember the organization visited:\n%s", home.body)
	}
	if res := c.post("/email-learning/platform/organizations/switch", url.Values{"organization_id": {"2"}, "next": {"https://evil.example/"}}); res.header.Get("Location") != "/email-learning/platform/organizations/2/" {
		t.Errorf("switch redirected to %q", res.header.Get("Location"))
	}
}

func TestOrganizationAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)

		if res, body := app.client().api("GET", "/api/v1/organizations", nil); res.status != 401 || body["error"].(map[string]any)["code"] != "not_authenticated" {
			t.Errorf("anonymous list: %d %s", res.status, res.body)
		}
		res, body := c.api("POST", "/api/v1/organizations", map[string]string{"name": "Acme", "description": "d"})
		if res.status != 201 || body["slug"] != "acme" || body["id"] != float64(2) || body["created_at"] == nil {
			t.Fatalf("create: %d %s", res.status, res.body)
		}
		res, body = c.api("POST", "/api/v1/organizations", map[string]string{"name": "acme"})
		if e := body["error"].(map[string]any); res.status != 409 || e["code"] != "name_taken" || e["message"] != `An organization named "acme" already exists.` {
			t.Errorf("duplicate: %d %s", res.status, res.body)
		}
		res, body = c.api("POST", "/api/v1/organizations", map[string]string{"name": " "})
		if e := body["error"].(map[string]any); res.status != 422 || e["fields"].(map[string]any)["name"] == nil {
			t.Errorf("blank name: %d %s", res.status, res.body)
		}
		if res, _ := c.api("POST", "/api/v1/organizations", []byte("{not json")); res.status != 415 {
			t.Errorf("wrong media type: %d", res.status)
		}
		req, _ := http.NewRequest("POST", c.base+"/api/v1/organizations", strings.NewReader("{not json"))
		req.Header.Set("Content-Type", "application/json")
		if res := c.do(req); res.status != 400 {
			t.Errorf("malformed JSON: %d", res.status)
		}

		res, body = c.api("GET", "/api/v1/organizations", nil)
		if items := body["items"].([]any); res.status != 200 || len(items) != 2 || body["next_cursor"] != "" {
			t.Errorf("list: %s", res.body)
		}
		res, body = c.api("PATCH", "/api/v1/organizations/2", map[string]string{"description": "new"})
		if res.status != 200 || body["description"] != "new" || body["name"] != "Acme" {
			t.Errorf("patch: %s", res.body)
		}

		res, body = c.api("PUT", "/api/v1/organizations/2/logo", testPNG(30, 30))
		if res.status != 200 || !strings.Contains(body["logo_url"].(string), "/email-learning/public/organization/2/logo?v=") {
			t.Errorf("put logo: %d %s", res.status, res.body)
		}
		if res, _ := c.api("PUT", "/api/v1/organizations/2/logo", []byte("<html></html>")); res.status != 415 {
			t.Errorf("HTML logo: %d", res.status)
		}
		if res, body := c.api("PUT", "/api/v1/organizations/2/logo", manyScans()); res.status != 422 || body["error"].(map[string]any)["code"] != "logo_too_many_scans" {
			t.Errorf("JPEG of many scans: %d %s", res.status, res.body)
		}
		if res, _ := c.api("PUT", "/api/v1/organizations/2/logo", make([]byte, 3<<20)); res.status != 413 {
			t.Errorf("3 MiB logo: %d", res.status)
		}
		if res, body := c.api("DELETE", "/api/v1/organizations/2/logo", nil); res.status != 200 || body["logo_url"] != "" {
			t.Errorf("delete logo: %s", res.body)
		}

		// Another organization's admin addresses this one: 404, nothing changes.
		createStaff(t, db, "staff@example.com", "staff password 1")
		staff := app.loggedIn("staff@example.com", "staff password 1")
		if res, _ := staff.api("POST", "/api/v1/organizations", map[string]string{"name": "Mine"}); res.status != 403 {
			t.Errorf("staff create: %d", res.status)
		}
		for _, call := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/organizations/2", nil},
			{"PATCH", "/api/v1/organizations/2", map[string]string{"name": "Stolen"}},
			{"PUT", "/api/v1/organizations/2/logo", testPNG(5, 5)},
			{"DELETE", "/api/v1/organizations/2", map[string]string{"confirm_name": "Acme"}},
		} {
			if res, _ := staff.api(call.method, call.path, call.body); res.status != 404 {
				t.Errorf("staff %s %s: %d, want 404", call.method, call.path, res.status)
			}
		}

		if res, _ := c.api("DELETE", "/api/v1/organizations/2", nil); res.status != 422 {
			t.Errorf("delete without the name: %d", res.status)
		}
		if res, _ := c.api("DELETE", "/api/v1/organizations/2", map[string]string{"confirm_name": "Acme"}); res.status != 204 {
			t.Errorf("delete: %d", res.status)
		}
		if res, _ := c.api("GET", "/api/v1/organizations/2", nil); res.status != 404 {
			t.Errorf("get after delete: %d", res.status)
		}
	})
}

// TestPublicPageCache checks that the cached public page follows edits
// made on this node at once and answers revalidation with 304.
func TestPublicPageCache(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	admin := app.loggedIn(adminEmail, adminPassword)
	admin.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": "Acme"})
	anon := app.client()
	first := anon.get("/email-learning/public/organization/2/")
	etag := first.header.Get("ETag")
	if first.status != 200 || etag == "" || !strings.Contains(first.body, "Acme") {
		t.Fatalf("public page: %d %q", first.status, etag)
	}
	req, _ := http.NewRequest(http.MethodGet, anon.base+"/email-learning/public/organization/2/", nil)
	req.Header.Set("If-None-Match", etag)
	if res := anon.do(req); res.status != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", res.status)
	}
	admin.postMultipart("/email-learning/platform/organizations/2/edit", map[string]string{"name": "Acme Renamed", "slug": "acme"})
	if res := anon.get("/email-learning/public/organization/2/"); !strings.Contains(res.body, "Acme Renamed") || res.header.Get("ETag") == etag {
		t.Error("the public page still shows the old name after an edit")
	}
	admin.post("/email-learning/platform/organizations/2/delete", url.Values{"confirm_name": {"Acme Renamed"}})
	if res := anon.get("/email-learning/public/organization/2/"); res.status != 404 {
		t.Errorf("public page of a deleted organization: %d", res.status)
	}
}
