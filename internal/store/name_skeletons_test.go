package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestNameSkeletonsMigration upgrades a database whose organizations and
// courses already have names that look alike, as the earlier rules let
// them: the upgrade goes through, the oldest of each look-alike group
// keeps its skeleton unique, the others are logged, and nothing new may
// look like any of them.
func TestNameSkeletonsMigration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		if err := db.MigrateDownTo(ctx, store.NameSkeletonsVersion-1); err != nil {
			t.Fatalf("migrate down: %v", err)
		}
		at := time.Now().UTC()
		// Ids are given in the order the rows are made: 1 is the default
		// organization.
		for i, name := range []string{"Acme", "Аcme", "Acme\u200b", "Other"} {
			if err := db.Exec(ctx, `INSERT INTO organizations (name, name_key, slug, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
				name, strings.ToLower(name), fmt.Sprintf("org-%d", i+2), at, at); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range []struct {
			org   int64
			title string
		}{{2, "Go basics"}, {2, "Go\u00a0basics"}, {5, "Go basics"}} {
			if err := db.Exec(ctx, `INSERT INTO courses (organization_id, title, title_key, slug, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				c.org, c.title, strings.ToLower(c.title), fmt.Sprintf("c%d", i+1), at, at); err != nil {
				t.Fatal(err)
			}
		}

		var logs bytes.Buffer
		if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
			t.Fatalf("upgrade with look-alike names: %v", err)
		}
		for _, want := range []string{
			"kind=organization id=3 name=Аcme older_id=2",
			"kind=organization id=4 name=\"Acme\\u200b\" older_id=2",
			"kind=course id=2 name=\"Go\\u00a0basics\" older_id=1",
		} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("the upgrade's log lacks %q:\n%s", want, logs.String())
			}
		}
		if strings.Contains(logs.String(), "id=3 name=\"Go basics\"") {
			t.Errorf("a course was logged as looking like one of another organization:\n%s", logs.String())
		}

		q := db.Read()
		for name, want := range map[string]bool{"ACME": true, "Αcme": true, "My Organization": true, "Μy Οrganization": true, "Acme Academy": false} {
			if taken, err := q.OrganizationNameTaken(ctx, strings.ToLower(name), names.Key(name), 0); err != nil || taken != want {
				t.Errorf("organization name %q taken = %v, %v; want %v", name, taken, err, want)
			}
		}
		for title, want := range map[string]bool{"GO BASICS": true, "Gо basics": true, "Go advanced": false} {
			if taken, err := q.CourseTitleTaken(ctx, 2, strings.ToLower(title), names.Key(title), 0); err != nil || taken != want {
				t.Errorf("course title %q taken = %v, %v; want %v", title, taken, err, want)
			}
		}

		// The oldest holds the skeleton, so the unique index refuses
		// another organization or course with it, however it was checked.
		err := db.InTx(ctx, func(q *store.Queries) error {
			_, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: "Αcme", NameKey: "αcme", NameSkeleton: names.Key("Acme"), Slug: "alpha"})
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("a new organization with the skeleton of an old one: %v, want ErrConflict", err)
		}
		err = db.InTx(ctx, func(q *store.Queries) error {
			_, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: 5, Title: "Gо basics", TitleKey: "gо basics", TitleSkeleton: names.Key("Go basics"), Slug: "new"})
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("a new course with the skeleton of an old one: %v, want ErrConflict", err)
		}
		// A younger look-alike keeps its name while it stays shared.
		err = db.InTx(ctx, func(q *store.Queries) error {
			return q.UpdateOrganization(ctx, 3, store.OrganizationFields{Name: "Аcme", NameKey: "аcme", NameSkeleton: names.Key("Аcme"),
				NameSkeletonShared: true, Slug: "org-3", Description: "Still here."})
		})
		if err != nil {
			t.Errorf("update a shared organization name: %v", err)
		}
		err = db.InTx(ctx, func(q *store.Queries) error {
			return q.UpdateOrganization(ctx, 3, store.OrganizationFields{Name: "Аcme", NameKey: "аcme", NameSkeleton: names.Key("Аcme"), Slug: "org-3"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("unshare the skeleton the oldest holds: %v, want ErrConflict", err)
		}
	})
}
