package mail

import "context"

// Outbox is the transport of installs without an SMTP server: every
// message already lives in the database, so sending only marks it stored,
// and platform admins read it in the outbox pages.
type Outbox struct{}

// Send accepts the message; it stays in the database.
func (Outbox) Send(context.Context, Envelope, []byte) (string, error) { return "", nil }

// Close does nothing.
func (Outbox) Close() error { return nil }
