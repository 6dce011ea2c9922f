package web

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// sqliteIn opens a fresh, migrated SQLite database in dir, and a
// connection of the test's own to the same file, for counting and
// refusing writes with triggers and for checking what was stored.
func sqliteIn(t testing.TB, dir string) (*store.DB, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mailschool.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	t.Cleanup(func() { raw.Close() })
	return db, raw
}

func execSQL(t testing.TB, raw *sql.DB, statements ...string) {
	t.Helper()
	for _, q := range statements {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// countSessionWrites makes the database count the writes to the sessions
// table, and returns the count so far.
func countSessionWrites(t testing.TB, raw *sql.DB) func() int {
	execSQL(t, raw,
		`CREATE TABLE session_writes (n INTEGER NOT NULL)`,
		`INSERT INTO session_writes VALUES (0)`,
		`CREATE TRIGGER count_session_inserts AFTER INSERT ON sessions BEGIN UPDATE session_writes SET n = n + 1; END`,
		`CREATE TRIGGER count_session_updates AFTER UPDATE ON sessions BEGIN UPDATE session_writes SET n = n + 1; END`)
	return func() int {
		t.Helper()
		var n int
		if err := raw.QueryRow(`SELECT n FROM session_writes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

func countRows(t testing.TB, raw *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := raw.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// oneJSONDocument reports why body is not a single JSON document, or "".
func oneJSONDocument(body string) string {
	dec := json.NewDecoder(strings.NewReader(body))
	var v any
	if err := dec.Decode(&v); err != nil {
		return err.Error()
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "more after the first JSON document"
	}
	return ""
}

// Requests that change nothing in the session do not write it: its idle
// expiry moves at most once a minute.
func TestUnchangedSessionIsNotWritten(t *testing.T) {
	db, raw := sqliteIn(t, t.TempDir())
	app := newTestApp(t, db)
	writes := countSessionWrites(t, raw)
	c := app.loggedIn(adminEmail, adminPassword)
	if n := writes(); n != 1 {
		t.Fatalf("logging in wrote the session %d times, want 1", n)
	}
	const requests = 100
	for i := range requests {
		path := "/email-learning/platform/organizations/"
		switch i % 3 {
		case 1:
			path = "/api/v1/me"
		case 2:
			// Its first visit changes the session: the organization last visited.
			path = "/email-learning/platform/organizations/1/"
		}
		if res := c.get(path); res.status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, res.status)
		}
	}
	n := writes() - 1
	t.Logf("%d requests wrote the session %d times", requests, n)
	if n > 1 {
		t.Errorf("%d requests within a minute of logging in wrote the session %d times, want at most 1", requests, n)
	}
}

// A session used more often than its idle timeout lives on, a session
// left unused longer than it ends, and the expiry is written at most
// every tenth of the idle timeout.
func TestSessionIdleTimeout(t *testing.T) {
	const idle = 3 * time.Second
	db, raw := sqliteIn(t, t.TempDir())
	app := newTestApp(t, db, func(o *Options) { o.SessionIdleTimeout = idle })
	writes := countSessionWrites(t, raw)
	c := app.loggedIn(adminEmail, adminPassword)
	start, requests := time.Now(), 0
	for time.Since(start) < idle*3/2 {
		if res := c.get("/api/v1/me"); res.status != http.StatusOK {
			t.Fatalf("after %v of use, GET /api/v1/me: %d", time.Since(start), res.status)
		}
		requests++
		time.Sleep(20 * time.Millisecond)
	}
	n, most := writes()-1, int(time.Since(start)/(idle/10))+1
	t.Logf("%d requests in %v wrote the session %d times", requests, time.Since(start).Round(time.Millisecond), n)
	if n > most {
		t.Errorf("%d requests wrote the session %d times, want at most %d (one per tenth of the idle timeout)", requests, n, most)
	}
	time.Sleep(idle + 100*time.Millisecond)
	if res := c.get("/api/v1/me"); res.status != http.StatusUnauthorized {
		t.Errorf("after %v unused, GET /api/v1/me: %d, want 401", idle, res.status)
	}
}

// refuseSessionWrites makes every write of a session fail, as a full disk
// does.
func refuseSessionWrites(t testing.TB, raw *sql.DB) {
	execSQL(t, raw,
		`CREATE TRIGGER refuse_session_inserts BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
		`CREATE TRIGGER refuse_session_updates BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`)
}

// When the session cannot be saved after the handler has done its work,
// the handler's answer goes out as it is: a 500 would make clients repeat
// a change that went through. Where the session is the point (logging in,
// staying logged in after a password change), the answer says that the
// person is not logged in.
func TestSessionSaveFailure(t *testing.T) {
	// With this idle timeout an unchanged session is written again after
	// 1.2 s, so that each request below has one to save; the session, not
	// saved since the writes are refused, lasts through the subtests with
	// room to spare on a busy machine.
	const idle = 12 * time.Second
	db, raw := sqliteIn(t, t.TempDir())
	app := newTestApp(t, db, func(o *Options) { o.SessionIdleTimeout = idle })
	admin := app.loggedIn(adminEmail, adminPassword)
	admin.post(organizationPath(1)+"members/", url.Values{"email": {"newbie@example.com"}, "role": {"viewer"}})
	invitation := app.linkIn(app.mails("newbie@example.com", mail.KindInvitation)[0].Text, "/invitations/")
	refuseSessionWrites(t, raw)

	t.Run("API write", func(t *testing.T) {
		time.Sleep(idle/10 + 100*time.Millisecond)
		res, _ := admin.api(http.MethodPost, "/api/v1/organizations", map[string]string{"name": "Acme"})
		if res.status != http.StatusCreated {
			t.Errorf("POST /api/v1/organizations: %d, want 201\n%s", res.status, res.body)
		}
		if why := oneJSONDocument(res.body); why != "" {
			t.Errorf("body is not one JSON document (%s):\n%s", why, res.body)
		}
		if n := countRows(t, raw, `SELECT count(*) FROM organizations WHERE name = 'Acme'`); n != 1 {
			t.Errorf("%d organizations Acme stored, want 1", n)
		}
	})
	t.Run("form with a flash message", func(t *testing.T) {
		time.Sleep(idle/10 + 100*time.Millisecond)
		res := admin.postMultipart("/email-learning/platform/organizations/", map[string]string{"name": "Beta"})
		if res.status != http.StatusSeeOther || strings.Contains(res.body, "Something went wrong") {
			t.Errorf("POST organization form: %d, want 303\n%s", res.status, res.body)
		}
		if n := countRows(t, raw, `SELECT count(*) FROM organizations WHERE name = 'Beta'`); n != 1 {
			t.Errorf("%d organizations Beta stored, want 1", n)
		}
	})
	t.Run("invitation accepted with a new account", func(t *testing.T) {
		guest := app.client()
		res := guest.post(invitation, url.Values{"name": {"Newbie"}, "password": {"a long passphrase"}, "password_confirm": {"a long passphrase"}})
		if res.status != http.StatusOK || !strings.Contains(res.body, "Your account is ready and you are a member of the organization, but") {
			t.Errorf("accepting an invitation without a session store: %d, want 200 and the login form saying so\n%s", res.status, res.body)
		}
		if strings.Contains(res.body, "Welcome!") {
			t.Errorf("the page shows the welcome meant for a logged-in member:\n%s", res.body)
		}
		if _, err := app.db.Read().UserByEmail(t.Context(), "newbie@example.com"); err != nil {
			t.Errorf("the account was not created: %v", err)
		}
		if res := guest.get("/api/v1/me"); res.status != http.StatusUnauthorized {
			t.Errorf("after an acceptance whose session was not saved, GET /api/v1/me: %d, want 401", res.status)
		}
	})
	t.Run("login", func(t *testing.T) {
		c := app.client()
		res := c.post("/accounts/login/", url.Values{"email": {adminEmail}, "password": {adminPassword}})
		if res.status != http.StatusInternalServerError {
			t.Errorf("login without a session store: %d, want 500\n%s", res.status, res.body)
		}
		if res := c.get("/api/v1/me"); res.status != http.StatusUnauthorized {
			t.Errorf("after a login whose session was not saved, GET /api/v1/me: %d, want 401", res.status)
		}
	})
	t.Run("password change", func(t *testing.T) {
		res := admin.post("/accounts/password_change/", url.Values{
			"old_password": {adminPassword}, "new_password": {"brand new secret"}, "password_confirm": {"brand new secret"}})
		if res.status != http.StatusOK || !strings.Contains(res.body, "Your password was changed, but") {
			t.Errorf("password change without a session store: %d, want 200 and the login form saying so\n%s", res.status, res.body)
		}
		if strings.Contains(res.body, "Something went wrong") {
			t.Errorf("password change answered an error:\n%s", res.body)
		}
		if res := admin.get("/api/v1/me"); res.status != http.StatusUnauthorized {
			t.Errorf("after a password change whose session was not saved, GET /api/v1/me: %d, want 401", res.status)
		}
		execSQL(t, raw, `DROP TRIGGER refuse_session_inserts`, `DROP TRIGGER refuse_session_updates`)
		app.loggedIn(adminEmail, "brand new secret")
		app.loggedIn("newbie@example.com", "a long passphrase")
	})
}

// A session saved before its lifetime's end was kept apart (its deadline
// in scs is that end) keeps working, and keeps its end.
func TestSessionFromBeforeIdleExpiries(t *testing.T) {
	db, raw := sqliteIn(t, t.TempDir())
	app := newTestApp(t, db)
	var userID, epoch int64
	if err := raw.QueryRow(`SELECT id, session_epoch FROM users WHERE email = ?`, adminEmail).Scan(&userID, &epoch); err != nil {
		t.Fatal(err)
	}
	ends := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	data, err := scs.GobCodec{}.Encode(ends, map[string]any{sessionUserID: userID, sessionEpoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	const token = "a-session-from-an-older-version"
	if err := db.Sessions().CommitCtx(t.Context(), token, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c := app.client()
	u, _ := url.Parse(app.srv.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "mailschool_session", Value: token, Path: "/"}})
	if res := c.get("/api/v1/me"); res.status != http.StatusOK {
		t.Fatalf("GET /api/v1/me with the older session: %d", res.status)
	}
	var stored []byte
	var expiry time.Time
	if err := raw.QueryRow(`SELECT data, expiry FROM sessions WHERE token = ?`, token).Scan(&stored, &expiry); err != nil {
		t.Fatal(err)
	}
	_, values, err := sessionCodec{}.Decode(stored)
	if err != nil {
		t.Fatal(err)
	}
	if got := values[sessionEnds]; got != ends.Unix() {
		t.Errorf("session end %v, want %v", got, ends.Unix())
	}
	if want := time.Now().Add(DefaultSessionIdleTimeout); expiry.Before(want.Add(-time.Minute)) || expiry.After(want) {
		t.Errorf("session expiry %v, want the idle timeout from now (%v)", expiry, want)
	}
}

// A session this version cannot read (saved by a later one, or damaged)
// logs its holder out: the pages answer as to someone not logged in, and
// the cookie is replaced once something is kept in the session.
func TestUnreadableSessionLogsOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		const token = "a-session-from-a-later-version"
		for _, data := range [][]byte{{0xff, 0x01, 0x02}, {compactSession, 0x99}} {
			if err := db.Sessions().CommitCtx(t.Context(), token, data, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			c := app.client()
			u, _ := url.Parse(app.srv.URL)
			c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "mailschool_session", Value: token, Path: "/"}})
			if res := c.get("/api/v1/me"); res.status != http.StatusUnauthorized {
				t.Errorf("GET /api/v1/me with an unreadable session: %d, want 401", res.status)
			}
			if res := c.get("/accounts/login/"); res.status != http.StatusOK {
				t.Errorf("the login page with an unreadable session: %d", res.status)
			}
			if res := c.post("/accounts/login/", url.Values{"email": {adminEmail}, "password": {adminPassword}}); res.status != http.StatusSeeOther {
				t.Fatalf("logging in again: %d", res.status)
			}
			if res := c.get("/api/v1/me"); res.status != http.StatusOK {
				t.Errorf("after logging in again: %d", res.status)
			}
			if ck := sessionCookie(c); ck == nil || ck.Value == token {
				t.Errorf("the unreadable session's cookie was kept: %v", ck)
			}
		}
	})
}
