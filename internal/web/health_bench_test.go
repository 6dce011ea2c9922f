package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// BenchmarkReadyz answers /readyz through the whole handler: "checked"
// runs the check every time (one query), as the first probe of each
// second does; "cached" serves the last second's answer, as the others
// do.
func BenchmarkReadyz(b *testing.B) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			app := newTestApp(b, storetest.New(b, dialect), func(o *Options) { o.JobsRunning = func() bool { return true } })
			handler := app.srv.Config.Handler.(*Server)
			probe := func(b *testing.B) {
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("/readyz: %d %s", rec.Code, rec.Body)
				}
			}
			b.Run("checked", func(b *testing.B) {
				for b.Loop() {
					handler.readiness.mu.Lock()
					handler.readiness.at = time.Time{}
					handler.readiness.mu.Unlock()
					probe(b)
				}
			})
			b.Run("cached", func(b *testing.B) {
				for b.Loop() {
					probe(b)
				}
			})
		})
	}
}
