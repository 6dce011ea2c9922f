package orgs_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"testing"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func ptr(s string) *string { return &s }

// newUser creates a user; admin makes them a platform admin.
func newUser(t *testing.T, db *store.DB, email string, admin bool) *store.User {
	t.Helper()
	var u store.User
	err := db.InTx(context.Background(), func(q *store.Queries) error {
		var err error
		u, err = q.CreateUser(context.Background(), store.NewUser{Email: email, IsPlatformAdmin: admin})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &u
}

func addMember(t *testing.T, db *store.DB, orgID int64, u *store.User, role access.Role) {
	t.Helper()
	err := db.InTx(context.Background(), func(q *store.Queries) error {
		return q.AddMembership(context.Background(), orgID, u.ID, string(role))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func pngLogo(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, 0, color.RGBA{200, 30, 30, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func code(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	return ""
}

func TestCreateAndEdit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := orgs.NewService(db, orgs.Config{})
		admin := newUser(t, db, "root@example.com", true)

		org, err := s.Create(ctx, admin, orgs.Fields{Name: ptr("  Acme Academy  "), Description: ptr("Line one\r\nLine <b>two</b>"),
			Logo: bytes.NewReader(pngLogo(t, 400, 200))})
		if err != nil {
			t.Fatal(err)
		}
		if org.Name != "Acme Academy" || org.Slug != "acme-academy" || org.Description != "Line one\nLine <b>two</b>" || org.LogoETag == "" {
			t.Errorf("created = %+v", org)
		}
		v, err := s.Get(ctx, admin, org.ID)
		if err != nil || v.Role != access.Owner || !v.CanEdit || !v.CanDelete {
			t.Errorf("the creator's view = %+v, %v; want owner", v, err)
		}

		// The same name in another case is taken; so is it after trimming.
		if _, err := s.Create(ctx, admin, orgs.Fields{Name: ptr("ACME academy")}); code(err) != "name_taken" {
			t.Errorf("duplicate name: %v", err)
		} else if p, _ := problem.As(err); p.Kind != problem.Conflict || !strings.Contains(p.Message, `"ACME academy"`) {
			t.Errorf("duplicate name problem = %+v", p)
		}
		// A name giving the same slug gets a numbered one.
		second, err := s.Create(ctx, admin, orgs.Fields{Name: ptr("Acme: Academy!")})
		if err != nil || second.Slug != "acme-academy-2" {
			t.Errorf("second slug = %q, %v", second.Slug, err)
		}

		// Saving other fields keeps the logo and the slug.
		etag := org.LogoETag
		org, err = s.Update(ctx, admin, org.ID, orgs.Fields{Name: ptr("Acme University"), Description: ptr("")})
		if err != nil || org.LogoETag != etag || org.Slug != "acme-academy" || org.Name != "Acme University" {
			t.Errorf("after editing the name: %+v, %v", org, err)
		}
		org, err = s.Update(ctx, admin, org.ID, orgs.Fields{Slug: ptr("acme")})
		if err != nil || org.Slug != "acme" || org.Name != "Acme University" {
			t.Errorf("after editing the slug: %+v, %v", org, err)
		}
		if _, err := s.Update(ctx, admin, second.ID, orgs.Fields{Slug: ptr("acme")}); code(err) != "slug_taken" {
			t.Errorf("taken slug: %v", err)
		}
		if _, err := s.Update(ctx, admin, second.ID, orgs.Fields{Name: ptr("acme UNIVERSITY")}); code(err) != "name_taken" {
			t.Errorf("renaming onto a taken name: %v", err)
		}
		for _, bad := range []string{"Acme", "-acme", "acme--x", "acme_x", "ácme", strings.Repeat("a", 61)} {
			if _, err := s.Update(ctx, admin, second.ID, orgs.Fields{Slug: ptr(bad)}); code(err) != "invalid_slug" {
				t.Errorf("slug %q: %v", bad, err)
			}
		}
		org, err = s.Update(ctx, admin, org.ID, orgs.Fields{RemoveLogo: true})
		if err != nil || org.LogoETag != "" {
			t.Errorf("after removing the logo: %+v, %v", org, err)
		}
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := orgs.NewService(db, orgs.Config{})
		admin := newUser(t, db, "root@example.com", true)
		tests := []struct {
			name   string
			fields orgs.Fields
			code   string
		}{
			{"empty name", orgs.Fields{Name: ptr("")}, "invalid_organization"},
			{"whitespace name", orgs.Fields{Name: ptr(" \t ")}, "invalid_organization"},
			{"10 KB name", orgs.Fields{Name: ptr(strings.Repeat("n", 10240))}, "invalid_organization"},
			{"201 characters", orgs.Fields{Name: ptr(strings.Repeat("é", 201))}, "invalid_organization"},
			{"line break in name", orgs.Fields{Name: ptr("Acme\nAcademy")}, "invalid_organization"},
			{"control character", orgs.Fields{Name: ptr("Acme\x00")}, "invalid_organization"},
			{"long description", orgs.Fields{Name: ptr("Acme"), Description: ptr(strings.Repeat("d", 2001))}, "invalid_organization"},
			{"HTML renamed .png", orgs.Fields{Name: ptr("Acme"), Logo: strings.NewReader("<html><script>alert(1)</script></html>")}, "logo_unsupported_type"},
			{"3 MiB logo", orgs.Fields{Name: ptr("Acme"), Logo: bytes.NewReader(make([]byte, 3<<20))}, "logo_too_large"},
		}
		for _, tt := range tests {
			if _, err := s.Create(ctx, admin, tt.fields); code(err) != tt.code {
				t.Errorf("%s: err = %v, want %s", tt.name, err, tt.code)
			}
		}
		if _, err := s.Create(ctx, admin, orgs.Fields{Name: ptr(strings.Repeat("é", 200))}); err != nil {
			t.Errorf("200 characters refused: %v", err)
		}
		page, err := s.List(ctx, admin, "", 1)
		if err != nil || page.Total != 2 { // the default organization and the 200-character one
			t.Errorf("organizations after bad input: %d, %v", page.Total, err)
		}
	})
}

// TestLookAlikeNames: a name that only looks like another organization's
// (another script's letters, other spaces) is taken, and one with
// invisible or text-direction characters is refused, on create and on
// rename alike.
func TestLookAlikeNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := orgs.NewService(db, orgs.Config{})
		admin := newUser(t, db, "root@example.com", true)
		acme, err := s.Create(ctx, admin, orgs.Fields{Name: ptr("Acme Academy")})
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.Create(ctx, admin, orgs.Fields{Name: ptr("Other")})
		if err != nil {
			t.Fatal(err)
		}
		const hidden = "The name may not contain invisible or text-direction characters."
		for _, tt := range []struct{ name, code, field string }{
			{"Acme Academy\u200b", "invalid_organization", hidden}, // zero-width space
			{"Acme\u200bAcademy", "invalid_organization", hidden},
			{"Acme Academy\u202e", "invalid_organization", hidden}, // right-to-left override
			{"\u202eymedacA emcA", "invalid_organization", hidden},
			{"Acme\u00a0Academy", "name_taken", ""}, // no-break space
			{"Асme Асаdemy", "name_taken", ""},      // Cyrillic а, с
			{"Αcme Academy", "name_taken", ""},      // Greek Alpha
			{"Ａｃｍｅ Ａｃａｄｅｍｙ", "name_taken", ""},      // full-width
			{"ACME ACADEMY", "name_taken", ""},
		} {
			_, err := s.Create(ctx, admin, orgs.Fields{Name: ptr(tt.name)})
			if code(err) != tt.code {
				t.Errorf("create %+q: %v, want %s", tt.name, err, tt.code)
			}
			if p, _ := problem.As(err); tt.field != "" && (p == nil || p.Fields["name"] != tt.field) {
				t.Errorf("create %+q: %+v, want the name field to say %q", tt.name, p, tt.field)
			}
			if _, err := s.Update(ctx, admin, other.ID, orgs.Fields{Name: ptr(tt.name)}); code(err) != tt.code {
				t.Errorf("rename to %+q: %v, want %s", tt.name, err, tt.code)
			}
		}
		if v, err := s.Get(ctx, admin, other.ID); err != nil || v.Name != "Other" {
			t.Errorf("after refused renames: %q, %v", v.Name, err)
		}

		// Names are stored as they show: spaces plain and single.
		spaced, err := s.Create(ctx, admin, orgs.Fields{Name: ptr("New\u00a0\u00a0Name")})
		if err != nil || spaced.Name != "New Name" {
			t.Errorf("created %q, %v; want \"New Name\"", spaced.Name, err)
		}
		// An organization may keep its name, or change its case.
		if _, err := s.Update(ctx, admin, acme.ID, orgs.Fields{Name: ptr("ACME Academy")}); err != nil {
			t.Errorf("change the case of its own name: %v", err)
		}
	})
}

// TestLookAlikeNamesFromBefore: organizations whose names already looked
// alike when they were compared only in lower case (store marks the
// younger ones shared) keep them, and nothing new may look like either.
func TestLookAlikeNamesFromBefore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := orgs.NewService(db, orgs.Config{})
		admin := newUser(t, db, "root@example.com", true)
		acme, err := s.Create(ctx, admin, orgs.Fields{Name: ptr("Acme Academy")})
		if err != nil {
			t.Fatal(err)
		}
		var old store.Organization
		err = db.InTx(ctx, func(q *store.Queries) error {
			old, err = q.CreateOrganization(ctx, store.OrganizationFields{Name: "Асme Academy", NameKey: "асme academy",
				NameSkeleton: names.Key("Асme Academy"), NameSkeletonShared: true, Slug: "old"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// holds reports whether some organization holds the skeleton of
		// "Acme Academy" in the unique index, so that the database itself
		// refuses one more.
		holds := func() bool {
			t.Helper()
			err := db.InTx(ctx, func(q *store.Queries) error {
				_, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "Acme Аcademy", NameKey: "acme аcademy",
					NameSkeleton: names.Key("Acme Academy"), Slug: "probe"})
				return err
			})
			if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Fatal(err)
			}
			if err == nil {
				if err := s.Delete(ctx, admin, mustID(t, db, "probe"), "Acme Аcademy"); err != nil {
					t.Fatal(err)
				}
			}
			return err != nil
		}
		if _, err := s.Update(ctx, admin, old.ID, orgs.Fields{Description: ptr("Still here.")}); err != nil {
			t.Errorf("edit the description of an organization with a shared name: %v", err)
		}
		if _, err := s.Update(ctx, admin, acme.ID, orgs.Fields{Description: ptr("The first.")}); err != nil || !holds() {
			t.Errorf("the older organization, saved, no longer holds its skeleton: %v", err)
		}
		if _, err := s.Update(ctx, admin, old.ID, orgs.Fields{Name: ptr("Acmе Academy")}); code(err) != "name_taken" {
			t.Errorf("rename to another look-alike: %v, want name_taken", err)
		}
		if err := s.Delete(ctx, admin, acme.ID, "Acme Academy"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, admin, orgs.Fields{Name: ptr("Acme Academy")}); code(err) != "name_taken" {
			t.Errorf("create a look-alike of a shared name: %v, want name_taken", err)
		}
		if _, err := s.Update(ctx, admin, old.ID, orgs.Fields{Description: ptr("Alone now.")}); err != nil || !holds() {
			t.Errorf("the shared name, saved alone, does not hold its skeleton: %v", err)
		}
		if _, err := s.Update(ctx, admin, old.ID, orgs.Fields{Name: ptr("Old Academy")}); err != nil {
			t.Errorf("rename away from a shared name: %v", err)
		}
		if _, err := s.Create(ctx, admin, orgs.Fields{Name: ptr("Acme Academy")}); err != nil {
			t.Errorf("create a name no longer taken: %v", err)
		}
	})
}

