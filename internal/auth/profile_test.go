package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestSetName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newAccounts(t, db)
		u, _, err := a.CreateSuperuser(ctx, "ada@example.com", goodPassword, "")
		if err != nil {
			t.Fatal(err)
		}
		for name, code := range map[string]string{
			"   ":               "name_required",
			"Ada\u200bLovelace": "name_invalid",
			"Ada\nLovelace":     "name_invalid",
			strings.Repeat("é", auth.MaxNameRunes+1): "name_too_long",
		} {
			_, err := a.SetName(ctx, u, name)
			if p, ok := problem.As(err); !ok || p.Code != code || p.Fields["name"] == "" {
				t.Errorf("SetName(%q) = %v, want %s on the field name", name, err, code)
			}
		}
		got, err := a.SetName(ctx, u, " Ada\u00a0\u00a0Lovelace ")
		if err != nil || got != "Ada Lovelace" {
			t.Fatalf("SetName = %q, %v", got, err)
		}
		if stored, _ := db.Read().UserByID(ctx, u.ID); stored.Name != "Ada Lovelace" {
			t.Errorf("stored name %q", stored.Name)
		}
		if _, err := a.SetName(ctx, u, strings.Repeat("é", auth.MaxNameRunes)); err != nil {
			t.Errorf("a name of %d characters: %v", auth.MaxNameRunes, err)
		}
	})
}

func TestEndOtherSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newAccounts(t, db)
		u, _, err := a.CreateSuperuser(ctx, "ada@example.com", goodPassword, "")
		if err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Hour)
		for _, token := range []string{"laptop", "phone"} {
			owner := store.SessionOwner{UserID: u.ID, Epoch: u.SessionEpoch}
			if err := db.Sessions().CommitCtx(store.WithSessionOwner(ctx, owner), token, []byte("x"), later); err != nil {
				t.Fatal(err)
			}
		}
		if list, err := a.Sessions(ctx, u, "laptop"); err != nil || len(list) != 2 || !list[0].Current {
			t.Fatalf("sessions = %+v, %v", list, err)
		}
		epoch, err := a.EndOtherSessions(ctx, u, "laptop")
		if err != nil {
			t.Fatal(err)
		}
		// Every session of the old epoch has ended, the asking one too: it
		// goes on with the new epoch.
		if _, err := a.SessionUser(ctx, u.ID, u.SessionEpoch); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a session of the old epoch: %v, want ErrNotFound", err)
		}
		if _, err := a.SessionUser(ctx, u.ID, epoch); err != nil {
			t.Errorf("a session of the new epoch: %v", err)
		}
		if _, found, _ := db.Sessions().Find("phone"); found {
			t.Error("the other session is still stored")
		}
		if _, found, _ := db.Sessions().Find("laptop"); !found {
			t.Error("the asking session was deleted")
		}
	})
}
