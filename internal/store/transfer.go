package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailschool/mailschool/internal/names"
)

// The rows of one organization as an export holds them (see
// internal/transfer): each kind is read in pages along its primary key
// and written back into another organization with new ids. References
// between kinds are remapped through a temporary table of old and new
// ids, filled as the rows are inserted, so that an import of millions of
// rows holds none of them in memory.

// FieldType is how a field's value travels: the Go type ExportRows gives
// and ImportRow takes.
type FieldType int

const (
	FieldInt   FieldType = iota + 1 // int64
	FieldText                       // string
	FieldBool                       // bool
	FieldTime                       // time.Time, UTC
	FieldBytes                      // []byte
)

// TransferField is one field of an exported row.
type TransferField struct {
	Name     string // in the export: the API's name where the API shows the row
	Column   string // in the table
	Type     FieldType
	Nullable bool   // nil is a value
	Ref      string // the kind whose ids it holds, remapped on import; "users" for accounts
}

// TransferKind is one kind of row of an organization.
type TransferKind struct {
	Name   string // the file's name without its extension, and the key of remapped ids
	Table  string
	Fields []TransferField // the first is the id
	// derive adds the columns an import computes rather than copies, from
	// the row's values by field name; each entry is a column and the SQL
	// of its value with its arguments.
	derive func(v map[string]any) []derivedColumn
}

type derivedColumn struct {
	column string
	sql    string
	args   []any
}

// Field returns the kind's field with the given name.
func (k TransferKind) Field(name string) (TransferField, bool) {
	for _, f := range k.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return TransferField{}, false
}

func plain(column string, args ...any) derivedColumn {
	return derivedColumn{column: column, sql: "?", args: args}
}

