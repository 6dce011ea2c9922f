package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// addAuditEntries records entries in an organization's log, each action
// by the actor at the same index, and dates the entry at index i at
// at[i] when at is given.
func addAuditEntries(t testing.TB, db *store.DB, orgID int64, actions, actors []string, at []time.Time) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(q *store.Queries) error {
		for i, a := range actions {
			if err := q.AddAuditEntry(ctx, store.AuditEntry{OrganizationID: orgID, ActorEmail: actors[i], Action: a, Target: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, when := range at {
		if err := db.Exec(ctx, `UPDATE audit_log SET created_at = ? WHERE organization_id = ? AND target = ?`,
			when.UTC(), orgID, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// targets lists the entries as their targets, newest first.
func targets(list []store.AuditEntry) string {
	var out []string
	for _, e := range list {
		out = append(out, e.Target)
	}
	return strings.Join(out, ",")
}

// TestFilteredAuditLog selects entries by kind, actor and time, alone and
// together, one organization's only, and pages through them by id.
func TestFilteredAuditLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		orgID, _ := storetest.NewOrganization(t, db, "Acme")
		otherID, _ := storetest.NewOrganization(t, db, "Other")
		day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		addAuditEntries(t, db, orgID,
			[]string{"member.added", "member.removed", "member.added", "invitation.created", "member.added", "member.role_changed"},
			[]string{"ann@example.com", "ann@example.com", "bob@example.com", "ann@example.com", "ann@example.com", "bob@example.com"},
			[]time.Time{day, day.Add(time.Hour), day.Add(24 * time.Hour), day.Add(25 * time.Hour), day.Add(48 * time.Hour), day.Add(49 * time.Hour)})
		addAuditEntries(t, db, otherID, []string{"member.added"}, []string{"ann@example.com"}, nil)

		for _, tc := range []struct {
			name   string
			filter store.AuditFilter
			want   string
		}{
			{"everything", store.AuditFilter{}, "5,4,3,2,1,0"},
			{"one kind", store.AuditFilter{Actions: []string{"member.added"}}, "4,2,0"},
			{"two kinds", store.AuditFilter{Actions: []string{"member.removed", "invitation.created"}}, "3,1"},
			{"actor", store.AuditFilter{ActorEmail: "bob@example.com"}, "5,2"},
			{"unknown actor", store.AuditFilter{ActorEmail: "nobody@example.com"}, ""},
			{"from", store.AuditFilter{From: day.Add(24 * time.Hour)}, "5,4,3,2"},
			{"to, before it", store.AuditFilter{To: day.Add(24 * time.Hour)}, "1,0"},
			{"from and to", store.AuditFilter{From: day.Add(time.Hour), To: day.Add(48 * time.Hour)}, "3,2,1"},
			{"kind, actor and time", store.AuditFilter{Actions: []string{"member.added"}, ActorEmail: "ann@example.com", From: day.Add(time.Minute)}, "4"},
		} {
			list, err := db.Read().FilteredAuditLog(ctx, orgID, tc.filter, 100)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := targets(list); got != tc.want {
				t.Errorf("%s: entries %q, want %q", tc.name, got, tc.want)
			}
		}

		// Pages of two, each older than the last entry of the one before.
		filter := store.AuditFilter{ActorEmail: "ann@example.com"}
		var pages []string
		for {
			list, err := db.Read().FilteredAuditLog(ctx, orgID, filter, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) == 0 {
				break
			}
			pages = append(pages, targets(list))
			filter.Before = list[len(list)-1].ID
		}
		if got := strings.Join(pages, " | "); got != "4,3 | 1,0" {
			t.Errorf("pages %q, want \"4,3 | 1,0\"", got)
		}
	})
}

// TestAuditLogFiltersReadAnIndex checks that each filter of the audit log
// reads its index rather than the whole log, on a log that looks like a
// busy platform's: 6,000 entries in three organizations, of twenty kinds
// by forty people over a hundred days, and a few of a rare kind by one
// rare actor (on PostgreSQL after ANALYZE; the planner is not forced).
func TestAuditLogFiltersReadAnIndex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 2000
		var orgID int64
		for _, name := range []string{"Busy", "Busier", "Busiest"} {
			orgID, _ = storetest.NewOrganization(t, db, name)
			actions, actors := make([]string, n), make([]string, n)
			for i := range n {
				actions[i], actors[i] = fmt.Sprintf("kind.%d", i%20), fmt.Sprintf("staff%d@example.com", i%40)
				if i%500 == 0 {
					actions[i], actors[i] = "api_key.revoked", "rare@example.com"
				}
			}
			addAuditEntries(t, db, orgID, actions, actors, nil)
			if err := db.Exec(ctx, `UPDATE audit_log SET created_at = ? WHERE organization_id = ? AND id % 100 = 0`,
				time.Now().Add(-100*24*time.Hour).UTC(), orgID); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Exec(ctx, `ANALYZE`); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for _, tc := range []struct {
			name   string
			filter store.AuditFilter
			index  string // the index the plan must read; "" for any
		}{
			{"kind", store.AuditFilter{Actions: []string{"api_key.revoked"}}, "audit_log_action_idx"},
			{"two kinds", store.AuditFilter{Actions: []string{"api_key.revoked", "member.left"}}, "audit_log_action_idx"},
			{"actor", store.AuditFilter{ActorEmail: "rare@example.com"}, "audit_log_actor_idx"},
			{"time", store.AuditFilter{From: now.Add(-48 * time.Hour), To: now.Add(-24 * time.Hour)}, "audit_log_created_idx"},
			{"all of them, second page", store.AuditFilter{Actions: []string{"api_key.revoked"}, ActorEmail: "rare@example.com",
				From: now.Add(-time.Hour), To: now.Add(time.Hour), Before: 3000}, ""},
		} {
			plans, err := db.AuditLogPlans(ctx, orgID, tc.filter, 51)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			for _, p := range plans {
				t.Log(tc.name, ", ", p)
				text := strings.Join(p.Lines, "\n")
				// SQLite names a full read "SCAN audit_log" with no index,
				// PostgreSQL "Seq Scan". PostgreSQL's generic plan does not
				// know how rare the values are, and may read the
				// organization's entries newest first instead (for two
				// kinds of twenty it expects a tenth of them to match):
				// still within the organization, never the whole log.
				full := strings.Contains(text, "Seq Scan") ||
					strings.Contains(text, "SCAN audit_log") && !strings.Contains(text, "INDEX")
				index := tc.index
				if p.Name == "PostgreSQL generic plan" && !strings.Contains(text, index) {
					index = "Index Cond: (organization_id = $1)"
				}
				if full || !strings.Contains(text, index) || !strings.Contains(text, "audit_log_") {
					t.Errorf("%s, %s: want a read of %s\n%s", tc.name, p.Name, or(tc.index, "an index"), p)
				}
			}
		}
	})
}

// BenchmarkFilteredAuditLog reads the first page of a rare kind's entries
// in an organization's log of 20,000 (one in a thousand of that kind),
// with the filters' indexes and without them.
func BenchmarkFilteredAuditLog(b *testing.B) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		for _, indexed := range []bool{true, false} {
			name := string(dialect) + "/indexes"
			if !indexed {
				name = string(dialect) + "/without the filters' indexes"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				db := storetest.New(b, dialect)
				orgID, _ := storetest.NewOrganization(b, db, "Busy")
				const n = 20000
				actions, actors := make([]string, n), make([]string, n)
				for i := range n {
					actions[i], actors[i] = fmt.Sprintf("kind.%d", i%20), fmt.Sprintf("staff%d@example.com", i%40)
					if i%1000 == 0 {
						actions[i] = "api_key.revoked"
					}
				}
				addAuditEntries(b, db, orgID, actions, actors, nil)
				if !indexed {
					for _, index := range []string{"audit_log_action_idx", "audit_log_actor_idx", "audit_log_created_idx"} {
						if err := db.Exec(ctx, `DROP INDEX `+index); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := db.Exec(ctx, `ANALYZE`); err != nil {
					b.Fatal(err)
				}
				filter := store.AuditFilter{Actions: []string{"api_key.revoked"}}
				for b.Loop() {
					list, err := db.Read().FilteredAuditLog(ctx, orgID, filter, 51)
					if err != nil || len(list) != n/1000 {
						b.Fatalf("%d entries, %v", len(list), err)
					}
				}
			})
		}
	}
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
