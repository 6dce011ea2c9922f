package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
)

const outboxPageSize = 50

type outboxListPage struct {
	Messages []store.MailMessage
	Older    int64 // id to continue below; 0 when this is the last page
	IsFirst  bool
}

// outboxList shows every recorded email, newest first.
func (s *Server) outboxList(w http.ResponseWriter, r *http.Request) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	list, err := s.mail.Messages(r.Context(), before, outboxPageSize+1)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page := outboxListPage{Messages: list, IsFirst: before <= 0}
	if len(list) > outboxPageSize {
		page.Messages = list[:outboxPageSize]
		page.Older = page.Messages[outboxPageSize-1].ID
	}
	s.render(w, r, http.StatusOK, "outbox_list.html", "Outbox", page)
}

type outboxMessagePage struct {
	Message        store.MailMessage
	Parsed         mail.Parsed
	Headers        []mail.Header
	EnvelopeSender string
}

// envelopeSender is the envelope sender of m: the one its last try used,
// or, never tried, the one its first will use.
func (s *Server) envelopeSender(m store.MailMessage) string {
	if m.Attempts > 0 {
		return m.Sender
	}
	return s.mail.EnvelopeSender(m)
}

func (s *Server) outboxMessage(w http.ResponseWriter, r *http.Request) {
	m, parsed, ok := s.loadOutboxMessage(w, r)
	if !ok {
		return
	}
	var headers []mail.Header
	for _, name := range []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"} {
		if v := parsed.Header.Get(name); v != "" {
			if name == "Subject" {
				v = mail.DecodeSubject(v)
			}
			headers = append(headers, mail.Header{Name: name, Value: v})
		}
	}
	s.render(w, r, http.StatusOK, "outbox_message.html", m.Subject, outboxMessagePage{Message: m, Parsed: parsed, Headers: headers,
		EnvelopeSender: s.envelopeSender(m)})
}

// outboxHTML serves the HTML part of an email for the sandboxed frame of
// the message page: no scripts, no forms, no requests except images.
func (s *Server) outboxHTML(w http.ResponseWriter, r *http.Request) {
	_, parsed, ok := s.loadOutboxMessage(w, r)
	if !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; frame-ancestors 'self'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	w.Write([]byte(parsed.HTML))
}

// outboxRaw serves the complete source of an email as plain text.
func (s *Server) outboxRaw(w http.ResponseWriter, r *http.Request) {
	m, _, ok := s.loadOutboxMessage(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(m.Raw)
}

func (s *Server) loadOutboxMessage(w http.ResponseWriter, r *http.Request) (store.MailMessage, mail.Parsed, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.notFound(w, r)
		return store.MailMessage{}, mail.Parsed{}, false
	}
	m, parsed, err := s.mail.Message(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r)
		return store.MailMessage{}, mail.Parsed{}, false
	}
	if err != nil {
		s.serverError(w, r, err)
		return store.MailMessage{}, mail.Parsed{}, false
	}
	return m, parsed, true
}
