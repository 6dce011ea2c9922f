package web

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// Clients that hang up at any moment of their requests, over real
// connections and many at once, as impatient browsers and load tests do,
// are no server errors: no line at ERROR level and no 500 in the request
// log.
func TestClientsHangingUpAreNoServerErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var logs syncBuffer
		app := newTestApp(t, db, func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		owner := app.loggedIn(adminEmail, adminPassword)
		site, _ := url.Parse(app.srv.URL)
		cookies := owner.http.Jar.Cookies(site)
		paths := []string{
			"/email-learning/platform/organizations/",
			"/email-learning/platform/organizations/1/",
			"/email-learning/platform/organizations/1/members/new",
			"/api/v1/organizations",
			"/email-learning/public/organization/1/",
			"/accounts/login/",
			"/healthz",
		}
		// Forms that write, hash a password or enqueue a job.
		posts := map[string]url.Values{
			"/accounts/login/":                        {"email": {adminEmail}, "password": {"a wrong password"}},
			"/accounts/password_reset/":               {"email": {"someone@example.com"}},
			"/accounts/settings/name":                 {"name": {"Ada"}},
			"/email-learning/platform/organizations/": {"name": {"Hang-up"}},
		}
		var postPaths []string
		for p := range posts {
			postPaths = append(postPaths, p)
		}
		var wg sync.WaitGroup
		for worker := range 8 {
			wg.Go(func() {
				transport := &http.Transport{}
				defer transport.CloseIdleConnections()
				httpClient := &http.Client{Transport: transport}
				for i := range 40 {
					path := paths[(worker+i)%len(paths)]
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(3000))*time.Microsecond)
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, app.srv.URL+path, nil)
					for _, c := range cookies {
						req.AddCookie(c)
					}
					if res, err := httpClient.Do(req); err == nil {
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
					cancel()
				}
			})
		}
		wg.Wait()
		// The server notices a hang-up as it happens; give the last ones a
		// moment to be logged.
		time.Sleep(200 * time.Millisecond)
		out := logs.String()
		for line := range strings.SplitSeq(out, "\n") {
			if strings.Contains(line, "level=ERROR") || strings.Contains(line, "status=500") {
				t.Errorf("%s", line)
			}
		}
		if !strings.Contains(out, "status=499") {
			t.Errorf("no request was logged as closed by its client (499):\n%s", out)
		}
	})
}