// TransferKinds lists the kinds an export holds, in the order an import
// inserts them: every kind after the kinds it refers to. Members,
// organization settings and the logo are read on their own.
var TransferKinds = []TransferKind{
	{Name: "courses", Table: "courses", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "title", Column: "title", Type: FieldText},
		{Name: "slug", Column: "slug", Type: FieldText},
		{Name: "description", Column: "description", Type: FieldText},
		{Name: "enabled", Column: "enabled", Type: FieldBool},
		{Name: "public", Column: "public", Type: FieldBool},
		{Name: "created_at", Column: "created_at", Type: FieldTime},
		{Name: "updated_at", Column: "updated_at", Type: FieldTime},
	}, derive: func(v map[string]any) []derivedColumn {
		title, _ := v["title"].(string)
		skeleton := names.Key(title)
		// Two titles that looked alike before titles were compared for
		// likeness keep the skeleton shared, as in their organization.
		return []derivedColumn{plain("title_key", strings.ToLower(title)), plain("title_skeleton", skeleton),
			{column: "title_skeleton_shared", sql: "EXISTS (SELECT 1 FROM courses c WHERE c.organization_id = ? AND c.title_skeleton = ?)",
				args: []any{orgIDArg{}, skeleton}}}
	}},
	{Name: "contents", Table: "content_items", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "course_id", Column: "course_id", Type: FieldInt, Ref: "courses"},
		{Name: "kind", Column: "kind", Type: FieldText},
		{Name: "title", Column: "title", Type: FieldText},
		{Name: "body", Column: "body", Type: FieldText},
		{Name: "position", Column: "position", Type: FieldInt},
		{Name: "waiting_period_seconds", Column: "waiting_period_seconds", Type: FieldInt},
		{Name: "published", Column: "published", Type: FieldBool},
		{Name: "required_score", Column: "required_score", Type: FieldInt},
		{Name: "created_at", Column: "created_at", Type: FieldTime},
		{Name: "updated_at", Column: "updated_at", Type: FieldTime},
	}},
	{Name: "quiz_questions", Table: "quiz_questions", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "content_id", Column: "content_id", Type: FieldInt, Ref: "contents"},
		{Name: "position", Column: "position", Type: FieldInt},
		{Name: "text", Column: "text", Type: FieldText},
	}},
	{Name: "quiz_answers", Table: "quiz_answers", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "question_id", Column: "question_id", Type: FieldInt, Ref: "quiz_questions"},
		{Name: "position", Column: "position", Type: FieldInt},
		{Name: "text", Column: "text", Type: FieldText},
		{Name: "correct", Column: "correct", Type: FieldBool},
	}},
	{Name: "learners", Table: "learners", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "email", Column: "email", Type: FieldText},
		{Name: "created_at", Column: "created_at", Type: FieldTime},
		{Name: "updated_at", Column: "updated_at", Type: FieldTime},
	}},
	// Confirmation token hashes are left out (a secret, and an unused
	// link's email went out from the other install); the link key, which
	// signs unsubscribe, quiz and claim links, is drawn anew.
	{Name: "enrollments", Table: "enrollments", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "course_id", Column: "course_id", Type: FieldInt, Ref: "courses"},
		{Name: "learner_id", Column: "learner_id", Type: FieldInt, Ref: "learners"},
		{Name: "status", Column: "status", Type: FieldText},
		{Name: "requested_ip", Column: "requested_ip", Type: FieldText},
		{Name: "confirmed_ip", Column: "confirmed_ip", Type: FieldText},
		{Name: "confirm_sent_at", Column: "confirm_sent_at", Type: FieldTime, Nullable: true},
		{Name: "activated_at", Column: "activated_at", Type: FieldTime, Nullable: true},
		{Name: "ended_at", Column: "ended_at", Type: FieldTime, Nullable: true},
		{Name: "created_at", Column: "created_at", Type: FieldTime},
		{Name: "updated_at", Column: "updated_at", Type: FieldTime},
	}, derive: func(map[string]any) []derivedColumn {
		return []derivedColumn{plain("link_key", newLinkKey())}
	}},
	// The emails themselves stay behind: they hold the other install's
	// links.
	{Name: "deliveries", Table: "deliveries", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "enrollment_id", Column: "enrollment_id", Type: FieldInt, Ref: "enrollments"},
		{Name: "content_id", Column: "content_id", Type: FieldInt, Ref: "contents"},
		{Name: "attempt", Column: "attempt", Type: FieldInt},
		{Name: "due_at", Column: "due_at", Type: FieldTime},
		{Name: "status", Column: "status", Type: FieldText},
		{Name: "attempts", Column: "attempts", Type: FieldInt},
		{Name: "sent_at", Column: "sent_at", Type: FieldTime, Nullable: true},
		{Name: "created_at", Column: "created_at", Type: FieldTime},
		{Name: "updated_at", Column: "updated_at", Type: FieldTime},
	}},
	{Name: "quiz_attempts", Table: "quiz_attempts", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "enrollment_id", Column: "enrollment_id", Type: FieldInt, Ref: "enrollments"},
		{Name: "delivery_id", Column: "delivery_id", Type: FieldInt, Ref: "deliveries"},
		{Name: "content_id", Column: "content_id", Type: FieldInt, Ref: "contents"},
		{Name: "course_id", Column: "course_id", Type: FieldInt, Ref: "courses"},
		{Name: "attempt", Column: "attempt", Type: FieldInt},
		{Name: "score", Column: "score", Type: FieldInt},
		{Name: "passed", Column: "passed", Type: FieldBool},
		{Name: "answers", Column: "answers", Type: FieldText},
		{Name: "answered_at", Column: "created_at", Type: FieldTime},
	}},
	{Name: "certificates", Table: "certificates", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "enrollment_id", Column: "enrollment_id", Type: FieldInt, Ref: "enrollments"},
		{Name: "number", Column: "number", Type: FieldText},
		{Name: "learner_name", Column: "learner_name", Type: FieldText, Nullable: true},
		{Name: "course_title", Column: "course_title", Type: FieldText},
		{Name: "organization_name", Column: "organization_name", Type: FieldText},
		{Name: "completed_at", Column: "completed_at", Type: FieldTime},
		{Name: "claimed_at", Column: "claimed_at", Type: FieldTime, Nullable: true},
		{Name: "qr_png", Column: "qr_png", Type: FieldBytes, Nullable: true},
		{Name: "revoked_at", Column: "revoked_at", Type: FieldTime, Nullable: true},
		{Name: "revoked_by", Column: "revoked_by_name", Type: FieldText},
		{Name: "revoked_by_id", Column: "revoked_by", Type: FieldInt, Nullable: true, Ref: "users"},
		{Name: "revocation_reason", Column: "revocation_reason", Type: FieldText},
		{Name: "created_at", Column: "created_at", Type: FieldTime},
	}},
	{Name: "blocked_emails", Table: "blocked_emails", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "email", Column: "email", Type: FieldText},
		{Name: "created_by_id", Column: "created_by", Type: FieldInt, Nullable: true, Ref: "users"},
		{Name: "created_at", Column: "created_at", Type: FieldTime},
	}},
	{Name: "audit", Table: "audit_log", Fields: []TransferField{
		{Name: "id", Column: "id", Type: FieldInt},
		{Name: "kind", Column: "action", Type: FieldText},
		{Name: "actor_id", Column: "actor_id", Type: FieldInt, Nullable: true, Ref: "users"},
		{Name: "actor_email", Column: "actor_email", Type: FieldText},
		{Name: "target", Column: "target", Type: FieldText},
		{Name: "target_user_id", Column: "target_user_id", Type: FieldInt, Nullable: true, Ref: "users"},
		{Name: "old_value", Column: "old_value", Type: FieldText},
		{Name: "new_value", Column: "new_value", Type: FieldText},
		{Name: "created_at", Column: "created_at", Type: FieldTime},
	}},
}

