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
// what reaches a page or an inbox, whatever the Markdown said. Its parser
// is bounded (markdown_limits.go), so rendering costs time in proportion
// to the body's length whatever the body.
var markdown = goldmark.New(
	goldmark.WithParser(newBoundedParser()),
	goldmark.WithExtensions(boundedTables{}, boundedStrikethrough{}, extension.Linkify),
	goldmark.WithRendererOptions(ghtml.WithUnsafe()),
)

// sanitizer is bluemonday's policy for user-generated content: formatting,
// links and images, but no scripts, event handlers, styles or
// javascript: URLs. Policies are safe for concurrent use.
var sanitizer = bluemonday.UGCPolicy()

// stripper removes every tag, for the plain-text version of raw HTML.
var stripper = bluemonday.StrictPolicy()

// Rendered is a lesson body as an email carries it.
type Rendered struct {
	HTML string // sanitized, safe to put into a page or an email as it is
	Text string
}

// RenderMarkdown renders a lesson's Markdown body as sanitized HTML, safe
// to put into a page or an email as it is.
func RenderMarkdown(body string) (string, error) {
	if out, ok := htmlCache.get(body); ok {
		return out, nil
	}
	src, doc, _ := parse(body)
	out, err := renderHTML(src, doc)
	if err != nil {
		return "", err
	}
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
	src, doc, _ := parse(body)
	out := plainText(src, doc)
	textCache.put(body, out)
	return out
}

// RenderLesson renders a lesson's body both ways, parsing it once.
func RenderLesson(body string) (Rendered, error) {
	html, okHTML := htmlCache.get(body)
	text, okText := textCache.get(body)
	if okHTML && okText {
		return Rendered{HTML: html, Text: text}, nil
	}
	src, doc, _ := parse(body)
	if !okHTML {
		var err error
		if html, err = renderHTML(src, doc); err != nil {
			return Rendered{}, err
		}
		htmlCache.put(body, html)
	}
	if !okText {
		text = plainText(src, doc)
		textCache.put(body, text)
	}
	return Rendered{HTML: html, Text: text}, nil
}

// markdownProblem says which bound of markdown_limits.go a body goes
// beyond, as a message for its author, or "" when it stays within them.
func markdownProblem(body string) string {
	_, _, b := parse(body)
	return b.exceeded.message()
}

// renderChecked renders a body as HTML when it stays within the bounds,
// and otherwise says which it goes beyond, parsing it once.
func renderChecked(body string) (html, problem string, err error) {
	src, doc, b := parse(body)
	if b.exceeded != limitNone {
		return "", b.exceeded.message(), nil
	}
	if html, ok := htmlCache.get(body); ok {
		return html, "", nil
	}
	if html, err = renderHTML(src, doc); err != nil {
		return "", "", err
	}
	htmlCache.put(body, html)
	return html, "", nil
}

// parse parses a body with the bounded parser, and returns the bounds it
// reached.
func parse(body string) ([]byte, ast.Node, *bounds) {
	src := []byte(normalizeNewlines(body))
	b := newBounds(len(src))
	pc := parser.NewContext()
	pc.Set(boundsKey, b)
	doc := markdown.Parser().Parse(text.NewReader(src), parser.WithContext(pc))
	return src, doc, b
}

func renderHTML(src []byte, doc ast.Node) (string, error) {
	var buf bytes.Buffer
	if err := markdown.Renderer().Render(&buf, src, doc); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return sanitizer.SanitizeReader(&buf).String(), nil
}

func plainText(src []byte, doc ast.Node) string {
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
	var b bytes.Buffer
	p.writeInline(&b, n)
	return b.String()
}

// writeInline writes the inline children of n to b. Nested inlines write
// to the same buffer: returning each one's text copied it once per level,
// and emphasis can nest thousands deep.
func (p plain) writeInline(b *bytes.Buffer, n ast.Node) {
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
			start := b.Len()
			p.writeInline(b, c)
			label := b.Bytes()[start:]
			if dest := unescape(c.Destination); !bytes.Equal(dest, label) && linkable(string(dest)) {
				b.WriteString(" (")
				b.Write(dest)
				b.WriteString(")")
			}
		case *ast.AutoLink:
			b.Write(c.Label(p.src))
		case *ast.Image:
			start := b.Len()
			b.WriteByte('[')
			p.writeInline(b, c)
			if b.Len() == start+1 {
				b.Truncate(start) // no alt text
			} else {
				b.WriteByte(']')
			}
		case *ast.RawHTML:
			// Inline tags (<b>, <span>) carry no text of their own.
		default:
			p.writeInline(b, c)
		}
	}
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
