package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestUserSessions: a session saved with an owner is listed for that user
// while it is unexpired and of the user's current epoch; ending the
// others leaves the asking session and other users' sessions.
func TestUserSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var ada, bob store.User
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			if ada, err = q.CreateUser(ctx, store.NewUser{Email: "ada@example.com"}); err != nil {
				return err
			}
			bob, err = q.CreateUser(ctx, store.NewUser{Email: "bob@example.com"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sessions := db.Sessions()
		later := time.Now().Add(time.Hour)
		commit := func(token string, owner store.SessionOwner, expiry time.Time) {
			t.Helper()
			if err := sessions.CommitCtx(store.WithSessionOwner(ctx, owner), token, []byte("data"), expiry); err != nil {
				t.Fatal(err)
			}
		}
		commit("laptop", store.SessionOwner{UserID: ada.ID, Epoch: ada.SessionEpoch, UserAgent: "Firefox on Linux"}, later)
		commit("phone", store.SessionOwner{UserID: ada.ID, Epoch: ada.SessionEpoch, UserAgent: strings.Repeat("é", 80)}, later)
		commit("stale", store.SessionOwner{UserID: ada.ID, Epoch: ada.SessionEpoch - 1}, later)
		commit("expired", store.SessionOwner{UserID: ada.ID, Epoch: ada.SessionEpoch}, time.Now().Add(-time.Minute))
		commit("bob", store.SessionOwner{UserID: bob.ID, Epoch: bob.SessionEpoch}, later)
		commit("anonymous", store.SessionOwner{}, later)
		if err := sessions.Commit("plain", []byte("data"), later); err != nil {
			t.Fatal(err)
		}
		// Written again, a session keeps when it began.
		first, err := db.Read().UserSessions(ctx, ada.ID, ada.SessionEpoch, "laptop")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		commit("laptop", store.SessionOwner{UserID: ada.ID, Epoch: ada.SessionEpoch, UserAgent: "Firefox on Linux"}, later)

		list, err := db.Read().UserSessions(ctx, ada.ID, ada.SessionEpoch, "laptop")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || !list[0].Current || list[1].Current || list[0].UserAgent != "Firefox on Linux" {
			t.Fatalf("ada's sessions = %+v, want laptop (current) and phone", list)
		}
		if !list[0].CreatedAt.Equal(first[0].CreatedAt) || !list[0].LastSeenAt.After(first[0].LastSeenAt) {
			t.Errorf("laptop written again: began %v, seen %v; before %+v", list[0].CreatedAt, list[0].LastSeenAt, first[0])
		}
		if agent := list[1].UserAgent; len(agent) > store.MaxUserAgentBytes || !strings.HasPrefix(agent, "éé") || !strings.HasSuffix(agent, "é") {
			t.Errorf("a long user agent is kept as %q (%d bytes): want it cut on a character, within %d bytes", agent, len(agent), store.MaxUserAgentBytes)
		}

		var n int64
		if err := db.InTx(ctx, func(q *store.Queries) error {
			n, err = q.DeleteOtherSessions(ctx, ada.ID, "laptop")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n != 3 { // phone, stale, expired
			t.Errorf("deleted %d sessions, want 3", n)
		}
		for token, want := range map[string]bool{"laptop": true, "phone": false, "stale": false, "bob": true, "anonymous": true, "plain": true} {
			if _, found, err := sessions.Find(token); err != nil || found != want {
				t.Errorf("session %s found = %v, %v; want %v", token, found, err, want)
			}
		}
	})
}

// TestFindSessionWithItsUser: asked for, a session's user comes with its
// data; a session of nobody, an expired or ended one, or an unknown token
// bring no user (and the last three no data).
func TestFindSessionWithItsUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var ada store.User
		err := db.InTx(ctx, func(q *store.Queries) error {
			var err error
			ada, err = q.CreateUser(ctx, store.NewUser{Email: "ada@example.com", Name: "Ada"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sessions := db.Sessions()
		later := time.Now().Add(time.Hour)
		for token, owner := range map[string]store.SessionOwner{"ada": {UserID: ada.ID, Epoch: ada.SessionEpoch}, "anonymous": {}} {
			if err := sessions.CommitCtx(store.WithSessionOwner(ctx, owner), token, []byte("data of "+token), later); err != nil {
				t.Fatal(err)
			}
		}
		if err := sessions.CommitCtx(store.WithSessionOwner(ctx, store.SessionOwner{UserID: ada.ID}), "expired", []byte("x"), time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			token, data string
			user        bool
		}{{"ada", "data of ada", true}, {"anonymous", "data of anonymous", false}, {"expired", "", false}, {"unknown", "", false}} {
			findCtx, _ := store.WithSessionUser(ctx)
			data, ok, err := sessions.FindCtx(findCtx, c.token)
			if err != nil || string(data) != c.data || ok != (c.data != "") {
				t.Errorf("%s: found %q, %v, %v; want %q", c.token, data, ok, err, c.data)
			}
			found, ok := store.SessionUserOf(findCtx)
			if ok != c.user || (c.user && (found.User.ID != ada.ID || found.User.Email != ada.Email || found.User.Name != "Ada")) {
				t.Errorf("%s: user %+v, %v; want one: %v", c.token, found.User, ok, c.user)
			}
		}
		// Without asking, nothing is put anywhere.
		if _, ok := store.SessionUserOf(ctx); ok {
			t.Error("a user without asking for one")
		}
	})
}
