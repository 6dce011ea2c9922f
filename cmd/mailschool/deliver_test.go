package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestDeliverOnce runs the cron-style command over an install whose
// workers are off: a due lesson is worked and its email stored.
func TestDeliverOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{"MAILSCHOOL_DATA_DIR": dir}
	if r := runCommand(t, env, "", "deliver"); r.code != 2 || !strings.Contains(r.stderr, "--once is required") {
		t.Errorf("deliver without --once: %+v", r)
	}
	if r := runCommand(t, env, "", "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}

	scheduleDueLesson(t, dir)

	r := runCommand(t, env, "", "deliver", "--once")
	if r.code != 0 || !strings.Contains(r.stdout, "1 delivery worked.") || !strings.Contains(r.stdout, "Done.") {
		t.Fatalf("deliver --once: %+v", r)
	}
	// River's migrator checks its migrations on every start: nothing an
	// operator running the command from cron needs to read.
	if strings.Contains(r.stderr, "rivermigrate") {
		t.Errorf("deliver --once logged the job queue's migrator:\n%s", r.stderr)
	}
	if r := runCommand(t, env, "", "deliver", "--once"); r.code != 0 || !strings.Contains(r.stdout, "0 deliveries worked.") {
		t.Errorf("a second run: %+v", r)
	}

	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The course's one lesson, and the completion it brings, both sent.
	list, err := db.Read().ListMailMessages(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, m := range list {
		if m.Recipient == "ada@example.com" {
			kinds[m.Kind] = m.Status
		}
	}
	if len(list) != 2 || kinds["lesson"] != store.MailStored || kinds["course_completed"] != store.MailStored {
		t.Errorf("emails after deliver --once: %v", kinds)
	}
}

// TestDeliverOnceTakesOverADeadProcessesJobs: a batch of emails was being
// sent by a process that died (its job left running three minutes ago).
// deliver --once takes the job over, sends the emails once each, and
// exits.
func TestDeliverOnceTakesOverADeadProcessesJobs(t *testing.T) {
	sink := smtptest.Start(t, smtptest.Options{})
	dir := t.TempDir()
	env := map[string]string{"MAILSCHOOL_DATA_DIR": dir, "MAILSCHOOL_SMTP_URL": sink.URL()}
	ids := recordEmailBatch(t, env, 1, 3)
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mailschool.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	res, err := raw.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', '-3 minutes', 'subsec'),
		attempted_by = '["a-node-that-died"]' WHERE kind = 'send_email_batch'`)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("leave the batch running: %d rows, %v", n, err)
	}

	start := time.Now()
	r := runCommand(t, env, "", "deliver", "--once")
	if r.code != 0 || !strings.Contains(r.stdout, "Done.") {
		t.Fatalf("deliver --once: %+v", r)
	}
	t.Logf("deliver --once took %v", time.Since(start).Round(time.Millisecond))
	if got := len(sink.Messages()); got != len(ids) {
		t.Errorf("the server received %d emails, want the dead process's %d", got, len(ids))
	}
	db := openData(t, env)
	for _, id := range ids {
		if m, err := db.Read().MailMessageByID(context.Background(), id); err != nil || m.Status != store.MailSent {
			t.Errorf("email %d: %+v, %v; want sent", id, m.Status, err)
		}
	}
}

// scheduleDueLesson gives the install in dir a platform admin, an enabled
// course of one lesson and a learner whose delivery of it is due, with no
// job to work it, as on a node without workers: only a pass finds it.
func scheduleDueLesson(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	var admin store.User
	err = db.InTx(ctx, func(q *store.Queries) error {
		admin, err = q.CreateUser(ctx, store.NewUser{Email: "root@example.com", IsPlatformAdmin: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// No delivery engine is attached here, as on a node without workers:
	// the enrollment's first lesson is scheduled by hand, due already.
	learn := learning.NewService(db, learning.Config{})
	ptr := func(s string) *string { return &s }
	yes, zero := true, 0
	course, err := learn.CreateCourse(ctx, &admin, 1, learning.CourseFields{Title: ptr("Go basics")})
	if err != nil {
		t.Fatal(err)
	}
	lesson, err := learn.CreateContent(ctx, &admin, 1, course.ID, learning.ContentFields{Kind: store.KindLesson, Title: ptr("One"),
		Body: ptr("Hello"), WaitingPeriodSeconds: &zero, Published: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := learn.UpdateCourse(ctx, &admin, 1, course.ID, learning.CourseFields{Enabled: &yes}); err != nil {
		t.Fatal(err)
	}
	e, err := learn.EnrollDirectly(ctx, &admin, 1, course.ID, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, func(q *store.Queries) error {
		_, _, err := q.ScheduleDelivery(ctx, 1, e.ID, lesson.ID, 1, time.Now().Add(-time.Minute))
		return err
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
}

// TestServeRunsAPassAtStart: a node starts while the leader of the last
// run, which died, still holds its term, so River elects no node to run
// the periodic pass for a while. The node runs a pass of its own at once:
// a lesson that is due goes out within seconds.
func TestServeRunsAPassAtStart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"MAILSCHOOL_DATA_DIR": dir}
	if r := runCommand(t, env, "", "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	scheduleDueLesson(t, dir)
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mailschool.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO river_leader (name, leader_id, elected_at, expires_at)
		VALUES ('default', 'a-node-that-died', datetime('now', 'subsec'), datetime('now', '+2 minutes', 'subsec'))`); err != nil {
		t.Fatalf("leave a dead leader's term: %v", err)
	}

	_, stop := startServer(t, env)
	defer stop()
	db := openData(t, env)
	storetest.Eventually(t, 10*time.Second, "the due lesson stored in the outbox", func() bool {
		list, err := db.Read().ListMailMessages(context.Background(), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			if m.Kind == "lesson" && m.Status == store.MailStored {
				return true
			}
		}
		return false
	})
}
