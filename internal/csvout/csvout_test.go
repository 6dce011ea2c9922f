package csvout_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/csvout"
)

func TestWriterQuotesAsRFC4180(t *testing.T) {
	var b bytes.Buffer
	w := csvout.NewWriter(&b)
	rows := [][]string{
		{"email", "name"},
		{"a@example.com", `Smith, "Ada"`},
		{"b@example.com", "two\nlines"},
		{"c@example.com", ""},
	}
	for _, r := range rows {
		if err := w.Write(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "email,name\r\n" +
		"a@example.com,\"Smith, \"\"Ada\"\"\"\r\n" +
		"b@example.com,\"two\r\nlines\"\r\n" +
		"c@example.com,\r\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
	back, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Go's reader turns the CRLF inside the quoted cell back into LF.
	if len(back) != len(rows) || back[1][1] != rows[1][1] || back[2][1] != rows[2][1] {
		t.Errorf("read back %q, want %q", back, rows)
	}
}

func TestEscapeMakesFormulasInert(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://evil\")": "'=HYPERLINK(\"http://evil\")",
		"+1+2":                        "'+1+2",
		"-2+3":                        "'-2+3",
		"@SUM(A1:A2)":                 "'@SUM(A1:A2)",
		"\t=1":                        "'\t=1",
		"\r=1":                        "'\r=1",
		"a=1":                         "a=1",
		"ada@example.com":             "ada@example.com",
		"'quoted":                     "'quoted",
		"":                            "",
		"42":                          "42",
	} {
		if got := csvout.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	w := csvout.NewWriter(&b)
	if err := w.Write("=1+1", "x"); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if b.String() != "'=1+1,x\r\n" {
		t.Errorf("row %q", b.String())
	}
}

// flushCounter counts the flushes a Writer asks of its destination.
type flushCounter struct {
	bytes.Buffer
	flushes int
}

func (f *flushCounter) Flush() error { f.flushes++; return nil }

func TestWriterFlushesAsItGoes(t *testing.T) {
	var dst flushCounter
	w := csvout.NewWriter(&dst)
	for range 2*csvout.FlushRows + 1 {
		if err := w.Write("row"); err != nil {
			t.Fatal(err)
		}
	}
	if dst.flushes != 2 {
		t.Errorf("%d flushes after %d rows, want 2", dst.flushes, 2*csvout.FlushRows+1)
	}
	if got := strings.Count(dst.String(), "\r\n"); got != 2*csvout.FlushRows {
		t.Errorf("%d rows reached the destination before the last flush, want %d", got, 2*csvout.FlushRows)
	}
	w.Flush()
	if got := strings.Count(dst.String(), "\r\n"); got != 2*csvout.FlushRows+1 {
		t.Errorf("%d rows after the last flush", got)
	}
	// A bufio.Writer is flushed through too.
	var b bytes.Buffer
	bw := bufio.NewWriterSize(&b, 1<<20)
	w = csvout.NewWriter(bw)
	w.Write("a")
	w.Flush()
	if b.String() != "a\r\n" {
		t.Errorf("bufio destination holds %q", b.String())
	}
}
