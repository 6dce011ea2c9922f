package store

import (
	"context"
	"database/sql"
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

// FindCtx returns the data of an unexpired session.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var data []byte
	err := s.db.Read().queryRow(ctx, `SELECT data FROM sessions WHERE token = ? AND expiry > ?`, token, now()).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return data, true, nil
}

// SessionOwner is who a session being saved belongs to. The web layer
// puts it in the context it saves the session with (WithSessionOwner),
// because scs hands the store only the encoded session.
type SessionOwner struct {
	UserID    int64 // 0: nobody is logged in
	Epoch     int64 // the user's session epoch the session was started with
	UserAgent string
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
			INSERT INTO sessions (token, data, expiry, user_id, user_epoch, created_at, last_seen_at, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry,
				user_id = excluded.user_id, user_epoch = excluded.user_epoch,
				created_at = COALESCE(sessions.created_at, excluded.created_at),
				last_seen_at = excluded.last_seen_at, user_agent = excluded.user_agent`,
			token, data, expiry.UTC().Truncate(time.Microsecond), userID, owner.Epoch, t, t, agent)
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
	CreatedAt  time.Time // when the session began (its login)
	LastSeenAt time.Time // when it was last written: within a minute of its last use
	UserAgent  string
	Current    bool // the session asking
}

// UserSessions lists the unexpired sessions of a user started with the
// user's current session epoch (the others have ended), the current one
// (token) first, then the most recently seen.
func (q *Queries) UserSessions(ctx context.Context, userID, epoch int64, token string) ([]UserSession, error) {
	rs, err := q.query(ctx, `
		SELECT created_at, last_seen_at, user_agent, CASE WHEN token = ? THEN 1 ELSE 0 END AS is_current
		FROM sessions WHERE user_id = ? AND user_epoch = ? AND expiry > ?
		ORDER BY is_current DESC, last_seen_at DESC`, token, userID, epoch, now())
	if err != nil {
		return nil, fmt.Errorf("sessions of user %d: %w", userID, err)
	}
	defer rs.Close()
	var list []UserSession
	for rs.Next() {
		var (
			us      UserSession
			created sql.NullTime
			current int
		)
		if err := rs.Scan(&created, &us.LastSeenAt, &us.UserAgent, &current); err != nil {
			return nil, fmt.Errorf("sessions of user %d: %w", userID, err)
		}
		us.LastSeenAt = us.LastSeenAt.UTC()
		us.CreatedAt = us.LastSeenAt
		if created.Valid {
			us.CreatedAt = created.Time.UTC()
		}
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
