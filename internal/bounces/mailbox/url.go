package mailbox

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Settings is where the bounce mailbox is and how to reach it, as read
// from MAILSCHOOL_BOUNCE_MAILBOX.
type Settings struct {
	// Protocol is "imap" or "pop3".
	Protocol string
	// Security is "tls" (imaps, pop3s), "starttls" (imap, pop3: the
	// default) or "none" (?tls=none, for local tests only).
	Security string
	// Addr is host:port.
	Addr     string
	Username string
	Password string
	// Folder is the IMAP folder read (the URL's path; INBOX by default).
	Folder string
	// Processed is the IMAP folder processed emails are moved to
	// (?processed=Folder); empty deletes them.
	Processed string
}

// ParseURL reads a bounce mailbox URL:
//
//	imaps://user:pass@host[:993]/INBOX[?processed=Folder]
//	imap://user:pass@host[:143]/INBOX[?tls=none][&processed=Folder]  (STARTTLS unless tls=none)
//	pop3s://user:pass@host[:995]
//	pop3://user:pass@host[:110][?tls=none]                           (STLS unless tls=none)
//
// Its errors never repeat the URL, which holds a password.
func ParseURL(raw string) (Settings, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Settings{}, errors.New("not a URL")
	}
	var s Settings
	var port string
	switch u.Scheme {
	case "imaps":
		s.Protocol, s.Security, port = "imap", "tls", "993"
	case "imap":
		s.Protocol, s.Security, port = "imap", "starttls", "143"
	case "pop3s":
		s.Protocol, s.Security, port = "pop3", "tls", "995"
	case "pop3":
		s.Protocol, s.Security, port = "pop3", "starttls", "110"
	default:
		return Settings{}, fmt.Errorf("the scheme %q is none of imaps, imap, pop3s, pop3", u.Scheme)
	}
	if u.Hostname() == "" {
		return Settings{}, errors.New("no host")
	}
	if u.Port() != "" {
		port = u.Port()
	}
	s.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User == nil || u.User.Username() == "" {
		return Settings{}, errors.New("no user name")
	}
	s.Username = u.User.Username()
	s.Password, _ = u.User.Password()
	q := u.Query()
	for name := range q {
		if name != "tls" && name != "processed" {
			return Settings{}, fmt.Errorf("unknown parameter %q (tls and processed are known)", name)
		}
	}
	switch tls := q.Get("tls"); tls {
	case "":
	case "none":
		if s.Security == "tls" {
			return Settings{}, fmt.Errorf("tls=none with %s, which is TLS from the start", u.Scheme)
		}
		s.Security = "none"
	default:
		return Settings{}, fmt.Errorf("tls=%q: only tls=none may be given", tls)
	}
	folder := strings.TrimPrefix(u.Path, "/")
	s.Processed = q.Get("processed")
	if s.Protocol == "pop3" {
		if folder != "" || s.Processed != "" {
			return Settings{}, errors.New("POP3 has no folders: give no path and no processed folder")
		}
		return s, nil
	}
	if folder == "" {
		folder = "INBOX"
	}
	s.Folder = folder
	if q.Has("processed") && s.Processed == "" {
		return Settings{}, errors.New("processed names no folder")
	}
	if strings.EqualFold(s.Processed, s.Folder) {
		return Settings{}, errors.New("the processed folder is the folder read")
	}
	return s, nil
}

// String is the mailbox as a URL without its password, for logs.
func (s Settings) String() string {
	scheme := s.Protocol
	if s.Security == "tls" {
		scheme += "s"
	}
	u := url.URL{Scheme: scheme, User: url.User(s.Username), Host: s.Addr}
	if s.Folder != "" {
		u.Path = "/" + s.Folder
	}
	return u.String()
}