func TestWhoMayDoWhat(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := orgs.NewService(db, orgs.Config{})
		root := newUser(t, db, "root@example.com", true)
		a, _ := s.Create(ctx, root, orgs.Fields{Name: ptr("A")})
		b, _ := s.Create(ctx, root, orgs.Fields{Name: ptr("B")})
		users := map[access.Role]*store.User{}
		for _, role := range []access.Role{access.Viewer, access.Editor, access.Admin} {
			users[role] = newUser(t, db, string(role)+"@example.com", false)
			addMember(t, db, a.ID, users[role], role)
		}
		outsider := newUser(t, db, "outsider@example.com", false)
		addMember(t, db, b.ID, outsider, access.Admin)

		for role, u := range users {
			if _, err := s.Get(ctx, u, a.ID); err != nil {
				t.Errorf("%s cannot see their organization: %v", role, err)
			}
			_, err := s.Update(ctx, u, a.ID, orgs.Fields{Name: ptr("A by " + string(role))})
			if wantOK := role == access.Admin; (err == nil) != wantOK {
				t.Errorf("%s edits: err = %v, want allowed %v", role, err, wantOK)
			}
			// The logo is not even looked at for someone who may not edit:
			// a refusal of the file would tell them the organization exists.
			_, err = s.Update(ctx, u, a.ID, orgs.Fields{Logo: strings.NewReader("<html></html>")})
			if wantCode := map[bool]string{true: "logo_unsupported_type", false: "forbidden"}[role == access.Admin]; code(err) != wantCode {
				t.Errorf("%s uploads a bad logo: err = %v, want %s", role, err, wantCode)
			}
			if err := s.Delete(ctx, u, a.ID, "A"); !errors.Is(err, orgs.ErrForbidden) {
				t.Errorf("%s deletes: err = %v, want forbidden", role, err)
			}
			if _, err := s.Create(ctx, u, orgs.Fields{Name: ptr("New")}); !errors.Is(err, orgs.ErrForbidden) {
				t.Errorf("%s creates: err = %v, want forbidden", role, err)
			}
		}
		// A member of B addressing A sees nothing and changes nothing.
		if _, err := s.Get(ctx, outsider, a.ID); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("outsider reads A: %v, want not found", err)
		}
		if _, err := s.Update(ctx, outsider, a.ID, orgs.Fields{Name: ptr("Taken over")}); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("outsider edits A: %v, want not found", err)
		}
		if _, err := s.Update(ctx, outsider, a.ID, orgs.Fields{Logo: bytes.NewReader(pngLogo(t, 10, 10))}); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("outsider uploads a logo to A: %v, want not found", err)
		}
		for _, id := range []int64{a.ID, 9999} {
			if _, err := s.Update(ctx, outsider, id, orgs.Fields{Logo: strings.NewReader("<html></html>")}); !errors.Is(err, orgs.ErrNotFound) {
				t.Errorf("outsider uploads a bad logo to organization %d: %v, want not found", id, err)
			}
		}
		if err := s.Delete(ctx, outsider, a.ID, "A"); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("outsider deletes A: %v", err)
		}
		got, _ := s.Get(ctx, root, a.ID)
		if got.Name != "A by admin" || got.LogoETag != "" {
			t.Errorf("A after the outsider's attempts: %+v", got.Organization)
		}
		page, _ := s.List(ctx, outsider, "", 1)
		if page.Total != 1 || page.Items[0].ID != b.ID || page.CanAdd {
			t.Errorf("outsider's list = %+v", page)
		}
	})
}

