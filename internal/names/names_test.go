package names

import (
	"errors"
	"fmt"
	"testing"
	"unicode"

	"go.mau.fi/util/confusable"
	"golang.org/x/text/unicode/norm"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"  Acme  Academy ", "Acme Academy", nil},
		{"Acme\u00A0Academy", "Acme Academy", nil},       // no-break space
		{"Acme\u3000\u2003Academy", "Acme Academy", nil}, // ideographic and em spaces
		{"Ａｃｍｅ", "Acme", nil},                            // full-width letters
		{"ﬁne", "fine", nil},                             // ligature
		{"Cafe\u0301", "Café", nil},                      // composed
		{"Аcme", "Аcme", nil},                            // Cyrillic А: allowed, but Key meets "Acme"
		{"❤\uFE0F Yoga", "❤\uFE0F Yoga", nil},            // emoji presentation selector
		{"👩\u200D💻 Club", "👩\u200D💻 Club", nil},          // emoji joined
		{"👨🏽\u200D💻", "👨🏽\u200D💻", nil},                  // with a skin tone
		{"کتاب\u200Cها", "کتاب\u200Cها", nil},            // Persian non-joiner
		{"क्\u200Dष", "क्\u200Dष", nil},                  // Devanagari joiner after a virama
		{"Acme\u200B", "", ErrHidden},                    // zero-width space
		{"Ac\u200Cme", "", ErrHidden},                    // non-joiner between Latin letters
		{"Ac\u200Dme", "", ErrHidden},                    // joiner between Latin letters
		{"Acme\u202Egnp.exe", "", ErrHidden},             // right-to-left override
		{"Acme\u2066x\u2069", "", ErrHidden},             // isolate
		{"Acme\u200F", "", ErrHidden},                    // right-to-left mark
		{"Ac\u00ADme", "", ErrHidden},                    // soft hyphen
		{"Acme\u2060", "", ErrHidden},                    // word joiner
		{"Acme\uFEFF", "", ErrHidden},                    // byte order mark
		{"\u3164", "", ErrHidden},                        // Hangul filler
		{"\uFFA0", "", ErrHidden},                        // half-width Hangul filler (NFKC: U+3164)
		{"Acme\u2800", "", ErrHidden},                    // braille blank
		{"Acme\uFE0F", "", ErrHidden},                    // a selector after a letter
		{"Acme\U000E0041", "", ErrHidden},                // tag character
		{" \tAcme Inc\r\n", "Acme Inc", nil},
		{"Acme\nInc", "", ErrLineBreak},
		{"Acme\tInc", "", ErrLineBreak},
		{"Acme\u2028Inc", "", ErrLineBreak},
		{"Acme\u0085Inc", "", ErrLineBreak},
		{"Acme\x00", "", ErrLineBreak},
		{"Acme\xff", "", ErrNotText},
	}
	for _, tt := range tests {
		got, err := Clean(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("Clean(%+q) = %+q, %v; want %+q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestCheckText(t *testing.T) {
	tests := []struct {
		in  string
		err error
	}{
		{"What is x²?", nil},
		{"کتاب\u200Cها", nil},
		{"Paris\u200B", nil}, // free text is not a name: only what reorders or breaks it is refused
		{"Paris\u202E", ErrHidden},
		{"Paris\u200E", ErrHidden},
		{"Paris\nLondon", ErrLineBreak},
		{"Paris\xff", ErrNotText},
	}
	for _, tt := range tests {
		if err := CheckText(tt.in); !errors.Is(err, tt.err) {
			t.Errorf("CheckText(%+q) = %v, want %v", tt.in, err, tt.err)
		}
	}
}

func TestKeyMeetsLookAlikes(t *testing.T) {
	for _, pair := range [][2]string{
		{"Acme", "Аcme"},       // Cyrillic А
		{"paypal", "pаypаl"},   // Cyrillic а
		{"Acme", "Αcme"},       // Greek Alpha
		{"venus", "νenus"},     // Greek nu
		{"Acme", "Acme\u200B"}, // invisible characters count for nothing
		{"Acme Academy", "Acme\u00A0Academy"},
		{"Acme Academy", " Acme   Academy "},
		{"Acme", "Ａｃｍｅ"},
		{"Acme", "𝐀𝐜𝐦𝐞"},
		{"PayPal", "PayPaI"}, // capital I for l
		{"PAYPAI", "paypal"},
		{"google", "G00GLE"},
		{"Modern", "rnodern"},
		{"Café", "Cafe\u0301"},
		{"❤\uFE0F Yoga", "❤ Yoga"},
	} {
		if a, b := Key(pair[0]), Key(pair[1]); a != b {
			t.Errorf("Key(%+q) = %+q, Key(%+q) = %+q: want them equal", pair[0], a, pair[1], b)
		}
	}
}

func TestKeyKeepsDifferentNamesApart(t *testing.T) {
	for _, pair := range [][2]string{
		{"Acme", "Acne"},
		{"Go basics", "Go advanced"},
		{"Cafe", "Café"},
		{"Course 1", "Course 2"},
		{"Acme", "Acme Academy"},
		{"Москва", "Moskva"},
	} {
		if a, b := Key(pair[0]), Key(pair[1]); a == b {
			t.Errorf("Key(%+q) = Key(%+q) = %+q: want them different", pair[0], pair[1], a)
		}
	}
}

// TestKeyOfSkeleton checks what the key is built for over the letters
// and digits of the scripts most look-alikes come from (Latin, Greek,
// Cyrillic, the full-width and mathematical forms): a character and its
// TR39 prototype have one key, so swapping one for the other never makes
// a new name.
func TestKeyOfSkeleton(t *testing.T) {
	var misses []string
	for _, block := range [][2]rune{{0x20, 0x24F}, {0x370, 0x3FF}, {0x400, 0x4FF}, {0xFF01, 0xFF5E}, {0x1D400, 0x1D7FF}} {
		for r := block[0]; r <= block[1]; r++ {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				continue
			}
			// Names are stored in NFKC, which maps a few characters
			// (ſ, ϲ) elsewhere than TR39 does.
			if s := norm.NFKC.String(string(r)); Key(s) != Key(confusable.Skeleton(s)) {
				misses = append(misses, fmt.Sprintf("%U %s", r, s))
			}
		}
	}
	if len(misses) > 0 {
		t.Errorf("%d characters have another key than their prototype: %v", len(misses), misses)
	}
}

func TestMessage(t *testing.T) {
	_, err := Clean("Acme\u202E")
	if got, want := Message("name", err), "The name may not contain invisible or text-direction characters."; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}

// The key of every organization name and course title is computed on each
// save, and for every row by the migration that adds the skeletons.
func BenchmarkKey(b *testing.B) {
	for b.Loop() {
		Key("Introduction à la programmation en Go, partie 2")
	}
}

func BenchmarkClean(b *testing.B) {
	for b.Loop() {
		if _, err := Clean("  Introduction à la programmation en Go, partie 2 "); err != nil {
			b.Fatal(err)
		}
	}
}
