package delivery_test

// Helpers of the tests that run the engine the way serve does: River
// workers on the delivery and mail queues, sending through SMTP to an
// smtptest server, over a database that the test opens again for each
// restarted or further node.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

const (
	schoolFrom   = "Acme <learn@school.example>"
	schoolSecret = "a secret key of at least thirty-two characters"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// eachReopenable runs fn once per database with the address of a fresh,
// migrated one that fn may open as often as it likes: "sqlite:PATH" for a
// file in a temporary directory (store.Open takes that form), or a
// PostgreSQL URL.
func eachReopenable(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "mailschool.db")
		db, err := store.Open(context.Background(), dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		err = db.Migrate(context.Background(), quiet)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		fn(t, dsn)
	})
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.NewPostgresURL(t)) })
}

// school is an organization with an enabled course of lessons that have
// no waiting period, so each lesson is due as soon as the one before is
// sent, and learners enrolled directly in it.
type school struct {
	dsn      string
	org      int64
	course   int64
	lessons  []store.ContentItem
	learners []string
}

func newSchool(t *testing.T, dsn string, lessons, learners int) *school {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mailer, err := mail.NewService(db, mail.Config{From: schoolFrom, BaseURL: baseURL, Transport: mail.Outbox{}, TransportName: "outbox"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewJobs(&river.Config{}); err != nil { // inserts only: activating schedules jobs
		t.Fatal(err)
	}
	learn := learning.NewService(db, learning.Config{Mail: mailer, BaseURL: baseURL, SecretKey: schoolSecret})
	delivery.New(db, mailer, learn, delivery.Config{Logger: quiet})

	s := &school{dsn: dsn}
	org, members := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "editor@example.com", Role: "editor"})
	s.org = org
	editor := members[0]
	course, err := learn.CreateCourse(ctx, &editor, s.org, learning.CourseFields{Title: ptr("Crash course")})
	if err != nil {
		t.Fatal(err)
	}
	s.course = course.ID
	for i := range lessons {
		item, err := learn.CreateContent(ctx, &editor, s.org, s.course, learning.ContentFields{Kind: store.KindLesson,
			Title: ptr(fmt.Sprintf("Lesson %d", i+1)), Body: ptr(fmt.Sprintf("Lesson *%d*", i+1)),
			WaitingPeriodSeconds: ptr(0), Published: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		s.lessons = append(s.lessons, item)
	}
	if _, err := learn.UpdateCourse(ctx, &editor, s.org, s.course, learning.CourseFields{Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	for i := range learners {
		email := fmt.Sprintf("learner%04d@example.com", i)
		if _, err := learn.EnrollDirectly(ctx, &editor, s.org, s.course, email); err != nil {
			t.Fatal(err)
		}
		s.learners = append(s.learners, email)
	}
	// A database this new has no statistics until autovacuum's first
	// round, and without them River's scheduler takes seconds to plan
	// its way through a few hundred jobs on PostgreSQL.
	execSQL(t, dsn, "ANALYZE")
	return s
}

// countSQL runs a query that counts, on the database behind dsn.
func countSQL(t testing.TB, dsn, query string) int {
	t.Helper()
	ctx := context.Background()
	var n int
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// execSQL runs statements on the database behind dsn, past the store.
func execSQL(t testing.TB, dsn string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, stmt := range stmts {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		return
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// countingTransport counts the messages the server accepted from one node.
type countingTransport struct {
	mail.Transport
	sent *atomic.Int64
}

func (c countingTransport) Send(ctx context.Context, env mail.Envelope, raw []byte) (string, error) {
	id, err := c.Transport.Send(ctx, env, raw)
	if err == nil {
		c.sent.Add(1)
	}
	return id, err
}

// quickRetry retries failed jobs after 20 ms instead of River's seconds:
// a cancelled job runs again at once on the next node.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(20 * time.Millisecond)
}

// node is one running mailschool process as far as delivery goes: its own
// connections to the database, mail service with an SMTP transport,
// delivery engine and River client working the delivery and mail queues
// with serve's settings (polling faster, retrying at once). Starting one
// runs a delivery pass, as serve's periodic job does when a node starts.
type node struct {
	name      string
	db        *store.DB
	jobs      *store.Jobs
	mailer    *mail.Service
	sent      atomic.Int64 // emails the SMTP server accepted from this node
	delivered atomic.Int64 // deliver_content jobs this node completed

	cancel   context.CancelFunc // ends the pass and the event counter
	passDone chan struct{}
	pass     delivery.PassResult
	passErr  error
	events   sync.WaitGroup
}

// nodeTimes are how long a node's jobs may run, and how long a job may
// run before the node that River elects runs it again; zero for River's
// defaults, as the tests that stop their nodes need. The killed-process
// test sets them as serve does, in seconds rather than minutes.
type nodeTimes struct {
	jobTimeout, rescueAfter time.Duration
}

func startNode(ctx context.Context, name, dsn, smtpURL string, times nodeTimes) (*node, error) {
	n := &node{name: name, passDone: make(chan struct{})}
	db, err := store.Open(ctx, dsn, "")
	if err != nil {
		return nil, err
	}
	n.db = db
	smtp, err := mail.NewSMTP(mail.SMTPConfig{URL: smtpURL, Timeout: 10 * time.Second})
	if err != nil {
		db.Close()
		return nil, err
	}
	n.mailer, err = mail.NewService(db, mail.Config{From: schoolFrom, BaseURL: baseURL,
		Transport: countingTransport{smtp, &n.sent}, TransportName: "smtp", RetryBase: 10 * time.Millisecond,
		JobTimeout: times.jobTimeout, Logger: quiet})
	if err != nil {
		db.Close()
		return nil, err
	}
	learn := learning.NewService(db, learning.Config{Mail: n.mailer, BaseURL: baseURL, SecretKey: schoolSecret})
	engine := delivery.New(db, n.mailer, learn, delivery.Config{JobTimeout: times.jobTimeout, Logger: quiet})
	workers := river.NewWorkers()
	n.mailer.AddWorkers(workers)
	engine.AddWorkers(workers)
	n.jobs, err = db.NewJobs(&river.Config{
		ID:                   name,
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{delivery.Queue: delivery.QueueConfig, mail.Queue: mail.QueueConfig},
		FetchCooldown:        10 * time.Millisecond,
		FetchPollInterval:    50 * time.Millisecond,
		RetryPolicy:          quickRetry{},
		JobTimeout:           times.jobTimeout,
		RescueStuckJobsAfter: times.rescueAfter,
		Logger:               quiet,
		TestOnly:             true,
	})
	if err != nil {
		n.mailer.Close()
		db.Close()
		return nil, err
	}
	events, stopEvents := n.jobs.Subscribe(river.EventKindJobCompleted)
	runCtx, cancel := context.WithCancel(ctx)
	n.cancel = func() { cancel(); stopEvents() }
	n.events.Go(func() {
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return
				}
				if ev.Job.Kind == (delivery.DeliverArgs{}).Kind() {
					n.delivered.Add(1)
				}
			case <-runCtx.Done():
				return
			}
		}
	})
	if err := n.jobs.Start(ctx); err != nil {
		n.cancel()
		n.mailer.Close()
		db.Close()
		return nil, err
	}
	go func() {
		defer close(n.passDone)
		n.pass, n.passErr = engine.Pass(runCtx)
	}()
	return n, nil
}

// crash ends the node the way a crash would, as far as one process can
// do that to itself: running jobs are cancelled mid-way (River's
// StopAndCancel), the pass with them, so their transactions roll back;
// then the transport and the database connections are closed under
// whatever is left.
func (n *node) crash(t testing.TB) {
	t.Helper()
	n.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := n.jobs.StopAndCancel(ctx)
	n.close()
	if err != nil {
		t.Fatalf("%s: StopAndCancel: %v", n.name, err)
	}
	if n.passErr != nil && !errors.Is(n.passErr, context.Canceled) {
		t.Errorf("%s: the pass: %v", n.name, n.passErr)
	}
}

// stop shuts the node down gracefully, as serve does on SIGTERM: the
// pass and the running jobs finish first.
func (n *node) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case <-n.passDone:
	case <-ctx.Done():
	}
	err := n.jobs.Stop(ctx)
	n.cancel()
	n.close()
	if err != nil {
		t.Fatalf("%s: Stop: %v", n.name, err)
	}
	if n.passErr != nil {
		t.Errorf("%s: the pass: %v", n.name, n.passErr)
	}
}

func (n *node) close() {
	<-n.passDone
	n.events.Wait()
	n.mailer.Close()
	n.db.Close()
}

// done reports whether the school's work is finished: no enrollment
// active, no delivery scheduled or sending, and no delivery or mail job
// left.
func (s *school) done(ctx context.Context, db *store.DB) (bool, error) {
	_, active, err := db.Read().ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: s.org, Status: store.EnrollmentActive, Limit: 1})
	if err != nil || active > 0 {
		return false, err
	}
	later := time.Now().Add(time.Hour)
	due, err := db.Read().DueDeliveries(ctx, later, store.DueRef{}, 1)
	if err != nil || len(due) > 0 {
		return false, err
	}
	sending, err := db.Read().StuckDeliveries(ctx, later, store.DueRef{}, 1)
	if err != nil || len(sending) > 0 {
		return false, err
	}
	for _, kind := range []string{(delivery.DeliverArgs{}).Kind(), (mail.SendArgs{}).Kind(), (mail.SendBatchArgs{}).Kind()} {
		n, err := db.UnfinishedJobs(ctx, kind)
		if err != nil || n > 0 {
			return false, err
		}
	}
	return true, nil
}