// orgIDArg stands for the organization's id among a derived column's
// arguments.
type orgIDArg struct{}

// ExportRows reads up to limit rows of a kind of organization orgID with
// ids above after, in id order, and calls fn with each row's values (in
// the order of the kind's fields). It returns the last id read and how
// many rows it read; fewer than limit means the kind is done.
func (q *Queries) ExportRows(ctx context.Context, k TransferKind, orgID, after int64, limit int, fn func(values []any) error) (last int64, n int, err error) {
	cols := make([]string, len(k.Fields))
	for i, f := range k.Fields {
		cols[i] = f.Column
	}
	// "+organization_id" keeps both planners off the indexes that start
	// with the organization (by status, by email): through them each page
	// read and sorted every row of the organization, and an export of
	// 100,000 enrollments took 36 times as long as one of 10,000. Along
	// the primary key a page costs the rows from the last id on, of this
	// organization and the others in between.
	query := `SELECT ` + strings.Join(cols, ", ") + ` FROM ` + k.Table + ` WHERE +organization_id = ? AND id > ? ORDER BY id LIMIT ?`
	rs, err := q.query(ctx, query, orgID, after, limit)
	if err != nil {
		return 0, 0, fmt.Errorf("export %s of organization %d: %w", k.Name, orgID, err)
	}
	defer rs.Close()
	dest := make([]any, len(k.Fields))
	for i, f := range k.Fields {
		switch f.Type {
		case FieldInt:
			dest[i] = new(sql.NullInt64)
		case FieldText:
			dest[i] = new(sql.NullString)
		case FieldBool:
			dest[i] = new(sql.NullBool)
		case FieldTime:
			dest[i] = new(sql.NullTime)
		case FieldBytes:
			dest[i] = new([]byte)
		}
	}
	values := make([]any, len(k.Fields))
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			return 0, 0, fmt.Errorf("export %s of organization %d: %w", k.Name, orgID, err)
		}
		for i, d := range dest {
			switch d := d.(type) {
			case *sql.NullInt64:
				values[i] = nullable(d.Valid, d.Int64)
			case *sql.NullString:
				values[i] = nullable(d.Valid, d.String)
			case *sql.NullBool:
				values[i] = nullable(d.Valid, d.Bool)
			case *sql.NullTime:
				values[i] = nullable(d.Valid, d.Time.UTC())
			case *[]byte:
				if *d == nil {
					values[i] = nil
				} else {
					values[i] = *d
				}
			}
		}
		last = values[0].(int64)
		n++
		if err := fn(values); err != nil {
			return 0, 0, err
		}
	}
	if err := rs.Err(); err != nil {
		return 0, 0, fmt.Errorf("export %s of organization %d: %w", k.Name, orgID, err)
	}
	return last, n, nil
}

func nullable[T any](valid bool, v T) any {
	if !valid {
		return nil
	}
	return v
}

