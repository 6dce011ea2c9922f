package mail

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"mime"
	"strings"
	"testing"
	"time"
)

// TestListID: a list's List-Id is the sender's ASCII, from the labels it
// is given, whatever the description holds; the description comes back
// whole from its encoded phrase, and the header signs and verifies.
func TestListID(t *testing.T) {
	r, err := NewRenderer("Acme Academy <learn@acme.example>", "https://learn.acme.example/")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("日本語の講座", 60) // 1080 bytes: more than one line's worth of encoded words
	tests := []struct {
		name        string
		list        List
		header      string // the whole value; "" to check only the list-id
		id          string
		description string
	}{
		{"plain words", List{Labels: []string{"go-basics", "acme"}, Description: "Go basics"},
			"Go basics <go-basics.acme.acme.example>", "go-basics.acme.acme.example", "Go basics"},
		{"title posing as a list-id", List{Labels: []string{"cafe", "paypal"}, Description: "Café <announce.paypal.com>"},
			"", "cafe.paypal.acme.example", "Café <announce.paypal.com>"},
		{"ASCII title posing as a list-id", List{Labels: []string{"cafe", "acme"}, Description: "Cafe <announce.paypal.com>"},
			"", "cafe.acme.acme.example", "Cafe <announce.paypal.com>"},
		{"quotes and commas", List{Labels: []string{"q"}, Description: `"Go", the basics`},
			"", "q.acme.example", `"Go", the basics`},
		{"labels that are not ASCII words", List{Labels: []string{"Evil>.com", "", "-ünï-", "acme"}, Description: "X"},
			"X <evilcom.n.acme.acme.example>", "evilcom.n.acme.acme.example", "X"},
		{"no description", List{Labels: []string{"go"}}, "<go.acme.example>", "go.acme.example", ""},
		{"long title", List{Labels: []string{"course", "acme"}, Description: long},
			"", "course.acme.acme.example", long},
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := r.Render(Email{Kind: KindTest, To: "ada@example.com", List: &tt.list}, "list-id@acme.example",
				time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			raw := msg.Bytes()
			for i, line := range strings.Split(string(raw), "\r\n") {
				if len(line) > maxLineLength {
					t.Errorf("line %d is %d characters long", i+1, len(line))
				}
			}
			p, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			value := p.Header.Get("List-Id")
			for _, c := range value {
				if c < ' ' || c > '~' {
					t.Fatalf("List-Id is not printable ASCII: %q", value)
				}
			}
			if tt.header != "" && value != tt.header {
				t.Errorf("List-Id = %q, want %q", value, tt.header)
			}
			// The list-id is the one thing in angle brackets.
			if strings.Count(value, "<") != 1 || !strings.HasSuffix(value, "<"+tt.id+">") {
				t.Errorf("List-Id = %q, want the one list-id <%s>", value, tt.id)
			}
			phrase := strings.TrimSpace(strings.TrimSuffix(value, "<"+tt.id+">"))
			if got, err := new(mime.WordDecoder).DecodeHeader(phrase); err != nil || got != tt.description {
				t.Errorf("description = %q, %v; want %q", got, err, tt.description)
			}

			signed, err := SignDKIM(raw, DKIMConfig{Domain: "acme.example", Selector: "s1", Signer: key})
			if err != nil {
				t.Fatal(err)
			}
			v := verifyDKIM(t, signed, key.Public())
			if v.Err != nil || !strings.Contains(strings.Join(v.HeaderKeys, " "), "list-id") {
				t.Errorf("signature: %v, signed headers %v", v.Err, v.HeaderKeys)
			}
			tampered := bytes.Replace(signed, []byte("<"+tt.id+">"), []byte("<announce.paypal.com>"), 1)
			if v := verifyDKIM(t, tampered, key.Public()); v.Err == nil {
				t.Error("the signature still verifies with another list-id")
			}
		})
	}
}
