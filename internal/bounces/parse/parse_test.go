package parse_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/bounces"
	"github.com/mailschool/mailschool/internal/bounces/parse"
)

const returnPathDomain = "@bounce.acme.example"

type want struct {
	kind       bounces.Kind
	recipient  string
	messageID  string
	returnPath string // local part; the domain is returnPathDomain
	diagnostic string // a fragment
}

func TestParseSamples(t *testing.T) {
	cases := []struct {
		file     string
		sourceID string // "" : a hash of the bytes
		want     []want
	}{
		{"postfix_dsn.eml", "20261206100211.4QxZ1L2m3nz9sT@mail.acme.example",
			[]want{{bounces.Hard, "ada@example.com", "lesson-31.7f3a9c@learn.acme.example", "bounces+1f-a8c3e2b7d94f6a01", "5.1.1"}}},
		{"exim_dsn.eml", "E1vAbCd-000123-7X@relay.example.net",
			[]want{{bounces.Hard, "grace@example.org", "lesson-42.b1c2d3@learn.acme.example", "bounces+2a-00c3e2b7d94f6a02", "550 5.1.1"}}},
		{"sendmail_dsn.eml", "202612061031.5B6AFx1q012345@mail.example.edu",
			[]want{{bounces.Hard, "alan@example.edu", "lesson-53.c4d5e6@learn.acme.example", "bounces+3b-11c3e2b7d94f6a03", "User unknown"}}},
		{"qmail.eml", "",
			[]want{{bounces.Hard, "linus@example.com", "lesson-64.d7e8f9@learn.acme.example", "bounces+4c-22c3e2b7d94f6a04", "550 5.1.1"}}},
		{"exim_plain.eml", "E1vAcDe-000456-9Y@mx.example.de",
			[]want{{bounces.Hard, "ken@example.de", "lesson-75.e1f2a3@learn.acme.example", "bounces+5d-33c3e2b7d94f6a05", "Unrouteable address"}}},
		{"exim_custom.eml", "E1vAdEf-000789-1Z@mail.example.ch",
			[]want{{bounces.Hard, "niklaus@example.ch", "lesson-207.e5f6a7@learn.acme.example", "bounces+9a-12c3e2b7d94f6a21", "550 5.1.1 mailbox unavailable"}}},
		{"postfix_plain.eml", "20261206122000.AB12C3D4E5@smtp.example.net",
			[]want{{bounces.Hard, "barbara@example.net", "lesson-86.f4a5b6@learn.acme.example", "bounces+6e-44c3e2b7d94f6a06", "552 5.2.2"}}},
		{"o365.eml", "0f1e2d3c-4b5a-6978-8a9b-ac0d1e2f3a4b@AM0PR01MB1234.eurprd01.prod.exchangelabs.com",
			[]want{{bounces.Hard, "margaret@contoso.example", "lesson-97.a7b8c9@learn.acme.example", "bounces+7f-55c3e2b7d94f6a07", "RecipientNotFound"}}},
		{"exchange_legacy.eml", "A1B2C3D4E5F6@exch01.corp.example",
			[]want{{bounces.Hard, "edsger@corp.example", "", "bounces+80-66c3e2b7d94f6a08", "5.1.1"}}},
		{"gmail.eml", "6752f0a1.050a0220.3c1f2b.abcdGMR@mx.google.com",
			[]want{{bounces.Hard, "grace.hopper@gmail.com", "lesson-108.b0c1d2@learn.acme.example", "bounces+91-77c3e2b7d94f6a09", "550 5.1.1"}}},
		{"yahoo.eml", "1765029764.4321.yahoo.bounce@mta7001.mail.gq1.yahoo.com",
			[]want{{bounces.Hard, "katherine.j@yahoo.com", "lesson-119.c3d4e5@learn.acme.example", "bounces+a2-88c3e2b7d94f6a10", "554"}}},
		{"ses_dsn.eml", "0100019a1b2c3d4e-5f6a7b8c-9d0e-1f2a-3b4c-5d6e7f8a9b0c-000000@email.amazonses.com",
			[]want{{bounces.Hard, "john.backus@example.com", "lesson-130.d6e7f8@learn.acme.example", "bounces+b3-99c3e2b7d94f6a11", "user unknown"}}},
		{"delayed_dsn.eml", "20261206160000.5RyA2M3n4oz8tU@mail.acme.example",
			[]want{{bounces.Soft, "donald@example.com", "lesson-141.e9f0a1@learn.acme.example", "bounces+c4-aac3e2b7d94f6a12", "4.4.1"}}},
		{"mailbox_full_422.eml", "full422.20261206163000@relay.example.com",
			[]want{{bounces.Soft, "barbara.liskov@example.com", "lesson-152.f2a3b4@learn.acme.example", "bounces+d5-bbc3e2b7d94f6a13", "4.2.2"}}},
		{"mailbox_full_522.eml", "full522.20261206163500@relay.example.com",
			[]want{{bounces.Hard, "barbara.liskov@example.com", "lesson-163.a4b5c6@learn.acme.example", "bounces+e6-ccc3e2b7d94f6a14", "5.2.2"}}},
		{"arf_yahoo.eml", "1765040400.arf.98765@arf.mail.yahoo.com",
			[]want{{bounces.Complaint, "ada.lovelace@yahoo.com", "lesson-174.b7c8d9@learn.acme.example", "bounces+f7-ddc3e2b7d94f6a15", "abuse"}}},
		{"arf_aol.eml", "aol-fbl-20261206-1234@aol.net",
			[]want{{bounces.Complaint, "grace.m@aol.com", "lesson-185.c0d1e2@learn.acme.example", "bounces+08-eec3e2b7d94f6a16", "abuse"}}},
		{"multi_dsn.eml", "multi.20261206190000@relay.example.com",
			[]want{
				{bounces.Hard, "first@example.com", "lesson-196.d3e4f5@learn.acme.example", "bounces+3b-11c3e2b7d94f6a19", "No such user"},
				{bounces.Soft, "third@example.com", "lesson-196.d3e4f5@learn.acme.example", "bounces+3b-11c3e2b7d94f6a19", "Greylisted"},
			}},
	}
	for _, tc := range cases {
		raw := readSample(t, tc.file)
		for _, variant := range []struct {
			name string
			raw  []byte
		}{{"lf", raw}, {"crlf", crlf(raw)}} {
			t.Run(strings.TrimSuffix(tc.file, ".eml")+"/"+variant.name, func(t *testing.T) {
				reports, err := parse.Parse(variant.raw)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if len(reports) != len(tc.want) {
					t.Fatalf("got %d reports, want %d: %+v", len(reports), len(tc.want), reports)
				}
				for i, w := range tc.want {
					r := reports[i]
					if r.Kind != w.kind || r.Recipient != w.recipient || r.MessageID != w.messageID ||
						r.ReturnPath != w.returnPath+returnPathDomain || r.Source != "mailbox" {
						t.Errorf("report %d = %+v\nwant kind %s, recipient %s, message %q, return path %s", i, r, w.kind, w.recipient, w.messageID, w.returnPath+returnPathDomain)
					}
					if !strings.Contains(r.Diagnostic, w.diagnostic) {
						t.Errorf("report %d diagnostic %q, want it to hold %q", i, r.Diagnostic, w.diagnostic)
					}
					sourceID := tc.sourceID
					if sourceID == "" {
						if !strings.HasPrefix(r.SourceID, "sha256:") {
							t.Errorf("report %d source id %q, want a hash", i, r.SourceID)
						}
					} else {
						if len(tc.want) > 1 {
							sourceID += " " + w.recipient
						}
						if r.SourceID != sourceID {
							t.Errorf("report %d source id %q, want %q", i, r.SourceID, sourceID)
						}
					}
				}
			})
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		file string
		err  error
	}{
		{"out_of_office.eml", parse.ErrNotBounce},
		{"delivered_dsn.eml", parse.ErrNotBounce},
		{"malformed.eml", parse.ErrMalformed},
	} {
		t.Run(tc.file, func(t *testing.T) {
			reports, err := parse.Parse(readSample(t, tc.file))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse = %+v, %v; want %v", reports, err, tc.err)
			}
		})
	}
	t.Run("not an email", func(t *testing.T) {
		if _, err := parse.Parse([]byte("no header here\x00\x01")); !errors.Is(err, parse.ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
	t.Run("an ordinary email", func(t *testing.T) {
		raw := "From: ada@example.com\r\nTo: bounces+1f-aa@bounce.acme.example\r\nSubject: Hello\r\n\r\nThanks for the course!\r\n"
		if _, err := parse.Parse([]byte(raw)); !errors.Is(err, parse.ErrNotBounce) {
			t.Fatalf("err = %v, want ErrNotBounce", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		raw := append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("a"), parse.MaxSize)...)
		if _, err := parse.Parse(raw); !errors.Is(err, parse.ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
	t.Run("nested too deep", func(t *testing.T) {
		if _, err := parse.Parse(nested(20)); !errors.Is(err, parse.ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
		if _, err := parse.Parse(nested(4)); !errors.Is(err, parse.ErrNotBounce) {
			t.Fatalf("within the limit: err = %v, want ErrNotBounce", err)
		}
	})
}

// nested is an email of depth multiparts, each inside the one before.
func nested(depth int) []byte {
	var b bytes.Buffer
	b.WriteString("Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\nhi\r\n", depth-1)
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.Bytes()
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		reports, err := parse.Parse(raw)
		if err == nil && len(reports) == 0 {
			t.Fatal("no error and no report")
		}
		for _, r := range reports {
			if r.Recipient == "" || r.SourceID == "" || r.Source != "mailbox" {
				t.Fatalf("incomplete report %+v", r)
			}
			for _, v := range []string{r.Recipient, r.ReturnPath, r.MessageID, r.Diagnostic, r.SourceID} {
				if !utf8.ValidString(v) || strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 }) || len(v) > 1000 {
					t.Fatalf("value %q is not clean", v)
				}
			}
		}
	})
}

// Values go to the database as they are: valid UTF-8, no control
// characters, and short enough to be indexed.
func TestParseCleansValues(t *testing.T) {
	raw := crlf(readSample(t, "postfix_dsn.eml"))
	raw = bytes.Replace(raw, []byte("Message-Id: <20261206100211.4QxZ1L2m3nz9sT@mail.acme.example>"),
		[]byte("Message-Id: <"+strings.Repeat("x", 3000)+"@mail.acme.example>"), 1)
	raw = bytes.Replace(raw, []byte("Message-ID: <lesson-31.7f3a9c@learn.acme.example>"), []byte("Message-ID: <lesson\xff-31@learn.acme.example>"), 1)
	reports, err := parse.Parse(raw)
	if err != nil || len(reports) != 1 {
		t.Fatalf("Parse = %+v, %v", reports, err)
	}
	r := reports[0]
	if !strings.HasPrefix(r.SourceID, "sha256:") {
		t.Errorf("a 3000-character Message-ID gives source id %q, want a hash", r.SourceID[:min(len(r.SourceID), 40)])
	}
	if r.MessageID != "lesson\uFFFD-31@learn.acme.example" {
		t.Errorf("message id %q", r.MessageID)
	}
}
