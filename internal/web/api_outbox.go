package web

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

var errMessageNotFound = problem.New(problem.NotFound, "message_not_found", "There is no such email in the outbox.")

// outboxMessageJSON is a recorded email in the API's list of the outbox.
type outboxMessageJSON struct {
	ID             int64      `json:"id"`
	OrganizationID *int64     `json:"organization_id"`
	EnrollmentID   *int64     `json:"enrollment_id"`
	Kind           string     `json:"kind"`
	Sender         string     `json:"sender"`
	Recipient      string     `json:"recipient"`
	Subject        string     `json:"subject"`
	Status         string     `json:"status"`
	Transport      string     `json:"transport"`
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	SentAt         *time.Time `json:"sent_at"`
}

func toOutboxMessageJSON(m store.MailMessage) outboxMessageJSON {
	return outboxMessageJSON{ID: m.ID, OrganizationID: m.OrganizationID, EnrollmentID: m.EnrollmentID, Kind: m.Kind, Sender: m.Sender,
		Recipient: m.Recipient, Subject: m.Subject, Status: m.Status, Transport: m.Transport, Attempts: m.Attempts, LastError: m.LastError,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, SentAt: m.SentAt}
}

// outboxMessageDetailJSON is a recorded email with its headers and bodies.
type outboxMessageDetailJSON struct {
	outboxMessageJSON
	MessageID         string            `json:"message_id"`
	ProviderMessageID string            `json:"provider_message_id"`
	Headers           []emailHeaderJSON `json:"headers"`
	TextBody          string            `json:"text_body"`
	HTMLBody          string            `json:"html_body"`
	EnvelopeSender    string            `json:"envelope_sender"`
}

type emailHeaderJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// apiOutboxList lists every recorded email, newest first, as the outbox
// page does.
func (s *Server) apiOutboxList(w http.ResponseWriter, r *http.Request) error {
	before, err := cursorID(r)
	if err != nil {
		return err
	}
	list, err := s.mail.Messages(r.Context(), before, outboxPageSize+1)
	if err != nil {
		return err
	}
	var next int64
	if len(list) > outboxPageSize {
		list = list[:outboxPageSize]
		next = list[outboxPageSize-1].ID
	}
	writeJSON(w, http.StatusOK, listAfter(list, next, toOutboxMessageJSON))
	return nil
}

// apiOutboxMessage answers a recorded email with every header of its
// source (in name order; values as written, encoded words and all) and
// its text and HTML bodies.
func (s *Server) apiOutboxMessage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt64(r, "message_id")
	if err != nil {
		return errMessageNotFound
	}
	m, parsed, err := s.mail.Message(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errMessageNotFound
	}
	if err != nil {
		return err
	}
	out := outboxMessageDetailJSON{outboxMessageJSON: toOutboxMessageJSON(m), MessageID: m.MessageID, ProviderMessageID: m.ProviderMessageID,
		Headers: []emailHeaderJSON{}, TextBody: parsed.Text, HTMLBody: parsed.HTML, EnvelopeSender: s.envelopeSender(m)}
	names := make([]string, 0, len(parsed.Header))
	for name := range parsed.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range parsed.Header[name] {
			out.Headers = append(out.Headers, emailHeaderJSON{Name: name, Value: v})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
