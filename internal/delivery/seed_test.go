package delivery_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

var benchLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// seeded is a database holding one organization with an enabled course of
// two lessons and many active enrollments, written in bulk: the starting
// point of the delivery benchmarks and of the query plan test.
type seeded struct {
	db      *store.DB
	raw     *sql.DB // a connection of its own, for bulk writes and ANALYZE
	dialect store.Dialect
	org     int64
	course  int64
	lessons [2]store.ContentItem
	editor  *store.User
}

// openSeedable returns a fresh, migrated database of the dialect and a raw
// connection to it. Both are closed when the test ends.
func openSeedable(tb testing.TB, dialect store.Dialect) *seeded {
	tb.Helper()
	ctx := context.Background()
	s := &seeded{dialect: dialect}
	var err error
	switch dialect {
	case store.SQLite:
		dir := tb.TempDir()
		if s.db, err = store.Open(ctx, "", dir); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.db.Close() })
		if err := s.db.Migrate(ctx, benchLogger); err != nil {
			tb.Fatal(err)
		}
		// _time_format=sqlite writes timestamps as the store does, so they
		// compare as text the way the store's own do.
		s.raw, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "mailschool.db")+
			"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_time_format=sqlite")
	case store.Postgres:
		url := storetest.NewPostgresURL(tb)
		if s.db, err = store.Open(ctx, url, ""); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.db.Close() })
		s.raw, err = sql.Open("pgx", url)
	}
	if err != nil {
		tb.Fatal(err)
	}
	s.raw.SetMaxOpenConns(1)
	tb.Cleanup(func() { s.raw.Close() })
	return s
}

// benchLessonBody is a lesson of a realistic size (about 2 KB of Markdown).
var benchLessonBody = strings.Repeat(`## A section

Some **bold** and *emphasized* text, a [link](https://example.com/docs) and
`+"`inline code`"+`. A paragraph long enough to wrap over a few lines of the
plain text part, as a lesson's paragraphs do.

- a first point
- a second point, with more words in it

`, 5)

