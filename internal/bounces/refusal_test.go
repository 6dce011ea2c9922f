package bounces_test

import (
	"context"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/delivery"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/mail/smtptest"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestRefusalAtSendTimeIsAHardBounce sends a course through SMTP to a
// server that refuses one learner for good: the refusal is that learner's
// hard bounce, the next lesson is never sent, and the enrollment page
// shows the bounce. Every email goes out from its own return path.
func TestRefusalAtSendTimeIsAHardBounce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sink := smtptest.Start(t, smtptest.Options{Reply: func(_ int, m smtptest.Message) error {
			if strings.Contains(strings.Join(m.To, ","), "gone@") {
				return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
			}
			// A refusal of the message, not of the address: no bounce.
			if strings.Contains(strings.Join(m.To, ","), "policy@") {
				return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "content policy"}
			}
			return nil
		}})
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
		rules := bounces.NewService(db, learn, bounces.Config{ReturnPaths: paths, BlockPlatformWide: true, Logger: quiet})
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
		// The second lesson follows two seconds after the first: time for
		// the refusal to be recorded before it is due.
		for i, title := range []string{"One", "Two"} {
			_, err := learn.CreateContent(ctx, editor, org, course.ID, learning.ContentFields{Kind: store.KindLesson,
				Title: ptr(title), Body: ptr("A lesson"), WaitingPeriodSeconds: ptr(i * 2), Published: ptr(true)})
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := learn.UpdateCourse(ctx, editor, org, course.ID, learning.CourseFields{Enabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		gone, err := learn.EnrollDirectly(ctx, editor, org, course.ID, "gone@example.com")
		if err != nil {
			t.Fatal(err)
		}
		kept, err := learn.EnrollDirectly(ctx, editor, org, course.ID, "kept@example.com")
		if err != nil {
			t.Fatal(err)
		}
		policy, err := learn.EnrollDirectly(ctx, editor, org, course.ID, "policy@example.com")
		if err != nil {
			t.Fatal(err)
		}

		status := func(e store.Enrollment) store.EnrollmentStatus {
			got, err := db.Read().Enrollment(ctx, org, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.Status
		}
		storetest.Eventually(t, 20*time.Second, "the other learners' courses to complete", func() bool {
			return status(kept) == store.EnrollmentCompleted && status(policy) == store.EnrollmentCompleted
		})
		storetest.Eventually(t, 10*time.Second, "the refused learner's enrollment to end", func() bool {
			return status(gone) == store.EnrollmentCancelled
		})
		time.Sleep(3 * time.Second) // past the second lesson's time

		for _, m := range sink.Messages() {
			if strings.Contains(strings.Join(m.To, ","), "gone@") {
				t.Fatalf("the refused address was sent %q", m.Data[:min(len(m.Data), 200)])
			}
			if !strings.HasPrefix(m.From, "bounces+") || !strings.HasSuffix(m.From, "@bounce.school.example") {
				t.Errorf("envelope sender %q is not a return path", m.From)
			}
		}
		list, err := db.Read().ListMailMessages(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		tried := 0
		for _, m := range list {
			if m.Recipient == "gone@example.com" {
				tried++
				if m.Status != store.MailFailed || m.Attempts != 1 {
					t.Errorf("email %q to the refused address: %s after %d attempts, want failed after 1", m.Subject, m.Status, m.Attempts)
				}
			}
		}
		if tried != 1 {
			t.Fatalf("%d emails recorded for the refused address, want only the first lesson", tried)
		}
		page, err := learn.Enrollment(ctx, editor, org, gone.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Bounces) != 1 || page.Bounces[0].Kind != "hard" || page.Bounces[0].Source != "smtp" ||
			!strings.Contains(page.Bounces[0].Diagnostic, "no such user here") {
			t.Fatalf("enrollment page bounces: %+v", page.Bounces)
		}
		for _, d := range page.Deliveries {
			if d.Title == "Two" && d.Status != store.DeliveryCancelled {
				t.Errorf("second lesson is %s, want cancelled", d.Status)
			}
		}
		log, err := db.Read().ListBounces(ctx, org, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 1 || log[0].Email != "gone@example.com" || log[0].Subject == "" {
			t.Fatalf("bounce log: %+v", log)
		}
		blocked, err := db.Read().EmailBlocked(ctx, org, "gone@example.com")
		if err != nil || !blocked {
			t.Fatalf("refused address blocked: %v, %v", blocked, err)
		}
		if blocked, err := db.Read().EmailBlocked(ctx, org, "policy@example.com"); err != nil || blocked {
			t.Errorf("an address whose email was refused for its content is blocked: %v, %v", blocked, err)
		}
	})
}