// waitDone polls until the school's work is finished, for at most d, and
// reports whether it is.
func (s *school) waitDone(t testing.TB, db *store.DB, d time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(d); ; {
		done, err := s.done(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if done || time.Now().After(deadline) {
			return done
		}
		time.Sleep(min(25*time.Millisecond, time.Until(deadline)))
	}
}

// receipt is one message the SMTP server accepted.
type receipt struct {
	at        time.Time
	messageID string
	to        string
	subject   string
}

// recordingSink starts an SMTP server that notes when it accepted each
// message, and takes a millisecond to answer the end of DATA, as real
// servers take a moment to queue a message: a client that gives up while
// waiting for that answer does not know the message was accepted. When
// refuse returns an error, the server answers it instead.
func recordingSink(t *testing.T, refuse func() error) (*smtptest.Server, func() []receipt) {
	var (
		mu       sync.Mutex
		receipts []receipt
	)
	sink := smtptest.Start(t, smtptest.Options{Discard: true, Reply: func(_ int, m smtptest.Message) error {
		if refuse != nil {
			if err := refuse(); err != nil {
				return err
			}
		}
		r := receipt{at: time.Now()}
		if p, err := mail.Parse(m.Data); err == nil {
			r.messageID = strings.Trim(p.Header.Get("Message-Id"), "<>")
			r.subject = mail.DecodeSubject(p.Header.Get("Subject"))
		}
		r.to = strings.Join(m.To, ",")
		mu.Lock()
		receipts = append(receipts, r)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil
	}})
	return sink, func() []receipt {
		mu.Lock()
		defer mu.Unlock()
		return append([]receipt(nil), receipts...)
	}
}

// outcome is what the SMTP server received for a finished school,
// grouped by Message-ID.
type outcome struct {
	byMessageID map[string][]receipt
	duplicates  int // receipts beyond the first of a message
	missing     []string
	outOfOrder  []string // learners, with what they received
}

// check verifies the database side of exactly-once delivery (every
// learner completed, every (learner, lesson) delivery sent once with its
// email recorded as sent) and compares the server's receipts with it, by
// Message-ID and by recipient and subject. Losses and strays are errors;
// duplicates are returned for the caller to judge.
func (s *school) check(t *testing.T, receipts []receipt) outcome {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, s.dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := db.Read()
	enrollments, total, err := q.ListEnrollments(ctx, store.EnrollmentFilter{OrganizationID: s.org, CourseID: s.course, Limit: len(s.learners) + 1})
	if err != nil {
		t.Fatal(err)
	}
	if total != len(s.learners) {
		t.Fatalf("%d enrollments, want %d", total, len(s.learners))
	}
	type pair struct{ to, subject string }
	want := map[string]pair{} // Message-ID -> recipient and subject
	for _, e := range enrollments {
		if e.Status != store.EnrollmentCompleted {
			t.Errorf("%s: enrollment %s, want completed", e.LearnerEmail, e.Status)
		}
		list, err := q.EnrollmentDeliveries(ctx, s.org, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(s.lessons) {
			t.Errorf("%s: %d deliveries, want %d", e.LearnerEmail, len(list), len(s.lessons))
		}
		for i, d := range list {
			if d.Status != store.DeliverySent || d.MailMessageID == nil || d.Attempts != 1 {
				t.Errorf("%s: delivery %d is %s after %d attempts (email %v), want sent once", e.LearnerEmail, d.ID, d.Status, d.Attempts, d.MailMessageID)
				continue
			}
			m, err := q.MailMessageByID(ctx, *d.MailMessageID)
			if err != nil {
				t.Fatal(err)
			}
			prefix := fmt.Sprintf("delivery-%d.", d.ID)
			if m.Status != store.MailSent || !strings.HasPrefix(m.MessageID, prefix) || !strings.HasSuffix(m.MessageID, "@school.example") || m.Recipient != e.LearnerEmail {
				t.Errorf("%s: email %d is %s, %s to %s; want sent, %s...@school.example", e.LearnerEmail, m.ID, m.Status, m.MessageID, m.Recipient, prefix)
			}
			want[m.MessageID] = pair{e.LearnerEmail, "Crash course: " + s.lessons[i].Title}
		}
	}
	if len(want) != len(s.learners)*len(s.lessons) {
		t.Errorf("%d emails recorded, want %d", len(want), len(s.learners)*len(s.lessons))
	}

	res := outcome{byMessageID: map[string][]receipt{}}
	byPair := map[pair]int{}
	completions := map[string]int{} // course_completed emails by recipient
	for _, r := range receipts {
		res.byMessageID[r.messageID] = append(res.byMessageID[r.messageID], r)
		if strings.HasPrefix(r.messageID, "certificate-") {
			// Each completed enrollment gets its certificate's email: not a
			// delivery, but it must come once too.
			completions[r.to]++
			continue
		}
		byPair[pair{r.to, r.subject}]++
		if w, ok := want[r.messageID]; !ok {
			t.Errorf("the server received %q to %s, which no delivery sent", r.messageID, r.to)
		} else if w != (pair{r.to, r.subject}) {
			t.Errorf("the server received %s to %s, %q; want to %s, %q", r.messageID, r.to, r.subject, w.to, w.subject)
		}
	}
	for _, l := range s.learners {
		switch n := completions[l]; {
		case n == 0:
			res.missing = append(res.missing, "completion to "+l)
		case n > 1:
			res.duplicates += n - 1
		}
	}
	for id, w := range want {
		got := len(res.byMessageID[id])
		if got == 0 {
			res.missing = append(res.missing, id)
		}
		res.duplicates += max(got-1, 0)
		if got != byPair[w] {
			t.Errorf("%s to %s, %q: received %d times by Message-ID and %d times by recipient and subject", id, w.to, w.subject, got, byPair[w])
		}
	}
	sort.Strings(res.missing)
	if len(res.missing) > 0 {
		t.Errorf("%d emails never reached the server, e.g. %s", len(res.missing), res.missing[0])
	}
	res.outOfOrder = s.outOfOrder(receipts)
	if len(res.outOfOrder) > 0 {
		t.Errorf("%d learners got their emails out of the course's order, e.g. %s", len(res.outOfOrder), res.outOfOrder[0])
	}
	return res
}

// outOfOrder lists the learners whose emails did not arrive in the
// course's order (its lessons, then the completion), a message received
// again right after itself aside.
func (s *school) outOfOrder(receipts []receipt) []string {
	var want []string
	for _, l := range s.lessons {
		want = append(want, "Crash course: "+l.Title)
	}
	want = append(want, "completion")
	got := map[string][]string{}
	for _, r := range receipts {
		what := r.subject
		if strings.HasPrefix(r.messageID, "certificate-") {
			what = "completion"
		}
		if seq := got[r.to]; len(seq) == 0 || seq[len(seq)-1] != what {
			got[r.to] = append(seq, what)
		}
	}
	var wrong []string
	for _, l := range s.learners {
		if !slices.Equal(got[l], want) {
			wrong = append(wrong, fmt.Sprintf("%s: %s", l, strings.Join(got[l], ", ")))
		}
	}
	sort.Strings(wrong)
	return wrong
}

// duplicateList describes the messages received more than once.
func (d outcome) duplicateList() string {
	var lines []string
	for id, rs := range d.byMessageID {
		if len(rs) > 1 {
			var times []string
			for _, r := range rs {
				times = append(times, r.at.Format("15:04:05.000000"))
			}
			lines = append(lines, fmt.Sprintf("%s at %s", id, strings.Join(times, ", ")))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
