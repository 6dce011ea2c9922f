package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SessionStore keeps login sessions in the database, so every node of an
// install sees the same sessions. It implements scs.CtxStore.
type SessionStore struct {
	db *DB
}

// Sessions returns the session store of db.
func (db *DB) Sessions() *SessionStore { return &SessionStore{db: db} }

// FindCtx returns the data of an unexpired session. When ctx carries a
// SessionUser (WithSessionUser), the user the session was saved for is
// read in the same statement and put there: every logged-in request needs
// both, and one statement costs less than two.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var data []byte
	if found, ok := ctx.Value(sessionUserKey{}).(*SessionUser); ok {
		u, err := scanUser(prefixedRow{s.db.Read().queryRow(ctx, findSessionWithUser, token, now()), []any{&data}})
		if err == nil {
			found.User, found.Found = u, true
			return data, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("find session: %w", err)
		}
		// A session of nobody logged in, or one saved before sessions
		// kept their owner.
	}
	err := s.db.Read().queryRow(ctx, `SELECT data FROM sessions WHERE token = ? AND expiry > ? AND ended_at IS NULL`, token, now()).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return data, true, nil
}

var findSessionWithUser = `SELECT s.data, ` + prefixed("u.", userColumns) + `
	FROM sessions s JOIN users u ON u.id = s.user_id
	WHERE s.token = ? AND s.expiry > ? AND s.ended_at IS NULL`

// SessionUser receives the user a session was saved for, read with the
// session. Whether the session still logs the user in is the caller's to
// decide.
type SessionUser struct {
	Found bool
	User  User
}

type sessionUserKey struct{}

// WithSessionUser returns ctx asking FindCtx for the user of the session
// it finds, and where the answer will be.
func WithSessionUser(ctx context.Context) (context.Context, *SessionUser) {
	found := new(SessionUser)
	return context.WithValue(ctx, sessionUserKey{}, found), found
}

// SessionUserOf returns what FindCtx put in ctx's SessionUser, if anything.
func SessionUserOf(ctx context.Context) (SessionUser, bool) {
	found, ok := ctx.Value(sessionUserKey{}).(*SessionUser)
	if !ok || !found.Found {
		return SessionUser{}, false
	}
	return *found, true
}

// prefixedRow scans its first columns into first and the rest into what
// Scan is given, so that a statement can read more than a scanner of one
// table knows about.
type prefixedRow struct {
	row   interface{ Scan(...any) error }
	first []any
}

func (r prefixedRow) Scan(dest ...any) error {
	return r.row.Scan(append(r.first[:len(r.first):len(r.first)], dest...)...)
}

// prefixed qualifies each of a comma-separated list of columns with
// prefix.
func prefixed(prefix, columns string) string {
	list := strings.Split(columns, ",")
	for i, c := range list {
		list[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(list, ", ")
}

// SessionOwner is who a session being saved belongs to. The web layer
// puts it in the context it saves the session with (WithSessionOwner),
// because scs hands the store only the encoded session.
type SessionOwner struct {
	UserID    int64 // 0: nobody is logged in
	Epoch     int64 // the user's session epoch the session was started with
	UserAgent string
	ClientIP  string
}

type sessionOwnerKey struct{}

// WithSessionOwner returns ctx carrying the owner of the session that is
// saved with it.
func WithSessionOwner(ctx context.Context, owner SessionOwner) context.Context {
	return context.WithValue(ctx, sessionOwnerKey{}, owner)
}

// MaxUserAgentBytes bounds the description of the browser kept with a
// session.
const MaxUserAgentBytes = 100

// CommitCtx creates or replaces a session, with its owner when ctx
// carries one. The time it is written is when it was last seen: an
// unchanged session is written again at least every minute it is used.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	owner, _ := ctx.Value(sessionOwnerKey{}).(SessionOwner)
	var userID any
	if owner.UserID != 0 {
		userID = owner.UserID
	}
	agent := owner.UserAgent
	if len(agent) > MaxUserAgentBytes {
		agent = strings.ToValidUTF8(agent[:MaxUserAgentBytes], "")
	}
	t := now()
	return s.db.InTx(ctx, func(q *Queries) error {
		_, err := q.exec(ctx, `
			INSERT INTO sessions (token, data, expiry, user_id, user_epoch, created_at, last_seen_at, user_agent, client_ip)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry,
				user_id = excluded.user_id, user_epoch = excluded.user_epoch,
				created_at = COALESCE(sessions.created_at, excluded.created_at),
				last_seen_at = excluded.last_seen_at, user_agent = excluded.user_agent, client_ip = excluded.client_ip`,
			token, data, expiry.UTC().Truncate(time.Microsecond), userID, owner.Epoch, t, t, agent, owner.ClientIP)
		if err != nil {
			return fmt.Errorf("commit session: %w", err)
		}
		return nil
	})
}

// DeleteCtx removes a session.
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	return s.db.InTx(ctx, func(q *Queries) error {
		if _, err := q.exec(ctx, `DELETE FROM sessions WHERE token = ?`, token); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return nil
	})
}

