package web

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestPagesGoOutWhole: a rendered page says its length, so it is not sent
// in chunks, and a HEAD request gets the same length without a body.
func TestPagesGoOutWhole(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	c := app.loggedIn(adminEmail, adminPassword)
	res := c.get("/email-learning/platform/organizations/")
	if res.status != http.StatusOK || res.header.Get("Content-Length") != strconv.Itoa(len(res.body)) {
		t.Fatalf("GET: %d, Content-Length %q for a body of %d bytes", res.status, res.header.Get("Content-Length"), len(res.body))
	}
	req, err := http.NewRequest(http.MethodHead, app.srv.URL+"/email-learning/platform/organizations/", nil)
	if err != nil {
		t.Fatal(err)
	}
	head := c.do(req)
	if head.status != http.StatusOK || head.body != "" || head.header.Get("Content-Length") != strconv.Itoa(len(res.body)) {
		t.Errorf("HEAD: %d, Content-Length %q, body %q; want the GET's length and no body", head.status, head.header.Get("Content-Length"), head.body)
	}
}
