package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// CommitCtx creates or replaces a session.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, data []byte, expiry time.Time) error {
	return s.db.InTx(ctx, func(q *Queries) error {
		_, err := q.exec(ctx, `
			INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)
			ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
			token, data, expiry.UTC().Truncate(time.Microsecond))
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
