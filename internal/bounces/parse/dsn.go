package parse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/mailschool/mailschool/internal/bounces"
)

// dsn reads a delivery status notification (RFC 3464): a block of fields
// about the message, then one block per recipient. Recipients whose
// Action is failed are hard or soft bounces by their Status (5.x.x hard,
// 4.x.x soft); delayed ones are soft; delivered, relayed and expanded
// ones are no bounce.
func (p *parser) dsn() ([]bounces.Report, error) {
	r := textproto.NewReader(bufioReader(p.status))
	perMessage, err := r.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: delivery status: %v", ErrMalformed, err)
	}
	arrival := parseTime(perMessage.Get("Arrival-Date"))
	var reports []bounces.Report
	for {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 {
			if report, ok := dsnRecipient(h); ok {
				if report.At.IsZero() {
					report.At = arrival
				}
				reports = append(reports, report)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(reports) > 0 {
				break // keep the recipients read before the broken block
			}
			return nil, fmt.Errorf("%w: delivery status: %v", ErrMalformed, err)
		}
	}
	// A status part whose first block already names a recipient (the
	// blank line after the per-message fields left out).
	if len(reports) == 0 && perMessage.Get("Final-Recipient") != "" {
		if report, ok := dsnRecipient(perMessage); ok {
			reports = append(reports, report)
		}
	}
	return reports, nil
}

func dsnRecipient(h textproto.MIMEHeader) (bounces.Report, bool) {
	recipient := addressField(h.Get("Final-Recipient"))
	if recipient == "" {
		recipient = addressField(h.Get("Original-Recipient"))
	}
	if recipient == "" {
		return bounces.Report{}, false
	}
	action := strings.ToLower(strings.TrimSpace(h.Get("Action")))
	status := strings.TrimSpace(h.Get("Status"))
	if i := strings.IndexAny(status, " \t("); i > 0 {
		status = status[:i] // "5.0.0 (permanent failure)"
	}
	var kind bounces.Kind
	switch action {
	case "failed":
		kind = bounces.Hard
		if strings.HasPrefix(status, "4") {
			kind = bounces.Soft
		}
	case "delayed":
		kind = bounces.Soft
	case "delivered", "relayed", "expanded":
		return bounces.Report{}, false
	default:
		// No or an unknown Action: the Status class decides.
		switch {
		case strings.HasPrefix(status, "5"):
			kind = bounces.Hard
		case strings.HasPrefix(status, "4"):
			kind = bounces.Soft
		default:
			return bounces.Report{}, false
		}
	}
	diagnostic := stripType(h.Get("Diagnostic-Code"))
	if status != "" && !strings.Contains(diagnostic, status) {
		diagnostic = strings.TrimSpace(status + " " + diagnostic)
	}
	return bounces.Report{
		Kind:       kind,
		Recipient:  recipient,
		Diagnostic: diagnostic,
		At:         parseTime(h.Get("Last-Attempt-Date")),
	}, true
}

// addressField reads "rfc822; ada@example.com" (a type, then an
// address), leniently: the type may be missing, the address bracketed.
func addressField(v string) string {
	v = stripType(v)
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "<"), ">"))
	if !strings.Contains(v, "@") || strings.ContainsAny(v, " \t<>") {
		return ""
	}
	return v
}

// stripType removes the "smtp;" or "rfc822;" a DSN field starts with.
func stripType(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ';'); i > 0 && i < 16 && !strings.ContainsAny(v[:i], " @") {
		v = strings.TrimSpace(v[i+1:])
	}
	return v
}

// quotedMessageID finds a quoted Message-ID line in a bounce's text.
var quotedMessageID = regexp.MustCompile(`(?im)^[ \t>]*Message-ID:[ \t]*<([^<>\s]+)>`)

// bufioReader reads b, with a line end added so the last block ends.
func bufioReader(b []byte) *bufio.Reader {
	b = bytes.TrimLeft(b, "\r\n")
	return bufio.NewReader(io.MultiReader(bytes.NewReader(b), strings.NewReader("\r\n\r\n")))
}