func TestDeleteRemovesEverything(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := orgs.NewService(db, orgs.Config{})
		root := newUser(t, db, "root@example.com", true)
		org, err := s.Create(ctx, root, orgs.Fields{Name: ptr("Doomed"), Logo: bytes.NewReader(pngLogo(t, 20, 20))})
		if err != nil {
			t.Fatal(err)
		}
		keep, _ := s.Create(ctx, root, orgs.Fields{Name: ptr("Kept")})
		member := newUser(t, db, "m@example.com", false)
		addMember(t, db, org.ID, member, access.Editor)
		err = db.InTx(ctx, func(q *store.Queries) error {
			for _, o := range []int64{org.ID, keep.ID} {
				if _, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: o, Title: "Go", TitleKey: "go", TitleSkeleton: names.Key("Go"), Slug: "go", Enabled: true, Public: true}); err != nil {
					return err
				}
			}
			id := org.ID
			_, err := q.CreateMailMessage(ctx, store.NewMailMessage{OrganizationID: &id, Kind: "test", Sender: "a@x", Recipient: "b@x", Subject: "s", MessageID: "m1@x", Raw: []byte("x")})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		removal, err := s.PrepareDelete(ctx, root, org.ID)
		if err != nil || removal.Contents.Courses != 1 || removal.Contents.Members != 2 || removal.Contents.Emails != 1 || !removal.Contents.HasLogo {
			t.Errorf("what deleting would remove: %+v, %v", removal.Contents, err)
		}
		for _, typed := range []string{"", "doomed", "Kept"} {
			if err := s.Delete(ctx, root, org.ID, typed); code(err) != "confirmation_mismatch" {
				t.Errorf("delete confirmed with %q: %v", typed, err)
			}
		}
		if _, err := s.Get(ctx, root, org.ID); err != nil {
			t.Fatalf("a refused delete removed the organization: %v", err)
		}
		if err := s.Delete(ctx, root, org.ID, " Doomed "); err != nil {
			t.Fatal(err)
		}
		left, err := db.RowsWith(ctx, "organization_id", org.ID)
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range left {
			if n != 0 {
				t.Errorf("%d rows of the deleted organization remain in %s", n, table)
			}
		}
		if len(left) < 4 {
			t.Errorf("only %d tables checked: %v", len(left), left)
		}
		if _, err := s.Get(ctx, root, org.ID); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("deleted organization still found: %v", err)
		}
		kept, _ := db.RowsWith(ctx, "organization_id", keep.ID)
		if kept["courses"] != 1 || kept["memberships"] != 1 {
			t.Errorf("the other organization lost rows: %v", kept)
		}
		if err := s.Delete(ctx, root, org.ID, "Doomed"); !errors.Is(err, orgs.ErrNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
	})
}