// ExportedMember is a member of an organization as an export holds it.
type ExportedMember struct {
	UserID    int64
	Email     string
	Name      string
	Role      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ExportMembers calls fn with each member of an organization, by user id.
func (q *Queries) ExportMembers(ctx context.Context, orgID int64, fn func(ExportedMember) error) error {
	rs, err := q.query(ctx, `
		SELECT u.id, u.email, u.name, m.role, m.created_at, m.updated_at
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.organization_id = ? ORDER BY u.id`, orgID)
	if err != nil {
		return fmt.Errorf("export members of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	for rs.Next() {
		var m ExportedMember
		if err := rs.Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &m.CreatedAt, &m.UpdatedAt); err != nil {
			return fmt.Errorf("export members of organization %d: %w", orgID, err)
		}
		m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
		if err := fn(m); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("export members of organization %d: %w", orgID, err)
	}
	return nil
}

// ReadSnapshot runs fn with queries that all see the database as it was
// at one moment, so that an export made while people work refers to no
// row it does not hold. On SQLite it is a read transaction on the read
// pool (WAL keeps its snapshot while writers go on), on PostgreSQL a
// read-only repeatable-read transaction.
func (db *DB) ReadSnapshot(ctx context.Context, fn func(q *Queries) error) error {
	if db.pg != nil {
		err := pgx.BeginTxFunc(ctx, db.pg, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			return fn(&Queries{ex: pgxExecer{tx}, dialect: Postgres})
		})
		if err != nil {
			return fmt.Errorf("read snapshot: %w", err)
		}
		return nil
	}
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read snapshot: %w", err)
	}
	defer rollback(tx)
	return fn(&Queries{ex: sqlExecer{tx}, dialect: SQLite})
}

// StartImport makes the table of remapped ids for an import, inside its
// transaction: a temporary table, gone with the transaction on
// PostgreSQL and dropped by EndImport on SQLite, whose write connection
// lives on.
func (q *Queries) StartImport(ctx context.Context) error {
	query := `CREATE TEMP TABLE import_ids (kind TEXT NOT NULL, old_id BIGINT NOT NULL, new_id BIGINT NOT NULL, PRIMARY KEY (kind, old_id))`
	if q.dialect == Postgres {
		query += ` ON COMMIT DROP`
	} else if _, err := q.exec(ctx, `DROP TABLE IF EXISTS temp.import_ids`); err != nil {
		return fmt.Errorf("start import: %w", err)
	}
	if _, err := q.exec(ctx, query); err != nil {
		return fmt.Errorf("start import: %w", err)
	}
	return nil
}

// EndImport drops the table of remapped ids.
func (q *Queries) EndImport(ctx context.Context) error {
	if q.dialect == Postgres {
		return nil
	}
	if _, err := q.exec(ctx, `DROP TABLE IF EXISTS temp.import_ids`); err != nil {
		return fmt.Errorf("end import: %w", err)
	}
	return nil
}

