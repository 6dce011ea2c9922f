// Package mail is mailschool's one way out for email: it renders every
// email from embedded templates into HTML and plain text, records it, and
// sends it from a background job through a Transport: an SMTP server, or
// the built-in outbox that keeps messages in the database.
package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Header is one extra header line of a message.
type Header struct {
	Name, Value string
}

// Message is a rendered email, ready to be turned into MIME.
type Message struct {
	From      mail.Address
	To        string // bare address
	Subject   string
	Date      time.Time
	MessageID string // without angle brackets
	Headers   []Header
	Text      string
	HTML      string
}

// maxLineLength is the longest a line of a message may be, without its
// CRLF (RFC 5322, section 2.1.1).
const maxLineLength = 998

// Bytes returns the message as RFC 5322 source: multipart/alternative with
// a quoted-printable text part and HTML part, CRLF line endings. The
// boundary comes from the Message-ID, so the same message always gives the
// same bytes.
func (m Message) Bytes() []byte {
	sum := sha256.Sum256([]byte(m.MessageID))
	boundary := "mailschool-" + hex.EncodeToString(sum[:12])

	var b bytes.Buffer
	header := func(name, value string) {
		// A line break in a value would start a header of its own.
		line := name + ": " + strings.NewReplacer("\r", " ", "\n", " ").Replace(value)
		// No line may be longer than 998 characters (RFC 5322): a longer
		// one, such as the encoded words of a long title, is folded before
		// its spaces, which unfolding joins back as they were.
		start := len(name) + 2
		for len(line) > maxLineLength {
			cut := strings.LastIndexByte(line[:maxLineLength], ' ')
			if cut < start {
				break
			}
			b.WriteString(line[:cut])
			b.WriteString("\r\n")
			line, start = line[cut:], 2
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	header("From", m.From.String())
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", m.Date.Format(time.RFC1123Z))
	header("Message-ID", "<"+m.MessageID+">")
	for _, h := range m.Headers {
		header(h.Name, h.Value)
	}
	header("MIME-Version", "1.0")
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	writePart(&b, boundary, "text/plain; charset=utf-8", m.Text)
	writePart(&b, boundary, "text/html; charset=utf-8", m.HTML)
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes()
}

func writePart(b *bytes.Buffer, boundary, contentType, body string) {
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: " + contentType + "\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(b)
	// Quoted-printable turns bare line breaks into CRLF only when they are
	// written as CRLF.
	qp.Write([]byte(toCRLF(body)))
	qp.Close()
	b.WriteString("\r\n")
}

func toCRLF(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// newMessageID returns a Message-ID at the sender's domain: the key, when
// the email has one, then a random part. The random part makes it unique
// whatever happened before: a key names a row by id, and an email outlives
// the row it was about (a deleted course keeps its sent emails), so a key
// alone could collide with an old email's and the email could never be
// recorded.
func newMessageID(key string, from mail.Address, random []byte) string {
	id := hex.EncodeToString(random) + "@" + domainOf(from)
	if key != "" {
		id = key + "." + id
	}
	return id
}

// domainOf is the domain of the sender's address, or localhost.
func domainOf(from mail.Address) string {
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 {
		return from.Address[at+1:]
	}
	return "localhost"
}
