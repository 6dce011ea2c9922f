package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// notAnImage is an upload the logo rules refuse (415) once they look at it.
var notAnImage = []byte("<html><script>alert(1)</script></html>")

// logoForm returns the multipart body of the organization edit form with
// a logo, and its content type.
func logoForm(o *authzOrg, file []byte) ([]byte, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("name", o.name)
	mw.WriteField("slug", o.slug)
	w, _ := mw.CreateFormFile("logo", "logo.png")
	w.Write(file)
	mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}

// uploadLogo sends a logo as the API's PUT or the edit form's POST.
func uploadLogo(c *client, route string, o *authzOrg, id int64, file []byte) response {
	c.t.Helper()
	var req *http.Request
	if route == "api" {
		req, _ = http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/v1/organizations/%d/logo", c.base, id), bytes.NewReader(file))
		req.Header.Set("Content-Type", "application/octet-stream")
	} else {
		body, contentType := logoForm(o, file)
		req, _ = http.NewRequest(http.MethodPost, fmt.Sprintf("%s%s%d/edit", c.base, organizationsPath, id), bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Origin", c.base)
	}
	return c.do(req)
}

// A logo is looked at only for someone who may change it: anyone else
// learns nothing from its refusal (an organization they may not see is
// not found, whatever the file), and makes the server decode nothing.
func TestLogoUploadsAreAuthorizedFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		f := newAuthzFixture(t, app)
		o := f.newOrg()
		for _, route := range []string{"api", "form"} {
			for _, tc := range []struct {
				who    actor
				id     int64
				status int
			}{
				{otherAdmin, o.id, 404},
				{otherAdmin, 999999, 404},
				{viewer, 999999, 404},
				{viewer, o.id, 403},
				{editor, o.id, 403},
				{orgAdmin, o.id, 415}, // allowed: the file is judged, and refused
				{owner, o.id, 415},
			} {
				if res := uploadLogo(f.clients[tc.who], route, o, tc.id, notAnImage); res.status != tc.status {
					t.Errorf("%s: %s uploads a bad logo to organization %d: %d, want %d\n%s", route, tc.who, tc.id, res.status, tc.status, res.body)
				}
			}
		}
		// Nor is a refused upload read: the answer comes while it is still
		// arriving.
		big := append(testPNG(8, 8), make([]byte, 1<<20)...)
		form, formType := logoForm(o, big)
		for path, body := range map[string][]byte{
			fmt.Sprintf("/api/v1/organizations/%d/logo", o.id): big,
			fmt.Sprintf("%s%d/edit", organizationsPath, o.id):  form,
		} {
			method, contentType := http.MethodPut, "application/octet-stream"
			if strings.HasSuffix(path, "/edit") {
				method, contentType = http.MethodPost, formType
			}
			conn := stalledUpload(t, f.clients[otherAdmin], method, path, contentType, body)
			if status, _ := answer(t, conn, 10*time.Second); status != 404 {
				t.Errorf("stalled upload to %s by a non-member: %d, want 404", path, status)
			}
		}
		// Creating an organization is for platform admins, before anything
		// of the form is read.
		res := f.clients[otherAdmin].postMultipart(organizationsPath, map[string]string{"name": "Mine"}, upload{"logo", "logo.png", notAnImage})
		if res.status != 403 {
			t.Errorf("staff creates an organization with a bad logo: %d, want 403", res.status)
		}
	})
}

// stalledUpload starts a request whose body stops arriving after its
// first bytes, on a connection of its own, as a client on a very slow
// link does. It returns the connection, to read the answer from.
func stalledUpload(t *testing.T, c *client, method, path, contentType string, body []byte) net.Conn {
	t.Helper()
	u, _ := url.Parse(c.base + path)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var cookies []string
	for _, ck := range c.http.Jar.Cookies(u) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		method, path, u.Host, c.base, strings.Join(cookies, "; "), contentType, len(body))
	conn.Write(body[:len(body)/10])
	return conn
}

// answer reads the response to a stalled upload, waiting at most wait.
func answer(t *testing.T, conn net.Conn, wait time.Duration) (int, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(wait))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer within %s: %v", wait, err)
	}
	defer res.Body.Close()
	var b strings.Builder
	bufio.NewReader(res.Body).WriteTo(&b)
	return res.StatusCode, b.String()
}

// Uploads still arriving hold no decode slot: while more of them than
// there are slots trickle in, another logo is decoded at once.
func TestSlowUploadsHoldUpNoLogo(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	f := newAuthzFixture(t, app)
	o := f.newOrg()
	admin := f.clients[orgAdmin]
	file := testPNG(300, 200)
	form, formType := logoForm(o, file)
	for range 2 {
		stalledUpload(t, admin, http.MethodPut, fmt.Sprintf("/api/v1/organizations/%d/logo", o.id), "application/octet-stream", file)
		stalledUpload(t, admin, http.MethodPost, fmt.Sprintf("%s%d/edit", organizationsPath, o.id), formType, form)
	}
	time.Sleep(300 * time.Millisecond) // for the stalled requests to reach their handlers

	done := make(chan response, 1)
	go func() { done <- uploadLogo(admin, "api", o, o.id, testPNG(30, 30)) }()
	select {
	case res := <-done:
		if res.status != 200 {
			t.Errorf("upload beside the slow ones: %d\n%s", res.status, res.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an upload waited for slow uploads to arrive")
	}
}

// A body that takes longer than the upload timeout to arrive is answered
// 408, and its connection is not held any longer.
func TestUploadTimeout(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t), func(o *Options) { o.UploadTimeout = 300 * time.Millisecond })
	f := newAuthzFixture(t, app)
	o := f.newOrg()
	admin := f.clients[orgAdmin]
	file := testPNG(300, 200)
	form, formType := logoForm(o, file)

	conn := stalledUpload(t, admin, http.MethodPut, fmt.Sprintf("/api/v1/organizations/%d/logo", o.id), "application/octet-stream", file)
	status, body := answer(t, conn, 10*time.Second)
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal([]byte(body), &e)
	if status != http.StatusRequestTimeout || e.Error.Code != "upload_timeout" || !strings.Contains(e.Error.Message, "took too long") {
		t.Errorf("API: %d %s, want 408 upload_timeout", status, body)
	}

	for _, path := range []string{organizationsPath, fmt.Sprintf("%s%d/edit", organizationsPath, o.id)} {
		conn = stalledUpload(t, f.clients[platformAdmin], http.MethodPost, path, formType, form)
		if status, body := answer(t, conn, 10*time.Second); status != http.StatusRequestTimeout || !strings.Contains(body, "took too long") {
			t.Errorf("form %s: %d, want 408\n%s", path, status, body)
		}
	}

	// An upload that arrives in time is saved.
	if res := uploadLogo(admin, "api", o, o.id, file); res.status != 200 {
		t.Errorf("upload in time: %d\n%s", res.status, res.body)
	}
}
