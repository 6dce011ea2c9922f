// Package bounces turns what mail servers and providers say about the
// emails mailschool sent (bounces, complaints) into blocked addresses and
// ended enrollments.
package bounces

import (
	"context"
	"time"
)

// Kind is what a report says of an address.
type Kind string

const (
	// Hard: the address cannot receive mail (no such user, no such domain).
	Hard Kind = "hard"
	// Soft: a delivery failed for now (mailbox full, greylisted); several
	// in a short time count as a hard bounce.
	Soft Kind = "soft"
	// Complaint: the recipient marked the email as spam.
	Complaint Kind = "complaint"
)

// Report is one bounce or complaint, as parsed from its source.
type Report struct {
	Kind Kind
	// Recipient is the address that bounced or complained.
	Recipient string
	// ReturnPath is the address the report was sent to, when known: the
	// message's own return path (bounces+<token>@<bounce domain>), which
	// names the message it is about.
	ReturnPath string
	// MessageID is the original message's Message-ID, without angle
	// brackets, when the report quotes it.
	MessageID string
	// Diagnostic is what the server said: the status code and its text.
	Diagnostic string
	// Source names where the report came from: "smtp" (refused at send
	// time), "mailbox", "ses", "sendgrid", "postmark", "mailgun".
	Source string
	// SourceID identifies the report within its source (the bounce
	// email's Message-ID, the provider's event id), so that a report read
	// twice is recorded once.
	SourceID string
	// At is when the bounce or complaint happened, as the source says.
	At time.Time
}

// Recorder records reports: it finds the message a report is about,
// applies the rules (block, count, unsubscribe) and logs it. A report that
// names no message mailschool sent changes nothing.
type Recorder interface {
	Record(ctx context.Context, r Report) error
}

// KindLabel is what people read for a kind: "Hard bounce", "Soft bounce",
// "Complaint". An unknown kind is shown as it is.
func KindLabel(kind string) string {
	switch Kind(kind) {
	case Hard:
		return "Hard bounce"
	case Soft:
		return "Soft bounce"
	case Complaint:
		return "Complaint"
	}
	return kind
}
