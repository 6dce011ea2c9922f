package learning

import (
	"bytes"
	"fmt"
	"html"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	ghtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdown turns lesson bodies into HTML. Raw HTML is let through on
// purpose: sanitizing is bluemonday's job alone, so one policy decides
// what reaches a page or an inbox, whatever the Markdown said.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify),
	goldmark.WithRendererOptions(ghtml.WithUnsafe()),
)

// sanitizer is bluemonday's policy for user-generated content: formatting,
// links and images, but no scripts, event handlers, styles or
// javascript: URLs. Policies are safe for concurrent use.
var sanitizer = bluemonday.UGCPolicy()

// stripper removes every tag, for the plain-text version of raw HTML.
var stripper = bluemonday.StrictPolicy()

// RenderMarkdown renders a lesson's Markdown body as sanitized HTML, safe
// to put into a page or an email as it is.
func RenderMarkdown(body string) (string, error) {
	if out, ok := htmlCache.get(body); ok {
		return out, nil
	}
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(normalizeNewlines(body)), &buf); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	out := sanitizer.Sanitize(buf.String())
	htmlCache.put(body, out)
	return out, nil
}

// PlainText renders a lesson's Markdown body as readable plain text, for
// the text part of an email: markup is dropped, headings are underlined,
// lists keep their markers, links are followed by their address, and raw
// HTML keeps only its text.
func PlainText(body string) string {
	if out, ok := textCache.get(body); ok {
		return out
	}
	out := plainText(body)
	textCache.put(body, out)
	return out
}

func plainText(body string) string {
	src := []byte(normalizeNewlines(body))
	doc := markdown.Parser().Parse(text.NewReader(src), parser.WithContext(parser.NewContext()))
	p := plain{src: src}
	out := strings.Join(p.blocks(doc), "\n\n")
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func normalizeNewlines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// plain renders a Markdown syntax tree as text.
type plain struct{ src []byte }

// blocks renders the block children of n, one string per block.
func (p plain) blocks(n ast.Node) []string {
	var out []string
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if s := p.block(c); strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p plain) block(n ast.Node) string {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		return strings.TrimSpace(p.inline(n))
	case *ast.Heading:
		t := p.inline(n)
		switch n.Level {
		case 1:
			return t + "\n" + strings.Repeat("=", utf8.RuneCountInString(t))
		case 2:
			return t + "\n" + strings.Repeat("-", utf8.RuneCountInString(t))
		}
		return t
	case *ast.ThematicBreak:
		return "----------"
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		return indent(strings.TrimRight(string(lines(n, p.src)), "\n"), "    ", "    ")
	case *ast.HTMLBlock:
		return strings.TrimSpace(html.UnescapeString(stripper.Sanitize(string(lines(n, p.src)))))
	case *ast.Blockquote:
		return indent(strings.Join(p.blocks(n), "\n\n"), "> ", "> ")
	case *ast.List:
		var items []string
		number := n.Start
		for item := n.FirstChild(); item != nil; item = item.NextSibling() {
			marker := "- "
			if n.IsOrdered() {
				marker = strconv.Itoa(number) + ". "
				number++
			}
			sep := "\n\n"
			if n.IsTight {
				sep = "\n"
			}
			items = append(items, indent(strings.Join(p.blocks(item), sep), marker, strings.Repeat(" ", len(marker))))
		}
		if n.IsTight {
			return strings.Join(items, "\n")
		}
		return strings.Join(items, "\n\n")
	case *east.Table:
		var rows []string
		for row := n.FirstChild(); row != nil; row = row.NextSibling() {
			var cells []string
			for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
				cells = append(cells, p.inline(cell))
			}
			rows = append(rows, strings.Join(cells, " | "))
		}
		return strings.Join(rows, "\n")
	}
	if n.Type() == ast.TypeBlock && n.FirstChild() != nil && n.FirstChild().Type() == ast.TypeBlock {
		return strings.Join(p.blocks(n), "\n\n")
	}
	return p.inline(n)
}

// inline renders the inline children of n.
func (p plain) inline(n ast.Node) string {
	var b strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			v := c.Segment.Value(p.src)
			if !c.IsRaw() {
				v = unescape(v)
			}
			b.Write(v)
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte('\n')
			}
		case *ast.String:
			if c.IsCode() || c.IsRaw() {
				b.Write(c.Value)
			} else {
				b.Write(unescape(c.Value))
			}
		case *ast.CodeSpan:
			for t := c.FirstChild(); t != nil; t = t.NextSibling() {
				if s, ok := t.(*ast.Text); ok {
					b.Write(s.Segment.Value(p.src))
				} else if s, ok := t.(*ast.String); ok {
					b.Write(s.Value)
				}
			}
		case *ast.Link:
			label := p.inline(c)
			b.WriteString(label)
			if dest := string(unescape(c.Destination)); dest != label && linkable(dest) {
				b.WriteString(" (" + dest + ")")
			}
		case *ast.AutoLink:
			b.Write(c.Label(p.src))
		case *ast.Image:
			if alt := p.inline(c); alt != "" {
				b.WriteString("[" + alt + "]")
			}
		case *ast.RawHTML:
			// Inline tags (<b>, <span>) carry no text of their own.
		default:
			b.WriteString(p.inline(c))
		}
	}
	return b.String()
}

// linkable reports whether a link's address is worth printing in an
// email's text: one a mail program can open.
func linkable(dest string) bool {
	u, err := url.Parse(dest)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "mailto":
		return true
	}
	return false
}

func unescape(v []byte) []byte {
	return util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(v)))
}

// lines returns the raw source lines of a block.
func lines(n ast.Node, src []byte) []byte {
	var b bytes.Buffer
	segs := n.Lines()
	for i := range segs.Len() {
		seg := segs.At(i)
		b.Write(seg.Value(src))
	}
	return b.Bytes()
}

// indent prefixes the first line of s with first and the others with rest.
func indent(s, first, rest string) string {
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		if i == 0 {
			ls[i] = first + l
		} else {
			ls[i] = rest + l
		}
	}
	return strings.Join(ls, "\n")
}
