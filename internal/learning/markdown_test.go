package learning_test

import (
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/learning"
)

func TestMarkdown(t *testing.T) {
	body := strings.Join([]string{
		"# Welcome",
		"",
		"Read the [guide](https://example.com/guide) & enjoy.",
		"",
		"- first",
		"- second",
		"",
		`<script>alert("script")</script>`,
		"",
		`<img src="https://example.com/x.png" onerror="alert('img')">`,
		"",
		"[click me](javascript:alert('link')) and <a href=\"javascript:alert('raw')\">raw</a>",
		"",
		`<p style="color:red" onclick="alert('p')">styled</p>`,
		"",
		"<iframe src=\"https://evil.example\"></iframe>",
	}, "\r\n")
	html, err := learning.RenderMarkdown(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "alert(", "onerror", "onclick", "javascript:", "style=", "<iframe"} {
		if strings.Contains(html, bad) {
			t.Errorf("rendered HTML contains %q:\n%s", bad, html)
		}
	}
	for _, good := range []string{
		"<h1>Welcome</h1>",
		`<a href="https://example.com/guide" rel="nofollow">guide</a> &amp; enjoy.`,
		"<ul>\n<li>first</li>\n<li>second</li>\n</ul>",
		`<img src="https://example.com/x.png">`,
		"click me", "raw", "<p>styled</p>",
	} {
		if !strings.Contains(html, good) {
			t.Errorf("rendered HTML lacks %q:\n%s", good, html)
		}
	}

	text := learning.PlainText("# Welcome\n\nRead the [guide](https://example.com/guide) &amp; **enjoy** \\*this\\*.\n\n" +
		"## Steps\n\n1. One\n2. Two\n   - nested\n\n> Quoted\n\n```\ncode *here*\n```\n\n<div>Raw <b>html</b><script>alert(1)</script></div>\n\n" +
		"[bad](javascript:alert(1)) and https://go.dev\n")
	want := "Welcome\n=======\n\nRead the guide (https://example.com/guide) & enjoy *this*.\n\nSteps\n-----\n\n" +
		"1. One\n2. Two\n   - nested\n\n> Quoted\n\n    code *here*\n\nRaw html\n\nbad and https://go.dev"
	if text != want {
		t.Errorf("PlainText =\n%s\n\nwant\n%s", text, want)
	}
}