// TestConcurrentCreates sends the same new name from several requests at
// once: exactly one wins, the others get the name conflict.
func TestConcurrentCreates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := orgs.NewService(db, orgs.Config{})
		root := newUser(t, db, "root@example.com", true)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, errs[i] = s.Create(ctx, root, orgs.Fields{Name: ptr("Race")}) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case code(err) != "name_taken":
				t.Errorf("a losing request got %v, want name_taken", err)
			}
		}
		if wins != 1 {
			t.Errorf("%d requests created the organization, want 1", wins)
		}
	})
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"My Organization":         "my-organization",
		"  Acme -- Academy!! ":    "acme-academy",
		"École 42":                "ecole-42",
		"Schöol":                  "school",
		"Straße & Söhne":          "strasse-sohne",
		"Łódź Ærø":                "lodz-aero",
		"Ｆｕｌｌ ｗｉｄｔｈ":              "full-width",
		"Crème brûlée":            "creme-brulee",
		"İstanbul":                "istanbul",
		"日本語":                     "organization",
		strings.Repeat("ab ", 40): strings.TrimRight(strings.Repeat("ab-", 19)[:56], "-"),
	} {
		if got := orgs.Slugify(in); got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

// mustID returns the id of the organization with a slug.
func mustID(t *testing.T, db *store.DB, slug string) int64 {
	t.Helper()
	org, err := db.Read().OrganizationBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return org.ID
}
