package mailbox_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/mailbox"
	"github.com/mailschool/mailschool/internal/bounces/mailbox/mailboxtest"
	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const secretKey = "a secret key of at least thirty-two characters"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func ptr[T any](v T) *T { return &v }

// TestBounceMailboxEndToEnd sends a course of two lessons through SMTP
// with per-message return paths, and answers the first lessons through
// the bounce mailbox: a bounce for one learner, a complaint for another,
// forged bounces for a third. Two pollers read the mailbox at once.
// The bounced learner gets no second lesson and shows the bounce on the
// enrollment page and in the bounce log; the complaining one is
// unsubscribed; the forgeries change nothing.
func TestBounceMailboxEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sink := smtptest.Start(t, smtptest.Options{})
		transport, err := mail.NewSMTP(mail.SMTPConfig{URL: sink.URL(), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { transport.Close() })
		paths := mail.NewReturnPaths(secretKey, "bounce.school.example")
		mailer, err := mail.NewService(db, mail.Config{From: "Acme <learn@school.example>", BaseURL: "https://school.example",
			Transport: transport, TransportName: "smtp", Logger: quiet, ReturnPaths: paths})
		if err != nil {
			t.Fatal(err)
		}
		learn := learning.NewService(db, learning.Config{Mail: mailer, BaseURL: "https://school.example", SecretKey: secretKey})
		engine := delivery.New(db, mailer, learn, delivery.Config{Logger: quiet})
		rules := bounces.NewService(db, learn, bounces.Config{ReturnPaths: paths, Logger: quiet})
		mailer.SetRefusalRecorder(rules.RecordRefusal)
		workers := river.NewWorkers()
		mailer.AddWorkers(workers)
		engine.AddWorkers(workers)
		storetest.StartJobs(t, db, workers, mail.Queue, delivery.Queue)

		org, members := storetest.NewOrganization(t, db, "Acme", storetest.Member{Email: "editor@example.com", Role: "editor"})
		editor := &members[0]
		course, err := learn.CreateCourse(ctx, editor, org, learning.CourseFields{Title: ptr("Go basics")})
		if err != nil {
			t.Fatal(err)
		}
		// The second lesson follows three seconds after the first: time
		// for the bounce to be read before it is due.
		const wait = 3
		for i, title := range []string{"One", "Two"} {
			_, err := learn.CreateContent(ctx, editor, org, course.ID, learning.ContentFields{Kind: store.KindLesson,
				Title: ptr(title), Body: ptr("A lesson"), WaitingPeriodSeconds: ptr(i * wait), Published: ptr(true)})
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := learn.UpdateCourse(ctx, editor, org, course.ID, learning.CourseFields{Enabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		enrollments := map[string]store.Enrollment{}
		for _, who := range []string{"bounced", "complained", "forged"} {
			e, err := learn.EnrollDirectly(ctx, editor, org, course.ID, who+"@example.com")
			if err != nil {
				t.Fatal(err)
			}
			enrollments[who] = e
		}
		sent := time.Now()

		// The first lesson of each, as the relay got it: its envelope
		// sender is its return path.
		first := map[string]smtptest.Message{}
		storetest.Eventually(t, 15*time.Second, "the first lessons", func() bool {
			for _, m := range sink.Messages() {
				who, _, _ := strings.Cut(m.To[0], "@")
				if _, ok := first[who]; !ok {
					first[who] = m
				}
			}
			return len(first) == 3
		})
		messageID := func(m smtptest.Message) string {
			msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
			if err != nil {
				t.Fatal(err)
			}
			return strings.Trim(msg.Header.Get("Message-Id"), "<>")
		}

		imap := mailboxtest.StartIMAP(t, false)
		b := first["bounced"]
		imap.Add(t, mailboxtest.DSN(b.From, "bounced@example.com", messageID(b), "5.1.1"))
		c := first["complained"]
		imap.Add(t, mailboxtest.ARF(c.From, "complained@example.com", messageID(c)))
		f := first["forged"]
		local, domain, _ := strings.Cut(f.From, "@")
		// The signature's last character changed.
		last := "a"
		if strings.HasSuffix(local, "a") {
			last = "b"
		}
		tampered := local[:len(local)-1] + last + "@" + domain
		imap.Add(t, mailboxtest.DSN(tampered, "forged@example.com", messageID(f), "5.1.1"))
		imap.Add(t, mailboxtest.DSN("bounces@bounce.school.example", "forged@example.com", messageID(f), "5.1.1"))
		imap.Add(t, mailboxtest.ARF("learn@school.example", "forged@example.com", messageID(f)))
		imap.Add(t, []byte("Content-Type: multipart/report; boundary=\"x\"\r\n\r\nbroken\r\n"))

		var wg sync.WaitGroup
		for range 2 {
			p, err := mailbox.New(mailbox.Config{URL: imap.URL(""), Recorder: rules, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				if _, err := p.Poll(ctx); err != nil {
					t.Errorf("poll: %v", err)
				}
			})
		}
		wg.Wait()
		if time.Since(sent) > wait*time.Second {
			t.Fatalf("the mailbox was read %v after the first lessons, after the second was due", time.Since(sent))
		}
		if n := imap.Count(t, "INBOX"); n != 0 {
			t.Errorf("the mailbox holds %d emails after the runs", n)
		}

		status := func(who string) store.EnrollmentStatus {
			got, err := db.Read().Enrollment(ctx, org, enrollments[who].ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.Status
		}
		// The forgeries changed nothing: the second lesson goes out.
		storetest.Eventually(t, 20*time.Second, "the forged learner's second lesson", func() bool {
			n := 0
			for _, m := range sink.Messages() {
				if m.To[0] == "forged@example.com" {
					n++
				}
			}
			return n >= 2 && status("forged") == store.EnrollmentCompleted
		})
		time.Sleep(time.Until(sent.Add((wait + 1) * time.Second))) // past the second lesson's time
		if s := status("bounced"); s != store.EnrollmentCancelled {
			t.Errorf("the bounced learner's enrollment is %s, want cancelled", s)
		}
		if s := status("complained"); s != store.EnrollmentUnsubscribed {
			t.Errorf("the complaining learner's enrollment is %s, want unsubscribed", s)
		}
		received := map[string]int{}
		for _, m := range sink.Messages() {
			received[m.To[0]]++
		}
		for who, want := range map[string]int{"bounced": 1, "complained": 1} {
			if got := received[who+"@example.com"]; got != want {
				t.Errorf("%s was sent %d emails, want %d", who, got, want)
			}
		}

		page, err := learn.Enrollment(ctx, editor, org, enrollments["bounced"].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Bounces) != 1 || page.Bounces[0].Kind != "hard" || page.Bounces[0].Source != "mailbox" ||
			!strings.Contains(page.Bounces[0].Diagnostic, "5.1.1") {
			t.Fatalf("enrollment page bounces: %+v", page.Bounces)
		}
		for _, d := range page.Deliveries {
			if d.Title == "Two" && d.Status != store.DeliveryCancelled {
				t.Errorf("second lesson is %s, want cancelled", d.Status)
			}
		}
		// One row per report, though two pollers read each email.
		log, err := db.Read().ListBounces(ctx, org, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		for _, r := range log {
			rows = append(rows, r.Kind+" "+r.Email)
		}
		if got := strings.Join(rows, ", "); got != "complaint complained@example.com, hard bounced@example.com" {
			t.Fatalf("bounce log: %s", got)
		}
		for who, want := range map[string]bool{"bounced": true, "complained": true, "forged": false} {
			blocked, err := db.Read().EmailBlocked(ctx, org, who+"@example.com")
			if err != nil || blocked != want {
				t.Errorf("%s blocked: %v, %v; want %v", who, blocked, err, want)
			}
		}
	})
}
