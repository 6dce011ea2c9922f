package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/bounces/mailbox/mailboxtest"
)

// TestServeReadsTheBounceMailbox runs serve with a bounce mailbox: it is
// read as soon as the workers start, and what was read is removed.
func TestServeReadsTheBounceMailbox(t *testing.T) {
	imap := mailboxtest.StartIMAP(t, false)
	imap.Add(t, mailboxtest.DSN("bounces+1-abc@bounce.acme.example", "ada@example.com", "m1@acme.example", "5.1.1"))
	imap.Add(t, []byte("From: ada@example.com\r\nSubject: Thanks!\r\n\r\nA reply to the bounce address.\r\n"))
	env := map[string]string{
		"MAILSCHOOL_DATA_DIR":       t.TempDir(),
		"MAILSCHOOL_BOUNCE_DOMAIN":  "bounce.acme.example",
		"MAILSCHOOL_BOUNCE_MAILBOX": imap.URL(""),
	}
	_, stop := startServer(t, env)
	defer stop()
	for deadline := time.Now().Add(30 * time.Second); imap.Count(t, "INBOX") > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the mailbox still holds %d emails\n%s", imap.Count(t, "INBOX"), stop())
		}
	}
	if out := stop(); strings.Contains(out, "s3cret") {
		t.Errorf("the log shows the mailbox's password:\n%s", out)
	}
}