// MapImportedID records that the row of kind with id oldID in the export
// is newID here.
func (q *Queries) MapImportedID(ctx context.Context, kind string, oldID, newID int64) error {
	_, err := q.exec(ctx, `INSERT INTO import_ids (kind, old_id, new_id) VALUES (?, ?, ?)`, kind, oldID, newID)
	if isUniqueViolation(err) {
		return fmt.Errorf("import %s: id %d appears twice: %w", kind, oldID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("import %s %d: %w", kind, oldID, err)
	}
	return nil
}

// ImportedID returns the id here of the row of kind with oldID in the
// export, or ErrNotFound.
func (q *Queries) ImportedID(ctx context.Context, kind string, oldID int64) (int64, error) {
	var id int64
	err := q.queryRow(ctx, `SELECT new_id FROM import_ids WHERE kind = ? AND old_id = ?`, kind, oldID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("imported %s %d: %w", kind, oldID, err)
	}
	return id, nil
}

// ErrDanglingReference is returned by ImportRow for a row that refers to
// a row the export does not hold.
var ErrDanglingReference = errors.New("refers to a row the export does not hold")

// ErrInvalidValue is returned by ImportRow for a row with a value its
// column refuses: a status no row may have, a malformed time.
var ErrInvalidValue = errors.New("holds a value its column refuses")

// ImportRow inserts one row of a kind into organization orgID, its
// references remapped, and records its new id. A nullable reference to a
// row not imported (an account that is no member) becomes NULL; any other
// gives ErrDanglingReference.
func (q *Queries) ImportRow(ctx context.Context, k TransferKind, orgID int64, values []any) error {
	cols := []string{"organization_id"}
	marks := []string{"?"}
	args := []any{orgID}
	byName := make(map[string]any, len(k.Fields))
	for i, f := range k.Fields[1:] {
		v := values[i+1]
		byName[f.Name] = v
		cols = append(cols, f.Column)
		if f.Ref == "" || v == nil {
			marks = append(marks, "?")
			args = append(args, v)
			continue
		}
		marks = append(marks, "(SELECT new_id FROM import_ids WHERE kind = ? AND old_id = ?)")
		args = append(args, f.Ref, v)
	}
	if k.derive != nil {
		for _, d := range k.derive(byName) {
			cols = append(cols, d.column)
			marks = append(marks, d.sql)
			for _, a := range d.args {
				if _, ok := a.(orgIDArg); ok {
					a = orgID
				}
				args = append(args, a)
			}
		}
	}
	oldID, _ := values[0].(int64)
	var id int64
	err := q.queryRow(ctx, `INSERT INTO `+k.Table+` (`+strings.Join(cols, ", ")+`) VALUES (`+strings.Join(marks, ", ")+`) RETURNING id`, args...).Scan(&id)
	if isNotNullViolation(err) {
		return fmt.Errorf("import %s %d: %w", k.Name, oldID, ErrDanglingReference)
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("import %s %d: %w", k.Name, oldID, ErrConflict)
	}
	if isInvalidValue(err) {
		return fmt.Errorf("import %s %d: %w", k.Name, oldID, ErrInvalidValue)
	}
	if err != nil {
		return fmt.Errorf("import %s %d: %w", k.Name, oldID, err)
	}
	return q.MapImportedID(ctx, k.Name, oldID, id)
}

// ImportOrganization inserts an organization with the settings and
// times an export holds.
func (q *Queries) ImportOrganization(ctx context.Context, f OrganizationFields, active bool, createdAt, updatedAt time.Time) (Organization, error) {
	var id int64
	err := q.queryRow(ctx, `
		INSERT INTO organizations (name, name_key, name_skeleton, name_skeleton_shared, slug, description,
			sender_name, reply_to, postal_address, is_active, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		f.Name, f.NameKey, f.NameSkeleton, f.NameSkeletonShared, f.Slug, f.Description,
		f.Sender.Name, f.Sender.ReplyTo, f.Sender.PostalAddress, active, dbTime(createdAt), dbTime(updatedAt)).Scan(&id)
	if isUniqueViolation(err) {
		return Organization{}, fmt.Errorf("import organization %q: %w", f.Name, ErrConflict)
	}
	if err != nil {
		return Organization{}, fmt.Errorf("import organization %q: %w", f.Name, err)
	}
	return q.OrganizationByID(ctx, id)
}

// ImportMembership adds a member with the times an export holds.
func (q *Queries) ImportMembership(ctx context.Context, orgID, userID int64, role string, createdAt, updatedAt time.Time) error {
	_, err := q.exec(ctx, `
		INSERT INTO memberships (organization_id, user_id, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		orgID, userID, role, dbTime(createdAt), dbTime(updatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("import member %d of organization %d: %w", userID, orgID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("import member %d of organization %d: %w", userID, orgID, err)
	}
	return nil
}

// CertificateNumberTaken reports whether a certificate has the number.
func (q *Queries) CertificateNumberTaken(ctx context.Context, number string) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM certificates WHERE number = ?`, number)
}

// newLinkKey draws an enrollment's link key, as CreateEnrollment does.
func newLinkKey() string { return rand.Text() }

// ExportReferencedAccounts calls fn with the id and address of each
// account the organization's rows name (audit entries, blocked
// addresses, revoked certificates), members or not, so that an import
// can find the same people by address.
func (q *Queries) ExportReferencedAccounts(ctx context.Context, orgID int64, fn func(id int64, email string) error) error {
	rs, err := q.query(ctx, `
		SELECT u.id, u.email FROM users u WHERE u.id IN (
			SELECT actor_id FROM audit_log WHERE organization_id = ? AND actor_id IS NOT NULL
			UNION SELECT target_user_id FROM audit_log WHERE organization_id = ? AND target_user_id IS NOT NULL
			UNION SELECT created_by FROM blocked_emails WHERE organization_id = ? AND created_by IS NOT NULL
			UNION SELECT revoked_by FROM certificates WHERE organization_id = ? AND revoked_by IS NOT NULL)
		ORDER BY u.id`, orgID, orgID, orgID, orgID)
	if err != nil {
		return fmt.Errorf("export accounts of organization %d: %w", orgID, err)
	}
	defer rs.Close()
	for rs.Next() {
		var id int64
		var email string
		if err := rs.Scan(&id, &email); err != nil {
			return fmt.Errorf("export accounts of organization %d: %w", orgID, err)
		}
		if err := fn(id, email); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("export accounts of organization %d: %w", orgID, err)
	}
	return nil
}
