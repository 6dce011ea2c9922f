package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// An anonymous logout stores no session: a flood of them must not fill
// the sessions table.
func TestAnonymousLogoutStoresNoSession(t *testing.T) {
	app := newTestApp(t, storetest.NewSQLite(t))
	for range 3 {
		res := app.client().post("/accounts/logout/", nil)
		if res.status != http.StatusSeeOther || res.header.Get("Set-Cookie") != "" {
			t.Fatalf("anonymous logout: %d, Set-Cookie %q", res.status, res.header.Get("Set-Cookie"))
		}
	}
	// A real logout still ends the session.
	c := app.loggedIn(adminEmail, adminPassword)
	if res := c.post("/accounts/logout/", nil); res.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.status)
	}
	if res := c.get("/email-learning/platform/organizations/"); res.status != http.StatusSeeOther {
		t.Errorf("after logout the platform answers %d, want a redirect to the login page", res.status)
	}
}

// Page numbers and cursors too large for an OFFSET give an empty page,
// not a database error.
func TestHugePageNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.loggedIn(adminEmail, adminPassword)
		for _, path := range []string{
			"/api/v1/organizations?cursor=9223372036854775807",
			"/api/v1/organizations/1/members?cursor=9223372036854775807",
			"/api/v1/organizations/1/courses?cursor=4611686018427387904",
			"/api/v1/organizations/1/learners?cursor=9223372036854775807",
			"/api/v1/organizations/1/enrollments?cursor=9223372036854775807",
			"/email-learning/platform/organizations/?page=9223372036854775807",
			"/email-learning/platform/organizations/1/courses/?page=9223372036854775807",
			"/email-learning/platform/organizations/1/learners/?page=9223372036854775807",
			"/email-learning/platform/organizations/1/blocked-emails/?page=9223372036854775807",
		} {
			res := c.get(path)
			if res.status != http.StatusOK {
				t.Errorf("GET %s: %d\n%.300s", path, res.status, res.body)
			}
			if strings.HasPrefix(path, "/api/") && !strings.Contains(res.body, `"items":[]`) {
				t.Errorf("GET %s: %.300s, want no items", path, res.body)
			}
		}
	})
}

// syncBuffer is a log destination that server goroutines share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A client that goes away mid-request is no server error: its request is
// logged as closed by the client (499), at Info level.
func TestClientGoneIsNoServerError(t *testing.T) {
	var logs syncBuffer
	app := newTestApp(t, storetest.NewSQLite(t), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	c := app.loggedIn(adminEmail, adminPassword)
	for _, path := range []string{"/email-learning/platform/organizations/", "/api/v1/organizations"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		site, _ := url.Parse(app.srv.URL)
		for _, cookie := range c.http.Jar.Cookies(site) {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		app.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError {
			t.Errorf("GET %s after the client left: %d", path, rec.Code)
		}
	}
	// An anonymous page whose handler meets the ended request in the
	// database.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	app.srv.Config.Handler.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/email-learning/public/organization/1/", nil))
	if rec.Code != statusClientClosed {
		t.Errorf("the public page after the client left: %d, want %d", rec.Code, statusClientClosed)
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") || !strings.Contains(out, "status=499") {
		t.Errorf("logs:\n%s", out)
	}
}
