// Package names holds the rules for the names people choose for others
// to read: organization names, course and content titles, the names of
// users and the names printed on certificates.
//
// A name is stored in Unicode NFKC with its spaces made plain and
// collapsed; it may hold no control, invisible or text-direction
// character; and names that look alike count as the same name: they
// are compared on their confusable skeleton (Unicode TR39), so that a
// Cyrillic "а" does not make "Аcme" a name of its own beside "Acme".
package names

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.mau.fi/util/confusable"
	"golang.org/x/text/unicode/norm"
)

// The reasons Clean and CheckText refuse a text; Message words them.
var (
	ErrNotText   = errors.New("not valid UTF-8")
	ErrLineBreak = errors.New("a control character or line break")
	ErrHidden    = errors.New("an invisible or text-direction character")
)

// Message is the sentence that tells a person why a text was refused,
// what being the field's name for it ("name", "title", "question").
func Message(what string, err error) string {
	switch {
	case errors.Is(err, ErrNotText):
		return "The " + what + " is not valid text."
	case errors.Is(err, ErrLineBreak):
		return "The " + what + " may not contain control characters or line breaks."
	case errors.Is(err, ErrHidden):
		return "The " + what + " may not contain invisible or text-direction characters."
	}
	return "The " + what + " is not valid."
}

// Clean returns a name as it is stored and shown: in NFKC, so that
// compatibility forms (full-width letters, ligatures, a no-break space)
// become the ordinary characters, with every space one ASCII space, runs
// of them one, and no white space (line breaks included) at either end.
// It refuses a name that holds a
// control character or line break (ErrLineBreak), or a character that
// shows nothing or changes the direction of the text around it
// (ErrHidden): zero-width spaces and joiners, bidirectional controls,
// fillers, soft hyphens. The invisible characters that writing needs
// stay allowed: the variation selectors and joiners of emoji (❤️, 👩‍💻)
// and the joiners of scripts that join letters (Arabic, Persian, the
// Indic scripts after a virama). They do not count in Key.
func Clean(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", ErrNotText
	}
	runes := []rune(norm.NFKC.String(strings.TrimSpace(name)))
	var b strings.Builder
	space := false
	for i, r := range runes {
		switch {
		case unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp):
			return "", ErrLineBreak
		case unicode.Is(unicode.Zs, r):
			space = true
			continue
		case hidden(r) && !emojiPart(runes, i) && !joiner(runes, i):
			return "", ErrHidden
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String(), nil
}

// CheckText checks a line of free text that is not a name, such as a quiz
// question or answer: it is not normalized, but may hold no control
// character or line break (ErrLineBreak) and no bidirectional control
// (ErrHidden), which would make it show other than it is stored.
func CheckText(text string) error {
	if !utf8.ValidString(text) {
		return ErrNotText
	}
	for _, r := range text {
		switch {
		case unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp):
			return ErrLineBreak
		case unicode.Is(unicode.Bidi_Control, r):
			return ErrHidden
		}
	}
	return nil
}

// Key is a name as compared for likeness: two names with the same key
// look alike. It is the TR39 skeleton of the name, lower-cased and taken
// again, so that look-alikes of either case meet ("PAYPAI" and "paypal",
// "Аcme" and "acme"); what Clean changes, and invisible characters, make
// no difference. Names that differ only in case may still have different
// keys ("I" looks like "l", "i" does not): compare their lower-case forms
// too. A key is for comparing only, never for showing.
func Key(name string) string {
	s := strings.Join(strings.FieldsFunc(norm.NFKC.String(name), unicode.IsSpace), " ")
	s = strings.Map(func(r rune) rune {
		if hidden(r) || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return confusable.Skeleton(strings.ToLower(confusable.Skeleton(s)))
}

// hidden reports the characters that show nothing, or nothing of their
// own: format characters (zero-width spaces and joiners, bidirectional
// controls, the soft hyphen, tags), the other default-ignorable code
// points (fillers, variation selectors) and the braille blank, which
// shows as a space without being one.
func hidden(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
		r == '\u2800'
}

const (
	zwnj = '\u200C'
	zwj  = '\u200D'
)

// emojiPart reports whether the invisible character at i belongs to an
// emoji: a text or emoji presentation selector right after a symbol, or
// a zero-width joiner between two symbols (a modifier or selector may
// end the first).
func emojiPart(runes []rune, i int) bool {
	switch runes[i] {
	case '\uFE0E', '\uFE0F':
		return i > 0 && unicode.Is(unicode.So, runes[i-1])
	case zwj:
		return i > 0 && i+1 < len(runes) && unicode.Is(unicode.So, runes[i+1]) &&
			(unicode.In(runes[i-1], unicode.So, unicode.Sk) || runes[i-1] == '\uFE0F')
	}
	return false
}

// joiner reports whether the zero-width joiner or non-joiner at i does
// what it is for: shapes a conjunct after a virama (Indic scripts), or
// joins or separates two letters of a script whose letters join (Arabic,
// Persian, Syriac, N'Ko, Mongolian), marks such as vowel signs in
// between. Between Latin letters it only hides.
func joiner(runes []rune, i int) bool {
	if r := runes[i]; r != zwnj && r != zwj || i == 0 {
		return false
	}
	if norm.NFD.PropertiesString(string(runes[i-1])).CCC() == viramaClass {
		return true
	}
	before, after := i-1, i+1
	for before > 0 && unicode.Is(unicode.Mn, runes[before]) {
		before--
	}
	for after < len(runes) && unicode.Is(unicode.Mn, runes[after]) {
		after++
	}
	joining := func(j int) bool {
		return j >= 0 && j < len(runes) && unicode.IsLetter(runes[j]) &&
			unicode.In(runes[j], unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian)
	}
	return joining(before) && joining(after)
}

// viramaClass is the canonical combining class of viramas.
const viramaClass = 9
