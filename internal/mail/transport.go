package mail

import (
	"context"
	"errors"
)

// Envelope is the SMTP envelope of one message.
type Envelope struct {
	From string   // bare address for MAIL FROM
	To   []string // bare addresses for RCPT TO
}

// Transport hands a finished message (complete RFC 5322 bytes, CRLF line
// endings) to the next hop. Implementations are safe for concurrent use.
type Transport interface {
	// Send delivers raw and returns the id the next hop gave the message, if any
	// (for SMTP: the text of the server's reply to the end of DATA, e.g. "2.0.0 Ok: queued as 4F3A1").
	// An error is temporary, and worth retrying, unless IsPermanent reports otherwise.
	Send(ctx context.Context, env Envelope, raw []byte) (providerID string, err error)
	Close() error
}

// PermanentError wraps a failure that retrying cannot fix (an SMTP 5xx reply).
// Recipient tells whether the server refused the recipient's address itself
// (no such mailbox or domain, a disabled mailbox), which the bounce rules
// count as a hard bounce; a refused sender, wrong credentials, content or
// policy refusals say nothing of the address.
type PermanentError struct {
	Err       error
	Recipient bool
}

func (e *PermanentError) Error() string { return e.Err.Error() }

func (e *PermanentError) Unwrap() error { return e.Err }

// IsRecipientRefused reports whether err is a PermanentError refusing the
// recipient's address.
func IsRecipientRefused(err error) bool {
	perm, ok := errors.AsType[*PermanentError](err)
	return ok && perm.Recipient
}

// IsPermanent reports whether err (or anything it wraps) is a PermanentError.
func IsPermanent(err error) bool {
	var perm *PermanentError
	return errors.As(err, &perm)
}
