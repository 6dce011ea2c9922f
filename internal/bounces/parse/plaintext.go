package parse

import (
	"bytes"
	"net/mail"
	"regexp"
	"strings"

	"github.com/mailschool/mailschool/internal/bounces"
)

// The plain-text bounces of servers that send no delivery status part:
// qmail, Exim without DSN, Postfix and Sendmail set up that way,
// Microsoft Exchange and Office 365, Yahoo, Gmail. Each starts with a
// sentence of its own and then lists the failed addresses, each followed
// by the reason, in one of a few layouts.

// bounceMarkers are the opening sentences of plain-text bounces.
var bounceMarkers = []string{
	"this is the qmail-send program",
	"this message was created automatically by mail delivery software",
	"this is the mail system at host",
	"i'm sorry to have to inform you that your message could not",
	"the following addresses had permanent fatal errors",
	"the following addresses had transient non-fatal errors",
	"delivery has failed to these recipients or groups",
	"the following recipient(s) cannot be reached",
	"your message did not reach some or all of the intended recipients",
	"sorry, we were unable to deliver your message to the following address",
	"message not delivered",
	"your message wasn't delivered to",
	"delivery to the following recipient failed permanently",
	"delivery to the following recipients failed",
	"i'm afraid i wasn't able to deliver your message to the following addresses",
	"could not be delivered to one or more of its recipients",
	"unable to deliver your message to the following address",
}

// copyMarkers start the quoted original, where no failed address is.
var copyMarkers = []string{
	"--- below this line is a copy of the message",
	"------ this is a copy of the message",
	"----- original message follows -----",
	"----- transcript of session follows -----",
	"original message headers:",
	"--- the header of the original message is following",
	"----- original message -----",
	"diagnostic information for administrators:",
}

// delayMarkers say that the server is still trying: a soft bounce.
var delayMarkers = []string{
	"has not yet been delivered",
	"will continue trying",
	"still trying",
	"delivery is delayed",
	"delivery has been delayed",
	"delay notification",
	"transient non-fatal errors",
}

var (
	// addressLine is a line naming one failed address: "<a@b>:", "a@b",
	// "<a@b>: reason", "a@b (a@b)", "a@b on 12/6/2026 8:12 AM".
	addressLine = regexp.MustCompile(`^\s*<?([^\s<>@:()"',;]+@[^\s<>@:()"',;]+\.[^\s<>@:()"',;]+?)>?(?:\s*\([^()]*\)|\s+on\s+\d{1,2}/\d{1,2}/\d{2,4}.*)?\s*(?::\s*(.*))?$`)
	// deliveredTo is Gmail's sentence naming the address.
	deliveredTo = regexp.MustCompile(`(?i)wasn't delivered to\s+<?([^\s<>@:()"',;]+@[^\s<>@:()"',;]+\.[^\s<>@:()"',;]+?)>?\s+because`)
	// serverSaid is the server's answer quoted in the text, when the
	// recipient's own lines hold no code.
	serverSaid = regexp.MustCompile(`(?i)(?:remote server returned '([^']+)'|the response from the remote server was:\s*\n\s*([^\n]+)|#([45]\.\d{1,3}\.\d{1,3}[^>\n]*)>)`)
	// enhancedStatus is an RFC 3463 status code; smtpCode an SMTP reply code.
	enhancedStatus = regexp.MustCompile(`\b([245])\.\d{1,3}\.\d{1,3}\b`)
	smtpCode       = regexp.MustCompile(`(?:^|[\s:(#'])([45])\d\d(?:[\s\-:]|$)`)
)

// softWords mark a failure that may pass: a full mailbox, a busy server.
var softWords = []string{
	"mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage", "insufficient system storage",
	"temporarily", "temporary", "try again later", "greylist", "too many connections", "has not yet been delivered",
}

const (
	// maxReasonLines is how many lines after a failed address are its reason.
	maxReasonLines = 20
	// maxText is how much of a plain-text bounce is read: the failed
	// addresses and the quoted original's header come first.
	maxText = 256 << 10
)

// isAddressLine is addressLine.MatchString, quicker for the many lines
// without an address.
func isAddressLine(line string) bool {
	return strings.IndexByte(line, '@') >= 0 && addressLine.MatchString(line)
}