// Find, Commit and Delete satisfy scs.Store; scs calls the Ctx variants.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s *SessionStore) Commit(token string, data []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, data, expiry)
}

func (s *SessionStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteExpired removes sessions past their expiry and reports how many.
func (s *SessionStore) DeleteExpired(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.InTx(ctx, func(q *Queries) error {
		var err error
		n, err = q.exec(ctx, `DELETE FROM sessions WHERE expiry <= ?`, now())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// UserSession is one live login session of a user, as the user sees it.
type UserSession struct {
	ID         string    // SessionID of its token
	CreatedAt  time.Time // when the session began (its login)
	LastSeenAt time.Time // when it was last written: within a minute of its last use
	UserAgent  string
	ClientIP   string // where it was last used from
	Current    bool   // the session asking
}

// SessionID names a session to its user without its token, which is the
// session's key: a page that lists sessions must not show it.
func SessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// UserSessions lists the unexpired sessions of a user started with the
// user's current session epoch (the others have ended), the current one
// (token) first, then the most recently seen.
func (q *Queries) UserSessions(ctx context.Context, userID, epoch int64, token string) ([]UserSession, error) {
	rs, err := q.query(ctx, `
		SELECT token, created_at, last_seen_at, user_agent, client_ip, CASE WHEN token = ? THEN 1 ELSE 0 END AS is_current
		FROM sessions WHERE user_id = ? AND user_epoch = ? AND expiry > ? AND ended_at IS NULL
		ORDER BY is_current DESC, last_seen_at DESC`, token, userID, epoch, now())
	if err != nil {
		return nil, fmt.Errorf("sessions of user %d: %w", userID, err)
	}
	defer rs.Close()
	var list []UserSession
	for rs.Next() {
		var (
			us      UserSession
			token   string
			created sql.NullTime
			current int
		)
		if err := rs.Scan(&token, &created, &us.LastSeenAt, &us.UserAgent, &us.ClientIP, &current); err != nil {
			return nil, fmt.Errorf("sessions of user %d: %w", userID, err)
		}
		us.LastSeenAt = us.LastSeenAt.UTC()
		us.CreatedAt = us.LastSeenAt
		if created.Valid {
			us.CreatedAt = created.Time.UTC()
		}
		us.ID = SessionID(token)
		us.Current = current == 1
		list = append(list, us)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("sessions of user %d: %w", userID, err)
	}
	return list, nil
}

// DeleteOtherSessions removes every session of a user but the one with
// token, and reports how many it removed.
func (q *Queries) DeleteOtherSessions(ctx context.Context, userID int64, token string) (int64, error) {
	n, err := q.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND token <> ?`, userID, token)
	if err != nil {
		return 0, fmt.Errorf("delete other sessions of user %d: %w", userID, err)
	}
	return n, nil
}

// EndSession ends the live session of a user that SessionID names as id,
// and reports whether there was one. The row stays, marked and emptied,
// until it expires, so that a request of that session under way cannot
// write it back to life.
func (q *Queries) EndSession(ctx context.Context, userID int64, id string) (bool, error) {
	rs, err := q.query(ctx, `SELECT token FROM sessions WHERE user_id = ? AND expiry > ? AND ended_at IS NULL`, userID, now())
	if err != nil {
		return false, fmt.Errorf("sessions of user %d: %w", userID, err)
	}
	var token string
	for rs.Next() {
		var t string
		if err := rs.Scan(&t); err != nil {
			rs.Close()
			return false, fmt.Errorf("sessions of user %d: %w", userID, err)
		}
		if SessionID(t) == id {
			token = t
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil || token == "" {
		return false, err
	}
	if _, err := q.exec(ctx, `UPDATE sessions SET ended_at = ?, data = ? WHERE token = ?`, now(), []byte{}, token); err != nil {
		return false, fmt.Errorf("end a session of user %d: %w", userID, err)
	}
	return true, nil
}
