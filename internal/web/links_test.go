package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestLinksOfDeletedRowsOpenNothing: a tenant who keeps the emailed links
// of its own learners and then deletes the course must not end up with
// links to whoever is enrolled next, in any organization.
func TestLinksOfDeletedRowsOpenNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := newTestApp(t, db)
		mine := newSchool(t, app)
		old := mine.enrollConfirmed("mine@example.com")
		links := learning.NewService(db, learning.Config{SecretKey: testSecretKey})
		unsubscribe, claim := links.UnsubscribeURL(old), links.CertificateClaimURL(old)
		if res := app.client().get(unsubscribe); res.status != http.StatusOK {
			t.Fatalf("the link before deleting: %d", res.status)
		}
		err := db.InTx(ctx, func(q *store.Queries) error { return q.DeleteCourse(ctx, mine.orgID, mine.courseID) })
		if err != nil {
			t.Fatal(err)
		}

		// The next course and learner, as another tenant would have them.
		victim := school{app: app, orgID: mine.orgID, slug: "victims"}
		err = db.InTx(ctx, func(q *store.Queries) error {
			victim.courseID, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: victim.orgID, Title: "Victims",
				TitleKey: "victims", TitleSkeleton: names.Key("Victims"), Slug: victim.slug, Enabled: true, Public: true})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		next := victim.enrollConfirmed("victim@example.com")
		if next.ID == old.ID {
			t.Errorf("the new enrollment got the deleted one's id %d", old.ID)
		}

		for _, link := range []string{unsubscribe, claim} {
			if res := app.client().get(link); res.status != http.StatusNotFound || strings.Contains(res.body, "victim@example.com") {
				t.Errorf("GET %s of a deleted enrollment: %d\n%s", link, res.status, res.body)
			}
			if res := app.client().post(link, nil); res.status != http.StatusNotFound {
				t.Errorf("POST %s of a deleted enrollment: %d", link, res.status)
			}
		}
		if got := victim.status("victim@example.com"); got != "active" {
			t.Errorf("the next learner is %s after the old links were used", got)
		}
	})
}