// plainText reads a bounce that has no delivery status part.
func (p *parser) plainText(h mail.Header) []bounces.Report {
	var text strings.Builder
	for _, t := range p.texts {
		text.Write(bytes.ReplaceAll(t, []byte("\r\n"), []byte("\n")))
		text.WriteByte('\n')
	}
	body := text.String()
	if len(body) > maxText {
		body = body[:maxText]
	}
	lower := asciiLower(body) // the same length as body: its indexes are body's
	start := -1
	for _, m := range bounceMarkers {
		if i := strings.Index(lower, m); i >= 0 && (start < 0 || i < start) {
			start = i
		}
	}
	// Exim names the failed addresses in a header of its own, whatever
	// its text says.
	failed := h.Get("X-Failed-Recipients")
	if start < 0 {
		if failed == "" {
			return nil
		}
		start = 0
	}
	end := len(body)
	for _, m := range copyMarkers {
		if i := strings.Index(lower[start:], m); i >= 0 && start+i < end {
			end = start + i
		}
	}
	delayed := false
	for _, m := range delayMarkers {
		if strings.Contains(lower[start:end], m) {
			delayed = true
		}
	}
	// The whole text up to the quoted original, for the server's answer.
	full := body
	if i := strings.Index(lower, "--- below this line is a copy of the message"); i >= 0 {
		full = body[:i]
	}
	said := ""
	if m := serverSaid.FindStringSubmatch(full); m != nil {
		said = strings.TrimSpace(m[1] + m[2] + m[3])
	}

	own := map[string]bool{}
	for _, name := range []string{"From", "To", "Delivered-To", "X-Original-To", "Return-Path", "Reply-To"} {
		for _, v := range h[name] {
			for _, a := range addresses(v) {
				own[strings.ToLower(a)] = true
			}
		}
	}

	var reports []bounces.Report
	seen := map[string]bool{}
	add := func(address, reason string) {
		key := strings.ToLower(address)
		if seen[key] || own[key] || strings.HasPrefix(key, "postmaster@") || strings.HasPrefix(key, "mailer-daemon@") {
			return
		}
		seen[key] = true
		reason = strings.TrimSpace(reason)
		if !enhancedStatus.MatchString(reason) && !smtpCode.MatchString(reason) && said != "" {
			reason = strings.TrimSpace(said + " " + reason)
		}
		reports = append(reports, bounces.Report{Kind: classify(reason, delayed), Recipient: address, Diagnostic: reason})
	}

	if m := deliveredTo.FindStringSubmatch(body[start:end]); m != nil {
		add(m[1], said)
	}
	lines := strings.Split(body[start:end], "\n")
	for i := 0; i < len(lines); i++ {
		if strings.IndexByte(lines[i], '@') < 0 {
			continue
		}
		m := addressLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		// The reason is the lines after the address, up to a blank line
		// (one may come first), the next address, or maxReasonLines.
		reason := []string{m[2]}
		started := m[2] != ""
		for j := i + 1; j < len(lines) && len(reason) < maxReasonLines; j++ {
			line := strings.TrimSpace(lines[j])
			if line == "" && started {
				break
			}
			if isAddressLine(lines[j]) {
				break
			}
			started = started || line != ""
			reason = append(reason, line)
			i = j
		}
		add(m[1], strings.Join(reason, " "))
	}
	if len(reports) == 0 && failed != "" {
		// The reason is the first line of the text with a status code.
		reason := said
		for _, line := range strings.Split(body[:end], "\n") {
			if reason == "" && (enhancedStatus.MatchString(line) || smtpCode.MatchString(line)) {
				reason = line
			}
		}
		for _, a := range strings.Split(failed, ",") {
			if a = addressField(a); a != "" {
				add(a, reason)
			}
		}
	}
	return reports
}

// classify tells a hard bounce from a soft one by the codes and words of
// the server's answer: an RFC 3463 status first, then an SMTP reply
// code, then the words of a full mailbox or a busy server.
func classify(reason string, delayed bool) bounces.Kind {
	if delayed {
		return bounces.Soft
	}
	if m := enhancedStatus.FindStringSubmatch(reason); m != nil {
		if m[1] == "4" {
			return bounces.Soft
		}
		if m[1] == "5" {
			return bounces.Hard
		}
	}
	if m := smtpCode.FindStringSubmatch(reason); m != nil {
		if m[1] == "4" {
			return bounces.Soft
		}
		return bounces.Hard
	}
	lower := strings.ToLower(reason)
	for _, w := range softWords {
		if strings.Contains(lower, w) {
			return bounces.Soft
		}
	}
	return bounces.Hard
}

// asciiLower lower-cases the ASCII letters of s only, keeping its length,
// which strings.ToLower does not for invalid UTF-8 and a few letters.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
