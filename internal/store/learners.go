package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Learner is a person who enrolls in an organization's courses, known by
// a normalized email address, once per organization.
type Learner struct {
	ID             int64
	OrganizationID int64
	Email          string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

const learnerColumns = `id, organization_id, email, created_at, updated_at`

func scanLearner(r row) (Learner, error) {
	var l Learner
	if err := r.Scan(&l.ID, &l.OrganizationID, &l.Email, &l.CreatedAt, &l.UpdatedAt); err != nil {
		return Learner{}, err
	}
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	return l, nil
}

// SaveLearner returns the organization's learner with the (normalized)
// email, creating it when there is none. It is one statement, so two
// requests for the same new address get the same learner.
func (q *Queries) SaveLearner(ctx context.Context, orgID int64, email string) (Learner, error) {
	t := now()
	// DO UPDATE rather than DO NOTHING: only a statement that touches the
	// existing row returns it. Setting the email to itself changes nothing.
	l, err := scanLearner(q.queryRow(ctx, `
		INSERT INTO learners (organization_id, email, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (organization_id, email) DO UPDATE SET email = excluded.email
		RETURNING `+learnerColumns, orgID, email, t, t))
	if err != nil {
		return Learner{}, fmt.Errorf("save learner %s in organization %d: %w", email, orgID, err)
	}
	return l, nil
}

// Learner returns an organization's learner by id, or ErrNotFound.
func (q *Queries) Learner(ctx context.Context, orgID, id int64) (Learner, error) {
	l, err := scanLearner(q.queryRow(ctx, `SELECT `+learnerColumns+` FROM learners WHERE organization_id = ? AND id = ?`, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Learner{}, ErrNotFound
	}
	if err != nil {
		return Learner{}, fmt.Errorf("learner %d of organization %d: %w", id, orgID, err)
	}
	return l, nil
}

// LearnerFilter selects an organization's learners for a list.
type LearnerFilter struct {
	OrganizationID int64
	Search         string // part of the email address, any case
	Offset         int
	Limit          int
}

// ListLearners returns one page of an organization's learners by email,
// and how many match in all.
func (q *Queries) ListLearners(ctx context.Context, f LearnerFilter) ([]Learner, int, error) {
	cond := `organization_id = ?`
	args := []any{f.OrganizationID}
	if s := strings.TrimSpace(f.Search); s != "" {
		cond += ` AND email LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(s))+"%")
	}
	var total int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM learners WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count learners of organization %d: %w", f.OrganizationID, err)
	}
	rs, err := q.query(ctx, `SELECT `+learnerColumns+` FROM learners WHERE `+cond+`
		ORDER BY email, id LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("learners of organization %d: %w", f.OrganizationID, err)
	}
	defer rs.Close()
	var list []Learner
	for rs.Next() {
		l, err := scanLearner(rs)
		if err != nil {
			return nil, 0, fmt.Errorf("learners of organization %d: %w", f.OrganizationID, err)
		}
		list = append(list, l)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, fmt.Errorf("learners of organization %d: %w", f.OrganizationID, err)
	}
	return list, total, nil
}
