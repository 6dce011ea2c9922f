package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// enrollPaths are the cases the public enrollment form must not tell
// apart by its answer's time: a new address, one the organization
// blocked, and one over its mailbox's limit.
var enrollPaths = []string{"new", "blocked", "over limit"}

// enrollTimer posts the enrollment form for the cases of enrollPaths
// against a school whose blocked addresses are made in advance.
type enrollTimer struct {
	app *testApp
	sc  school
	c   *client
	n   map[string]int
}

// newEnrollTimer makes the app: limits per IP out of the way, one request
// per mailbox, and blocked addresses for up to max requests.
func newEnrollTimer(tb testing.TB, max int) *enrollTimer {
	tb.Helper()
	app := newTestApp(tb, storetest.NewSQLite(tb), func(o *Options) {
		o.EnrollPerIP = auth.Limit{Every: time.Millisecond, Burst: 1_000_000}
		o.EnrollPerAddress = auth.Limit{Every: time.Hour, Burst: 1}
	})
	sc := newSchool(tb, app)
	err := app.db.InTx(tb.Context(), func(q *store.Queries) error {
		admin, err := q.UserByEmail(tb.Context(), adminEmail)
		if err != nil {
			return err
		}
		for i := range max {
			if _, err := q.BlockEmail(tb.Context(), sc.orgID, fmt.Sprintf("blocked%d@example.com", i), admin.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	t := &enrollTimer{app: app, sc: sc, c: app.client(), n: map[string]int{}}
	// The address over its limit has used it up.
	t.post("over limit")
	app.settle()
	return t
}

// post sends the form for a case, each time with an address of its own
// (but for the one over its limit), and returns how long the answer took.
// The jobs of the requests run meanwhile, as they would on a server, and
// slow whichever requests they meet; the medians see past that.
func (t *enrollTimer) post(path string) time.Duration {
	t.app.t.Helper()
	i := t.n[path]
	t.n[path]++
	email := map[string]string{
		"new":        fmt.Sprintf("new%d@example.com", i),
		"blocked":    fmt.Sprintf("blocked%d@example.com", i),
		"over limit": "busy@example.com",
	}[path]
	start := time.Now()
	res := t.c.post(t.sc.coursePath()+"enroll", url.Values{"email": {email}})
	took := time.Since(start)
	if res.status != http.StatusSeeOther {
		t.app.t.Fatalf("enroll %s: %d", email, res.status)
	}
	return took
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// timeEnrollPaths posts the form for each case in turn, rounds times, each
// case first in turn, and returns how long each answer took, by case.
func timeEnrollPaths(timer *enrollTimer, rounds int) map[string][]time.Duration {
	took := map[string][]time.Duration{}
	for i := range rounds {
		for j := range enrollPaths {
			path := enrollPaths[(i+j)%len(enrollPaths)]
			took[path] = append(took[path], timer.post(path))
		}
	}
	return took
}

// TestPublicEnrollmentTimeTellsNothing compares the median answers of
// many requests of each case: a blocked address, or one over its limit,
// must not answer measurably sooner than a new one.
func TestPublicEnrollmentTimeTellsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("many timed requests")
	}
	const rounds = 200
	took := timeEnrollPaths(newEnrollTimer(t, rounds), rounds)
	base := median(took["new"])
	for _, path := range enrollPaths {
		m := median(took[path])
		t.Logf("%-10s median %v", path, m)
		if ratio := float64(m) / float64(base); ratio < 0.7 || ratio > 1.45 {
			t.Errorf("the median answer for %s takes %v, %.2f times the %v of a new address", path, m, ratio, base)
		}
	}
}

// BenchmarkPublicEnroll measures the enrollment form's answers over
// loopback HTTP against SQLite, one request at a time, the cases taking
// turns (an operation is one request of each) while the job queue works
// their jobs, and reports each case's median and mean.
func BenchmarkPublicEnroll(b *testing.B) {
	timer := newEnrollTimer(b, b.N)
	b.ResetTimer()
	took := timeEnrollPaths(timer, b.N)
	b.StopTimer()
	for _, path := range enrollPaths {
		var sum time.Duration
		for _, d := range took[path] {
			sum += d
		}
		name := strings.ReplaceAll(path, " ", "-")
		b.ReportMetric(float64(median(took[path]).Microseconds()), name+"-median-µs")
		b.ReportMetric(float64(sum.Microseconds())/float64(len(took[path])), name+"-mean-µs")
	}
}
