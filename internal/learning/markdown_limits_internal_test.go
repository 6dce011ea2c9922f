package learning

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	ghtml "github.com/yuin/goldmark/renderer/html"
)

// unbounded is goldmark as it is, configured as the lesson renderer.
var unbounded = goldmark.New(
	goldmark.WithExtensions(extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignNone)),
		extension.Strikethrough, extension.Linkify),
	goldmark.WithRendererOptions(ghtml.WithUnsafe()),
)

// sameAsGoldmark reports how the bounded parser's HTML for src differs
// from goldmark's own, when src stays within the bounds.
func sameAsGoldmark(t *testing.T, src string) {
	t.Helper()
	source, doc, b := parse(src)
	if b.exceeded != limitNone {
		return
	}
	var got, want bytes.Buffer
	if err := markdown.Renderer().Render(&got, source, doc); err != nil {
		t.Fatal(err)
	}
	if err := unbounded.Convert(source, &want); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("for %q the bounded parser renders\n%s\ngoldmark renders\n%s", src, got.String(), want.String())
	}
}

// markdownPieces are what random bodies are made of: the characters and
// sequences that Markdown gives a meaning.
var markdownPieces = []string{
	"*", "**", "_", "__", "~", "~~", "***", "a", "b ", " ", "\n", "\n\n", "[", "]", "(", ")", "](", "![", "<", ">",
	"> ", "- ", "1. ", "  ", "`", "``", "\\", "|", "|-|", ":", "#", "http://a.b", "www.c.d", "[x]: /u\n", "[x]",
	"&amp;", "<b>", "</b>", "\"", "'", "é", "1", ".", "!", "---\n", "```\n", "\t", "a_b", "*a*", "_a_",
}

// bracketPieces make long paragraphs of brackets and links, in which
// goldmark gives up on brackets held open over more than 998 bytes.
var bracketPieces = []string{"[", "]", "![", "](u)", "](", "[a](b)", " ", "text ", strings.Repeat("x", 100), "*", "_", "`c`", "\n"}

func randomOf(r *rand.Rand, pieces []string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// TestBoundedMarkdownRendersAsGoldmark checks that the bounded parser
// changes nothing for bodies within its bounds: thousands of random ones.
func TestBoundedMarkdownRendersAsGoldmark(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		sameAsGoldmark(t, randomOf(r, markdownPieces, 1+r.IntN(40)))
		if t.Failed() {
			return
		}
	}
	for range 500 {
		sameAsGoldmark(t, randomOf(r, bracketPieces, 100+r.IntN(400)))
		if t.Failed() {
			return
		}
	}
}

func FuzzBoundedMarkdownRendersAsGoldmark(f *testing.F) {
	for _, s := range []string{"*a _b* c_", "[a *b](c) d*", "~~a~~ **b** _c_", "> - a\n>   > b", "|a|b|\n|-|-|\n|c|"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 2000 {
			return
		}
		sameAsGoldmark(t, src)
	})
}
