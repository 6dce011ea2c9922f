// Package parse reads the emails that arrive in a bounce mailbox:
// delivery status notifications (RFC 3464), feedback reports from
// complaint loops (RFC 5965), and the plain-text bounces of mail servers
// that send neither, into bounces.Report values.
package parse

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
)

// Source is the bounces.Report source of everything read here.
const Source = "mailbox"

// Limits on what is read, so that a hostile message costs little.
const (
	// MaxSize is the largest email parsed; bounces quote at most the
	// original message, and mailschool's are small.
	MaxSize = 10 << 20
	// maxParts is how many MIME parts are looked at in all.
	maxParts = 100
	// maxDepth is how deeply multiparts may nest.
	maxDepth = 5
	// maxDiagnostic is the longest diagnostic kept, in bytes.
	maxDiagnostic = 1000
	// maxAddress and maxID bound the other values handed on, which the
	// database stores and indexes.
	maxAddress = 320
	maxID      = 250
)

var (
	// ErrNotBounce is returned for an email that reports no failed
	// delivery or complaint: an auto-reply, a delivery notice, anything else.
	ErrNotBounce = errors.New("not a bounce or complaint")
	// ErrMalformed is returned, wrapped, for an email that cannot be read.
	ErrMalformed = errors.New("malformed email")
)

// Parse reads one email and returns the bounces and complaints it
// reports, one per recipient. It returns ErrNotBounce when it reports
// none, and an error wrapping ErrMalformed when it cannot be read.
// Source is "mailbox"; SourceID is the email's own Message-ID (or a hash
// of its bytes), with the recipient added when it reports several.
func Parse(raw []byte) ([]bounces.Report, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(raw), MaxSize)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	top := &part{header: textproto.MIMEHeader(msg.Header), body: body}
	p := &parser{}
	if err := p.walk(top, 0); err != nil {
		return nil, err
	}
	var reports []bounces.Report
	switch {
	case p.feedback != nil:
		reports = p.arf()
	case p.status != nil:
		reports, err = p.dsn()
		if err != nil {
			return nil, err
		}
	case isAutoReply(msg.Header):
		return nil, ErrNotBounce
	default:
		reports = p.plainText(msg.Header)
	}
	if len(reports) == 0 {
		return nil, ErrNotBounce
	}
	at, _ := msg.Header.Date()
	returnPath := p.returnPath(msg.Header)
	originalID := p.originalMessageID()
	sourceID := clean(messageID(msg.Header.Get("Message-Id")), maxID)
	if sourceID == "" || len(sourceID) == maxID {
		// None, or one too long to be a unique key: the bytes say which
		// email this is as well.
		sum := sha256.Sum256(raw)
		sourceID = "sha256:" + hex.EncodeToString(sum[:])
	}
	for i := range reports {
		r := &reports[i]
		r.Recipient = strings.ToLower(clean(r.Recipient, maxAddress))
		r.Source = Source
		r.SourceID = sourceID
		if len(reports) > 1 {
			r.SourceID += " " + r.Recipient
		}
		if r.ReturnPath == "" {
			r.ReturnPath = returnPath
		}
		if r.MessageID == "" {
			r.MessageID = originalID
		}
		if r.At.IsZero() && !at.IsZero() {
			r.At = at.UTC()
		}
		r.Diagnostic = clean(r.Diagnostic, maxDiagnostic)
		r.ReturnPath = clean(r.ReturnPath, maxAddress)
		r.MessageID = clean(r.MessageID, maxID)
	}
	return reports, nil
}

// part is one MIME part, its body decoded from its transfer encoding.
type part struct {
	header textproto.MIMEHeader
	body   []byte
}

// parser collects the parts that matter while walking an email.
type parser struct {
	parts    int
	texts    [][]byte             // text/plain parts, in order
	status   []byte               // the first message/delivery-status part
	feedback []byte               // the first message/feedback-report part
	original textproto.MIMEHeader // the quoted original's header, when one is attached
}

