// Package problem defines the errors that domain packages return for the
// person using mailschool: a kind that the web layer maps to an HTTP status,
// a stable code for API clients, and a plain-sentence message.
package problem

import (
	"errors"
	"fmt"
)

// Kind says what went wrong, independent of the transport.
type Kind int

const (
	Invalid         Kind = iota + 1 // a field breaks a rule (422)
	Malformed                       // the request cannot be read (400)
	Unauthenticated                 // not logged in, or bad credentials (401)
	Forbidden                       // logged in, but not allowed (403)
	NotFound                        // does not exist, or not yours (404)
	Conflict                        // clashes with the current state (409)
	TooLarge                        // over a size limit (413)
	UnsupportedType                 // wrong media type (415)
	Throttled                       // too many attempts (429)
	Gone                            // existed, but no longer usable: an expired or used link (410)
	TimedOut                        // the request took too long to arrive (408)
)

// Error is a problem to report to the user.
type Error struct {
	Kind    Kind
	Code    string            // stable, snake_case, for API clients
	Message string            // a plain sentence for people
	Fields  map[string]string // per-field messages, when fields are at fault
}

func (e *Error) Error() string { return e.Message }

// New returns a problem of the given kind.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Newf returns a problem whose message is formatted.
func Newf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid problem about one field.
func Field(field, code, message string) *Error {
	return &Error{Kind: Invalid, Code: code, Message: message, Fields: map[string]string{field: message}}
}

// FieldConflict returns a Conflict problem about one field: a value that
// is taken, such as a name another record has.
func FieldConflict(field, code, message string) *Error {
	return &Error{Kind: Conflict, Code: code, Message: message, Fields: map[string]string{field: message}}
}

// As returns the problem inside err, if there is one.
func As(err error) (*Error, bool) {
	var p *Error
	ok := errors.As(err, &p)
	return p, ok
}
