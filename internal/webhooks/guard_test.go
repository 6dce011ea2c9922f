package webhooks_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/netguard"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// tableResolver answers host names from a table.
type tableResolver map[string]string

func (r tableResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}

// With the platform's guard as its URL check, the service refuses every
// address that leads inside (the ones written as such, and a name that
// resolves to a private address) with a sentence on url, and takes a
// public one.
func TestEndpointURLsCheckedByTheGuard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		guard := netguard.New(netguard.Options{Resolver: tableResolver{"hr.example": "93.184.215.14", "intranet.example": "10.0.0.1"}})
		hooks := webhooks.NewService(db, webhooks.Options{CheckURL: guard.CheckURL})
		for _, url := range []string{"http://127.0.0.1/", "https://127.0.0.1/", "http://[::1]/", "https://[::1]/hook",
			"http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/", "https://intranet.example/hook", "https://[fd00:ec2::254]/"} {
			_, err := hooks.Create(f.ctx, f.admin, f.org, webhooks.Fields{URL: ptr(url), Events: []string{"*"}})
			msg := fieldOf(err, "url")
			if msg == "" || !strings.HasSuffix(msg, ".") {
				t.Errorf("%s: %v, want a sentence on url", url, err)
			}
		}
		if _, err := hooks.Create(f.ctx, f.admin, f.org, webhooks.Fields{URL: ptr("https://hr.example/hook"), Events: []string{"*"}}); err != nil {
			t.Errorf("a public address: %v", err)
		}
	})
}
