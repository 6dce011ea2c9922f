package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// BenchmarkStaffPages requests the staff pages of an organization with 100
// members and 100 public courses, logged in as its owner, through the
// server's whole handler stack (sessions, login, templates) but without
// the network, one request at a time: cpu-ms/op is the CPU a request costs
// the server (the process's, so also the test app's idle job queue),
// allocs/op its allocations.
func BenchmarkStaffPages(b *testing.B) {
	app, orgID, cookie := newStaffBenchApp(b, 100, 100)
	org := fmt.Sprintf("/email-learning/platform/organizations/%d/", orgID)
	for _, page := range []struct{ name, path string }{
		{"OrganizationList", "/email-learning/platform/organizations/"},
		{"OrganizationPage", org},
		{"MemberListPage", org + "?page=2"},
		{"MemberListAPI", fmt.Sprintf("/api/v1/organizations/%d/members", orgID)},
		{"PublicPageLoggedIn", fmt.Sprintf("/email-learning/public/organization/%d/", orgID)},
	} {
		b.Run(page.name, func(b *testing.B) {
			handler := app.srv.Config.Handler
			get := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, page.path, nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				return rec
			}
			if rec := get(); rec.Code != http.StatusOK {
				b.Fatalf("GET %s: %d", page.path, rec.Code)
			}
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				get()
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// newStaffBenchApp starts a test app on SQLite with an organization of
// members members (its owner included) and courses public courses, and
// returns it with the organization's id and the owner's session cookie.
func newStaffBenchApp(b testing.TB, members, courses int) (*testApp, int64, *http.Cookie) {
	db := storetest.NewSQLite(b)
	app := newTestApp(b, db)
	ctx := context.Background()
	const ownerEmail, ownerPassword = "owner@example.com", "owner password 123"
	hash, err := auth.HashPassword(ctx, ownerPassword)
	if err != nil {
		b.Fatal(err)
	}
	var orgID int64
	err = db.InTx(ctx, func(q *store.Queries) error {
		org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "Bench Academy", NameKey: "bench academy", NameSkeleton: names.Key("Bench Academy"), Slug: "bench-academy"})
		if err != nil {
			return err
		}
		orgID = org.ID
		owner, err := q.CreateUser(ctx, store.NewUser{Email: ownerEmail, Name: "Olivia Owner", PasswordHash: hash})
		if err != nil {
			return err
		}
		if err := q.AddMembership(ctx, org.ID, owner.ID, "owner"); err != nil {
			return err
		}
		roles := []string{"viewer", "editor", "admin"}
		for i := 1; i < members; i++ {
			u, err := q.CreateUser(ctx, store.NewUser{Email: fmt.Sprintf("member%03d@example.com", i), Name: fmt.Sprintf("Member %03d", i)})
			if err != nil {
				return err
			}
			if err := q.AddMembership(ctx, org.ID, u.ID, roles[i%len(roles)]); err != nil {
				return err
			}
		}
		for i := range courses {
			title := fmt.Sprintf("Course %03d", i)
			if _, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: org.ID, Title: title, TitleKey: strings.ToLower(title), TitleSkeleton: names.Key(title),
				Slug: fmt.Sprintf("course-%03d", i), Description: "Learn something useful in ten short lessons.", Enabled: true, Public: true}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	c := app.loggedIn(ownerEmail, ownerPassword)
	base, _ := url.Parse(app.srv.URL)
	for _, cookie := range c.http.Jar.Cookies(base) {
		if cookie.Name == "mailschool_session" {
			return app, orgID, cookie
		}
	}
	b.Fatal("no session cookie after logging in")
	return nil, 0, nil
}
