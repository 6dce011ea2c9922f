package mail

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// List is the mailing list an email belongs to, for its List-Id header
// (RFC 2919): "Description <label.label.domain>", the domain being the
// sender's.
type List struct {
	// Labels identify the list, most specific first, such as a course's
	// slug and its organization's. Only ASCII letters, digits and
	// hyphens are kept of them, so that the list-id is the sender's own
	// ASCII, whatever the names of things are.
	Labels []string
	// Description names the list for people, in any text: it is sent
	// before the list-id as plain words, or else encoded (RFC 2047), so
	// that it can never pass for a list-id or another part of the header.
	Description string
}

// header is the List-Id header value of the list at the sender's domain.
func (l List) header(domain string) string {
	if ascii, err := idna.Lookup.ToASCII(domain); err == nil {
		domain = ascii
	}
	var parts []string
	for _, label := range append(l.Labels, strings.Split(domain, ".")...) {
		if label = listLabel(label); label != "" {
			parts = append(parts, label)
		}
	}
	id := "<" + strings.Join(parts, ".") + ">"
	if phrase := encodePhrase(l.Description); phrase != "" {
		return phrase + " " + id
	}
	return id
}

// listLabel keeps the lower-case ASCII letters, digits and hyphens of s,
// without hyphens at either end.
func listLabel(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, s)
	return strings.Trim(s, "-")
}

// encodePhrase returns s on one line as an RFC 5322 phrase: as it is when
// it is plain words (atoms), or else as RFC 2047 "B" encoded words, which
// hold nothing but letters, digits, "+", "/" and "=" between their
// delimiters: no angle bracket, quote or comma of s can show through.
func encodePhrase(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if !strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && !isAtext(r) }) {
		return s
	}
	// An encoded word is at most 75 characters: 12 of delimiters and 60
	// of base64, which hold 45 bytes. Words split between characters.
	const maxBytes = 45
	var words []string
	for len(s) > 0 {
		n := min(len(s), maxBytes)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

// isAtext reports the characters an atom may hold (RFC 5322 atext).
func isAtext(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}