// createCourse creates the organization, an editor, and an enabled course of
// two published lessons, the second due a day after the first is sent,
// through the services, as an installation would.
func (s *seeded) createCourse(tb testing.TB, l *learning.Service) {
	tb.Helper()
	ctx := context.Background()
	org, members := storetest.NewOrganization(tb, s.db, "Acme", storetest.Member{Email: "editor@example.com", Role: "editor"})
	s.org, s.editor = org, &members[0]
	c, err := l.CreateCourse(ctx, s.editor, s.org, learning.CourseFields{Title: ptr("Go basics")})
	if err != nil {
		tb.Fatal(err)
	}
	s.course = c.ID
	for i, title := range []string{"One", "Two"} {
		s.lessons[i], err = l.CreateContent(ctx, s.editor, s.org, s.course, learning.ContentFields{Kind: store.KindLesson,
			Title: ptr(title), Body: ptr(benchLessonBody), WaitingPeriodSeconds: ptr(i * 86400), Published: ptr(true)})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := l.UpdateCourse(ctx, s.editor, s.org, s.course, learning.CourseFields{Enabled: ptr(true)}); err != nil {
		tb.Fatal(err)
	}
}

// enroll writes total active enrollments in bulk, of which due (spread
// evenly among them) have their first lesson scheduled and due, at
// distinct times over the last day, without a job. The others were sent
// the first lesson and have the second scheduled tomorrow or later: rows
// the pass must step over without reading them. On PostgreSQL the tables
// are analyzed afterwards, as autovacuum would.
func (s *seeded) enroll(tb testing.TB, due, total int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tx, err := s.raw.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	learners := newBulk(s.dialect, "learners", "id", "organization_id", "email", "created_at", "updated_at")
	enrollments := newBulk(s.dialect, "enrollments", "id", "organization_id", "course_id", "learner_id", "status",
		"activated_at", "created_at", "updated_at", "link_key")
	deliveries := newBulk(s.dialect, "deliveries", "id", "organization_id", "enrollment_id", "content_id", "due_at",
		"status", "attempts", "sent_at", "created_at", "updated_at")
	// Parents before children, for the foreign keys.
	flushAll := func() {
		for _, b := range []*bulk{learners, enrollments, deliveries} {
			b.flush(ctx, tb, tx)
		}
	}
	var (
		dueSeen    int
		deliveryID int64
	)
	for i := range total {
		id := int64(i + 1)
		created := now.Add(-48 * time.Hour)
		learners.add(tb, id, s.org, "learner"+strconv.Itoa(i+1)+"@example.com", created, created)
		enrollments.add(tb, id, s.org, s.course, id, "active", created, created, created, fmt.Sprintf("key%d", id))
		// Bresenham: due of every total enrollments, evenly spread.
		if (i*due)%total < due {
			at := now.Add(-25 * time.Hour).Add(time.Duration(dueSeen) * (24 * time.Hour / time.Duration(due)))
			dueSeen++
			deliveryID++
			deliveries.add(tb, deliveryID, s.org, id, s.lessons[0].ID, at, "scheduled", 0, nil, created, created)
		} else {
			sent := now.Add(-time.Hour)
			deliveryID++
			deliveries.add(tb, deliveryID, s.org, id, s.lessons[0].ID, created, "sent", 1, sent, created, sent)
			deliveryID++
			deliveries.add(tb, deliveryID, s.org, id, s.lessons[1].ID, sent.Add(24*time.Hour+time.Duration(i)*time.Millisecond),
				"scheduled", 0, nil, sent, sent)
		}
		if learners.rows() == bulkRows {
			flushAll()
		}
	}
	flushAll()
	if dueSeen != due {
		tb.Fatalf("seeded %d due deliveries, want %d", dueSeen, due)
	}
	if s.dialect == store.Postgres {
		// The rows were written with their ids: move the identity sequences past them.
		for _, table := range []string{"learners", "enrollments", "deliveries"} {
			if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'id'), (SELECT MAX(id) FROM `+table+`))`); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	if s.dialect == store.Postgres {
		if _, err := s.raw.ExecContext(ctx, `ANALYZE`); err != nil {
			tb.Fatal(err)
		}
	}
}

// bulk writes rows of one table with multi-row INSERTs.
type bulk struct {
	dialect store.Dialect
	prefix  string
	columns int
	args    []any
}

// bulkRows is how many enrollments are written per INSERT: at most 20,000
// parameters (two deliveries of 10 columns each), within both databases'
// limits.
const bulkRows = 1000

func newBulk(dialect store.Dialect, table string, columns ...string) *bulk {
	return &bulk{dialect: dialect, prefix: "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ",
		columns: len(columns)}
}

func (b *bulk) add(tb testing.TB, values ...any) {
	if len(values) != b.columns {
		tb.Fatalf("%s: %d values for %d columns", b.prefix, len(values), b.columns)
	}
	b.args = append(b.args, values...)
}

func (b *bulk) rows() int { return len(b.args) / b.columns }

func (b *bulk) flush(ctx context.Context, tb testing.TB, tx *sql.Tx) {
	if len(b.args) == 0 {
		return
	}
	var q strings.Builder
	q.WriteString(b.prefix)
	n := 0
	for row := range len(b.args) / b.columns {
		if row > 0 {
			q.WriteString(", ")
		}
		q.WriteByte('(')
		for c := range b.columns {
			if c > 0 {
				q.WriteString(", ")
			}
			n++
			if b.dialect == store.Postgres {
				q.WriteString("$" + strconv.Itoa(n))
			} else {
				q.WriteByte('?')
			}
		}
		q.WriteByte(')')
	}
	if _, err := tx.ExecContext(ctx, q.String(), b.args...); err != nil {
		tb.Fatalf("%s...: %v", b.prefix, err)
	}
	b.args = b.args[:0]
}

// services returns the mail service (sending through transport), the
// learning service and the engine on s's database.
func (s *seeded) services(tb testing.TB, transport mail.Transport, name string) (*mail.Service, *learning.Service, *delivery.Engine) {
	tb.Helper()
	mailer, err := mail.NewService(s.db, mail.Config{From: "Acme Academy <learn@school.example>", BaseURL: baseURL,
		Transport: transport, TransportName: name, Logger: benchLogger})
	if err != nil {
		tb.Fatal(err)
	}
	l := learning.NewService(s.db, learning.Config{Mail: mailer, BaseURL: baseURL, SecretKey: "a secret key of at least thirty-two characters"})
	return mailer, l, delivery.New(s.db, mailer, l, delivery.Config{Logger: benchLogger})
}

// count returns the result of a COUNT query on the raw connection.
func (s *seeded) count(tb testing.TB, query string) int {
	tb.Helper()
	var n int
	if err := s.raw.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}
