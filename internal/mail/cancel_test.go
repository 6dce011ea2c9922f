package mail_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// acceptOnStop is a server that takes each message just as the sending
// node stops: Send returns success once the sender's context is done.
type acceptOnStop struct{ sending chan struct{} }

func (a acceptOnStop) Send(ctx context.Context, _ mail.Envelope, _ []byte) (string, error) {
	a.sending <- struct{}{}
	<-ctx.Done()
	return "2.0.0 OK: queued as 1", nil
}

func (acceptOnStop) Close() error { return nil }

// TestSendAcceptedWhileStoppingIsRecorded stops the workers with
// StopAndCancel while the server is taking a message: the send's context
// ends, but the outcome is still recorded, so no retry sends it again.
func TestSendAcceptedWhileStoppingIsRecorded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		transport := acceptOnStop{sending: make(chan struct{}, 1)}
		s := newService(t, db, transport, "smtp")
		jobs := startWorkers(t, db, s)
		ids := enqueue(t, db, s, "ada@example.com")
		select {
		case <-transport.sending:
		case <-time.After(10 * time.Second):
			t.Fatal("the send job did not start within 10s")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := jobs.StopAndCancel(ctx); err != nil {
			t.Fatal(err)
		}
		if m := message(t, db, ids[0]); m.Status != store.MailSent || m.Attempts != 1 || m.ProviderMessageID == "" {
			t.Errorf("message accepted while the workers stopped: %s after %d attempts (%q), want sent", m.Status, m.Attempts, m.ProviderMessageID)
		}
	})
}
