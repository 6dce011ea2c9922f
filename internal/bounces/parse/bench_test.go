package parse_test

import (
	"bytes"
	"testing"

	"github.com/mailschool/mailschool/internal/bounces/parse"
)

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"postfix_dsn.eml", "o365.eml", "qmail.eml", "arf_yahoo.eml"} {
		raw := readSample(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := parse.Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The largest email read, a plain-text bounce of one long paragraph
	// after a failed address: the cost must grow with its size only.
	huge := hugeBounce()
	b.Run("10MiB plain text", func(b *testing.B) {
		b.SetBytes(int64(len(huge)))
		for b.Loop() {
			if _, err := parse.Parse(huge); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func hugeBounce() []byte {
	var buf bytes.Buffer
	buf.WriteString("From: MAILER-DAEMON@mx.example.com\r\nSubject: failure notice\r\n\r\n" +
		"Hi. This is the qmail-send program at mx.example.com.\r\n\r\n<ada@example.com>:\r\n")
	line := []byte("550 5.1.1 a line of the reason that goes on and on\r\n")
	for buf.Len()+len(line) < parse.MaxSize {
		buf.Write(line)
	}
	return buf.Bytes()
}