func (p *parser) walk(pt *part, depth int) error {
	p.parts++
	if p.parts > maxParts {
		return fmt.Errorf("%w: more than %d parts", ErrMalformed, maxParts)
	}
	mediaType, params, err := mime.ParseMediaType(pt.header.Get("Content-Type"))
	if err != nil {
		// RFC 2045: a missing or unreadable type is plain text.
		mediaType, params = "text/plain", nil
	}
	body, err := decodeTransfer(pt.header.Get("Content-Transfer-Encoding"), pt.body)
	if err != nil {
		return fmt.Errorf("%w: %s part: %v", ErrMalformed, mediaType, err)
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if depth >= maxDepth {
			return fmt.Errorf("%w: multiparts nested more than %d deep", ErrMalformed, maxDepth)
		}
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("%w: %s without a boundary", ErrMalformed, mediaType)
		}
		r := multipart.NewReader(bytes.NewReader(body), boundary)
		n := 0
		for {
			mp, err := r.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				if n > 0 {
					break // a truncated last part: keep what was read
				}
				return fmt.Errorf("%w: %s: %v", ErrMalformed, mediaType, err)
			}
			b, err := io.ReadAll(mp)
			if err != nil && n == 0 {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, mediaType, err)
			}
			n++
			if err := p.walk(&part{header: mp.Header, body: b}, depth+1); err != nil {
				return err
			}
		}
		if n == 0 {
			return fmt.Errorf("%w: %s with no parts", ErrMalformed, mediaType)
		}
	case mediaType == "message/delivery-status" || mediaType == "message/global-delivery-status":
		if p.status == nil {
			p.status = body
		}
	case mediaType == "message/feedback-report":
		if p.feedback == nil {
			p.feedback = body
		}
	case mediaType == "message/rfc822" || mediaType == "message/global" ||
		mediaType == "text/rfc822-headers" || mediaType == "message/global-headers":
		if p.original == nil {
			p.original = readHeader(body)
		}
	case mediaType == "text/plain" && !strings.HasPrefix(strings.ToLower(pt.header.Get("Content-Disposition")), "attachment"):
		p.texts = append(p.texts, body)
	}
	return nil
}

// decodeTransfer undoes a part's Content-Transfer-Encoding.
func decodeTransfer(encoding string, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		// Room for the unpadded form too, which may decode longer.
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil {
			// Some servers leave the padding off.
			n, err = base64.RawStdEncoding.Decode(out, bytes.TrimRight(clean, "="))
		}
		return out[:n], err
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil && len(out) == 0 {
			return nil, err
		}
		return out, nil
	default:
		return body, nil
	}
}

// readHeader reads a header block, as much of it as can be read: a
// quoted original may be cut short or carry a broken line.
func readHeader(b []byte) textproto.MIMEHeader {
	r := textproto.NewReader(bufioReader(b))
	h, err := r.ReadMIMEHeader()
	if h == nil && err != nil {
		return textproto.MIMEHeader{}
	}
	return h
}

// originalMessageID is the Message-ID of the message a report is about:
// from its quoted header, or else a Message-ID line in the text parts.
func (p *parser) originalMessageID() string {
	if p.original != nil {
		if id := messageID(p.original.Get("Message-Id")); id != "" {
			return id
		}
	}
	for _, text := range p.texts {
		if m := quotedMessageID.FindSubmatch(text[:min(len(text), maxText)]); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// returnPathHeaders are the bounce's own headers that may hold the address
// it was sent to, best first: those written at delivery from the
// envelope, then To.
var returnPathHeaders = []string{"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To"}

// returnPath is the address the bounce was sent to, the message's return
// path (bounces+<token>@<domain>): an address whose local part starts
// with "bounces+" among the bounce's headers and the original's
// Return-Path, or else the first address of those headers.
func (p *parser) returnPath(h mail.Header) string {
	var candidates []string
	for _, name := range returnPathHeaders {
		for _, v := range h[textproto.CanonicalMIMEHeaderKey(name)] {
			candidates = append(candidates, addresses(v)...)
		}
	}
	envelope := candidates
	if p.original != nil {
		for _, v := range p.original.Values("Return-Path") {
			candidates = append(candidates, addresses(v)...)
		}
	}
	for _, c := range candidates {
		if strings.HasPrefix(strings.ToLower(c), "bounces+") {
			return c
		}
	}
	if len(envelope) > 0 {
		return envelope[0]
	}
	return ""
}

// addresses reads the addresses of a header value, leniently.
func addresses(v string) []string {
	if list, err := mail.ParseAddressList(v); err == nil {
		out := make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, a.Address)
		}
		return out
	}
	v = strings.TrimSpace(v)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	if strings.Contains(v, "@") && !strings.ContainsAny(v, " \t<>,") {
		return []string{v}
	}
	return nil
}

// messageID strips a Message-ID of its angle brackets and spaces.
func messageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	return strings.TrimSpace(v)
}

// isAutoReply tells an out-of-office or other automatic answer, which is
// no bounce, by its headers and subject. Auto-Submitted is no sign:
// bounces carry it too.
func isAutoReply(h mail.Header) bool {
	if h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != "" ||
		strings.EqualFold(h.Get("Precedence"), "auto_reply") {
		return true
	}
	subject := strings.ToLower(decodeWords(h.Get("Subject")))
	for _, prefix := range []string{"out of office", "automatic reply", "auto:", "autoreply", "auto-reply", "auto reply", "abwesenheit"} {
		if strings.HasPrefix(subject, prefix) {
			return true
		}
	}
	return false
}

func decodeWords(s string) string {
	if out, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		return out
	}
	return s
}

// clean makes a value safe to store: valid UTF-8, no control characters,
// runs of spaces one, at most max bytes.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// parseTime reads an RFC 5322 date, or gives the zero time.
func parseTime(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
