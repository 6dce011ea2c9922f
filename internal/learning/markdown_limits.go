package learning

import (
	"fmt"
	"sort"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// goldmark's parser takes time that grows with the square of the input, or
// worse, or makes output that does, on a few constructs: quotes and lists
// nested thousands deep, emphasis runs that never match, "](" that each
// read the rest of a long line as a link destination, brackets closed far
// from where they opened, reference links repeating a long address,
// tables whose short rows are padded to thousands of columns, long runs of
// link reference definitions, and escaped pipes in table code. The parser
// below wraps goldmark's parts for these, so that rendering any body costs
// time in proportion to its length. Some of the wrappers leave the output
// as goldmark makes it (TestBoundedMarkdownRendersAsGoldmark): emphasis is
// matched in linear time, brackets goldmark could never close are text
// from the start, link reference definitions are parsed a chunk of lines
// at a time. The others are bounds: past one the construct renders as text
// (or stays a paragraph), and the bound is noted, so that saving a lesson
// can refuse it with a message.

// Bounds of a lesson body's Markdown.
const (
	// MaxNesting is how many quotes and lists may be nested in each other.
	MaxNesting = 16
	// MaxContainers is how many quotes and lists a body may have: each
	// costs some twenty bytes of HTML, which a '>' and a blank line make.
	MaxContainers = 10_000
	// MaxTableCells bounds a body's tables: rows × columns, all tables
	// together, short rows counting as padded to the header's columns, and
	// each row as one cell more (a row of one short cell is some twenty
	// bytes of HTML).
	MaxTableCells = 20_000
	// MaxTableEscapedPipes bounds the escaped pipes (\|) in a body's
	// tables: goldmark matches each against all the others.
	MaxTableEscapedPipes = 1_000
)

// shortReach is how far the link parser may read from a bracket without
// counting against a body's budgets for links: it does so again for every
// bracket of a line, which costs little when it is short.
const shortReach = 64

// definitionChunkLines is how many lines of a paragraph goldmark's link
// reference definitions parser is given at a time: it copies the lines left
// after each definition it takes out, and reads each definition's label and
// title by walking back from the paragraph's last line.
const definitionChunkLines = 128

// A limit names a bound that a body reached.
type limit int

const (
	limitNone limit = iota
	limitNesting
	limitContainers
	limitTableCells
	limitTablePipes
	limitLinks
	limitReferences
)

// message says what a lesson body must change to stay within the limit.
func (l limit) message() string {
	switch l {
	case limitNesting:
		return fmt.Sprintf("The text nests quotes or lists more than %d levels deep.", MaxNesting)
	case limitContainers:
		return fmt.Sprintf("The text has more than %d quotes and lists.", MaxContainers)
	case limitTableCells:
		return fmt.Sprintf("The text's tables are too large: more than %d cells and rows in all.", MaxTableCells)
	case limitTablePipes:
		return fmt.Sprintf(`The text's tables have more than %d escaped pipes (\|).`, MaxTableEscapedPipes)
	case limitLinks:
		return "The text has too many unclosed brackets or unfinished links: close each [text](address)."
	case limitReferences:
		return "The text's reference links ([text][label]) repeat more addresses than the text is long: " +
			"write some of the links out, or use fewer."
	}
	return ""
}

// bounds is what one parse may still spend, and the first limit it
// reached. It lives in the parser's context.
type bounds struct {
	containers int // quotes and lists opened
	tableCells int // left
	tablePipes int // left
	// Bytes that the link parser may still read past shortReach, of link
	// destinations, of link texts, and of the addresses and titles that
	// reference links repeat.
	linkReads, linkWalks, references int
	// openers are the brackets that goldmark's link parser holds open in
	// the block being parsed, in order, and the dead ones in between.
	openers   []opener
	deadImage int // the position of the '[' of a dead "![", or -1
	// unclosed holds, by length, the position of a run of backticks for
	// which no closing run follows in the block being parsed.
	unclosed map[int]int
	exceeded limit
}

var boundsKey = parser.NewContextKey()

func newBounds(sourceLength int) *bounds {
	// Links that are written out are read once each: their destinations
	// and texts fit in the body, with room for some unfinished ones.
	budget := sourceLength + 1<<16
	return &bounds{tableCells: MaxTableCells, tablePipes: MaxTableEscapedPipes,
		linkReads: budget, linkWalks: budget, references: budget, deadImage: -1}
}

// boundsOf returns the bounds of the parse that pc belongs to.
func boundsOf(pc parser.Context, source []byte) *bounds {
	return pc.ComputeIfAbsent(boundsKey, func() any { return newBounds(len(source)) }).(*bounds)
}

func (b *bounds) exceed(l limit) {
	if b.exceeded == limitNone {
		b.exceeded = l
	}
}

// spend takes n bytes from a budget, and says whether they were there.
// Once a budget falls short it is spent: only short reads are left.
func (b *bounds) spend(budget *int, n int, l limit) bool {
	if n <= shortReach {
		return true
	}
	if n > *budget {
		*budget = 0
		b.exceed(l)
		return false
	}
	*budget -= n
	return true
}

// newBoundedParser returns goldmark's CommonMark parser with the bounded
// parts in place of its own.
func newBoundedParser() parser.Parser {
	blocks := parser.DefaultBlockParsers()
	for i, p := range blocks {
		if p.Value == parser.NewBlockquoteParser() || p.Value == parser.NewListParser() {
			blocks[i].Value = containerBound{p.Value.(parser.BlockParser)}
		}
	}
	inlines := parser.DefaultInlineParsers()
	for i, p := range inlines {
		switch p.Value {
		case parser.NewLinkParser():
			inlines[i].Value = linkBound{p.Value.(parser.InlineParser)}
		case parser.NewEmphasisParser():
			inlines[i].Value = delimiterRuns{p.Value.(parser.InlineParser)}
		case parser.NewCodeSpanParser():
			inlines[i].Value = codeSpans{p.Value.(parser.InlineParser)}
		}
	}
	paragraphs := parser.DefaultParagraphTransformers()
	for i, p := range paragraphs {
		if p.Value == parser.LinkReferenceParagraphTransformer {
			paragraphs[i].Value = definitionsInChunks{p.Value.(parser.ParagraphTransformer)}
		}
	}
	return parser.NewParser(parser.WithBlockParsers(blocks...), parser.WithInlineParsers(inlines...),
		parser.WithParagraphTransformers(paragraphs...))
}

// containerBound opens a quote or a list only up to MaxNesting levels
// deep, and only MaxContainers of them: goldmark's parser spends time in
// proportion to the depth on every level it opens, and the plain text
// indents each level's text again.
type containerBound struct{ parser.BlockParser }

func (c containerBound) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	b := boundsOf(pc, reader.Source())
	depth := 0
	for a := parent; a != nil; a = a.Parent() {
		if a.Kind() == ast.KindBlockquote || a.Kind() == ast.KindList {
			depth++
		}
	}
	switch {
	case depth >= MaxNesting:
		b.exceed(limitNesting)
		return nil, parser.NoChildren
	case b.containers >= MaxContainers:
		b.exceed(limitContainers)
		return nil, parser.NoChildren
	}
	node, state := c.BlockParser.Open(parent, reader, pc)
	if node != nil {
		b.containers++
	}
	return node, state
}

// codeSpans remembers, for goldmark's code span parser, which runs of
// backticks found no closing run of their length up to the end of the
// block: a later run of that length finds none either, and is text at
// once. goldmark read the rest of the block again for each of them, and
// "\“" makes a run of one backtick (after an escaped one) that closes
// nothing, again and again.
type codeSpans struct{ parser.InlineParser }

func (c codeSpans) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, seg := block.PeekLine()
	n := 0
	for n < len(line) && line[n] == '`' {
		n++
	}
	b := boundsOf(pc, block.Source())
	if at, ok := b.unclosed[n]; ok && seg.Start > at {
		block.Advance(n)
		return ast.NewTextSegment(seg.WithStop(seg.Start + n))
	}
	node := c.InlineParser.Parse(parent, block, pc)
	if node != nil && node.Kind() == ast.KindText { // no closing run: the run is text
		if b.unclosed == nil {
			b.unclosed = map[int]int{}
		}
		b.unclosed[n] = seg.Start
	}
	return node
}

func (c codeSpans) CloseBlock(parent ast.Node, block text.Reader, pc parser.Context) {
	boundsOf(pc, block.Source()).unclosed = nil
}

// linkBound bounds the work of goldmark's link parser, which at every ']'
// reads what lies between it and the bracket that opened the link text (to
// check that no link is in it, and for a reference's label), and, when '('
// follows, the destination up to a space or the closing parenthesis. So a
// line of many unfinished "[a](" was read again from each of them to its
// end, and many brackets opened before much text and then closed read it
// again for each. Reads up to shortReach bytes are free; longer ones count
// against budgets of about the body's length. Once a budget is spent, a
// ']' far from its opening bracket is text, and one before a far-reaching
// destination is not taken as the end of an inline link, as if the
// destination were unfinished. The addresses and titles that reference
// links repeat count against a third budget, past which a reference is not
// found.
//
// It also keeps goldmark from holding brackets that can never open a link:
// goldmark closes no link text while the brackets it holds open, the new
// one aside, span more than maxLabelSpan bytes. Such a bracket is text from
// the start here (goldmark makes it text when its ']' comes), which saves
// a node for each bracket of a long run of them.
type linkBound struct{ parser.InlineParser }

// maxLabelSpan is goldmark's bound on the brackets it holds open: past it
// no ']' closes a link text.
const maxLabelSpan = 998

// opener is a bracket that may open a link text: '[', or "![" for an
// image. A dead one can open none, for goldmark holds brackets spanning
// more than maxLabelSpan before it.
type opener struct {
	start, stop int // its bytes in the source
	dead        bool
}

func (l linkBound) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, seg := block.PeekLine()
	b := boundsOf(pc, block.Source())
	if len(line) == 0 {
		return l.InlineParser.Parse(parent, block, pc)
	}
	switch {
	case line[0] == '[' && seg.Start == b.deadImage:
		return nil // the bracket of a dead "!["
	case line[0] == '[' || line[0] == '!' && len(line) > 1 && line[1] == '[':
		o := opener{start: seg.Start, stop: seg.Start + 1}
		if line[0] == '!' {
			o.stop++
		}
		if n := len(b.openers); n > 0 && b.openers[n-1].stop-b.openers[0].start > maxLabelSpan {
			o.dead = true
			b.openers = append(b.openers, o)
			if line[0] == '!' {
				b.deadImage = seg.Start + 1
			}
			return nil
		}
		node := l.InlineParser.Parse(parent, block, pc)
		if node != nil {
			b.openers = append(b.openers, o)
		}
		return node
	case line[0] != ']':
		return l.InlineParser.Parse(parent, block, pc)
	}
	if n := len(b.openers); n > 0 {
		if b.openers[n-1].dead {
			// goldmark would give up on it here, and make it text.
			b.openers = b.openers[:n-1]
			return nil
		}
		if !b.spend(&b.linkWalks, seg.Start-b.openers[n-1].start, limitLinks) {
			return nil
		}
		b.openers = b.openers[:n-1] // goldmark's parser takes it off its list
	}
	r := &linkReader{Reader: block, lines: parent.Lines(), hide: -1}
	if len(line) > 1 && line[1] == '(' {
		if !b.spend(&b.linkReads, destinationLength(line[2:], shortReach+b.linkReads+1), limitLinks) {
			r.hide = seg.Start + 1
		}
	}
	node := l.InlineParser.Parse(parent, r, referenceBound{pc, b})
	if node != nil && (node.Kind() == ast.KindLink || node.Kind() == ast.KindImage) {
		// Emphasis in a link's text ends within it, as goldmark matches it.
		runs := runsOf(pc)
		i := len(runs.list)
		for i > 0 && runs.list[i-1].Parent() == node {
			i--
		}
		matchRuns(runs.list[i:])
		runs.list = runs.list[:i]
	}
	return node
}

// CloseBlock passes goldmark's end of a block on: the link parser turns
// the brackets it still holds into text there.
func (l linkBound) CloseBlock(parent ast.Node, block text.Reader, pc parser.Context) {
	b := boundsOf(pc, block.Source())
	b.openers, b.deadImage = nil, -1
	if c, ok := l.InlineParser.(parser.CloseBlocker); ok {
		c.CloseBlock(parent, block, pc)
	}
}

// referenceBound is the parser context as the link parser sees it at a
// ']': each reference it finds costs its address and title.
type referenceBound struct {
	parser.Context
	bounds *bounds
}

func (c referenceBound) Reference(label string) (parser.Reference, bool) {
	ref, ok := c.Context.Reference(label)
	if !ok {
		return nil, false
	}
	// No read is free here: a short address repeated is output all the same.
	b := c.bounds
	n := len(ref.Destination()) + len(ref.Title())
	if n > b.references {
		b.references = 0
		b.exceed(limitReferences)
		return nil, false
	}
	b.references -= n
	return ref, true
}

// destinationLength returns how many bytes of line (what follows "](")
// goldmark's link parser reads as the destination, or a number over max
// once it is past max.
func destinationLength(line []byte, max int) int {
	i := 0
	for i < len(line) && util.IsSpace(line[i]) && line[i] != '\n' {
		i++
	}
	if i < len(line) && line[i] == '<' {
		for i++; i < len(line) && i <= max; i++ {
			if line[i] == '\\' && i+1 < len(line) && util.IsPunct(line[i+1]) {
				i++
			} else if line[i] == '>' {
				return i
			}
		}
		return i
	}
	opened := 0
	for ; i < len(line) && i <= max; i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && util.IsPunct(line[i+1]):
			i++
		case c == '(':
			opened++
		case c == ')':
			opened--
			if opened < 0 {
				return i
			}
		case util.IsSpace(c):
			return i
		}
	}
	return i
}

// linkReader is the block reader that goldmark's link parser is given at a
// ']'. It hides the '(' at hide, and finds the line of a segment it is
// asked the value of by binary search: text.BlockReader walks back to it
// from the block's last line, once per ']' without a link, which made a
// paragraph of many lines of "[a]" quadratic.
type linkReader struct {
	text.Reader
	lines *text.Segments // the block's, which the reader reads
	hide  int            // the position of a '(' to hide, or -1
}

func (r *linkReader) Peek() byte {
	if _, pos := r.Position(); pos.Start == r.hide {
		return ' '
	}
	return r.Reader.Peek()
}

// Value is text.BlockReader's Value with the search for the segment's
// first line made binary.
func (r *linkReader) Value(seg text.Segment) []byte {
	source := r.Source()
	n := r.lines.Len()
	line := sort.Search(n, func(i int) bool { return r.lines.At(i).Start > seg.Start }) - 1
	line = max(line, 0)
	ret := make([]byte, 0, seg.Stop-seg.Start+1)
	i := seg.Start
	for ; line < n; line++ {
		s := r.lines.At(line)
		if i < 0 {
			i = s.Start
		}
		ret = s.ConcatPadding(ret)
		for ; i < seg.Stop && i < s.Stop; i++ {
			ret = append(ret, source[i])
		}
		i = -1
		if s.Stop > seg.Stop {
			break
		}
	}
	return ret
}

// definitionsInChunks gives goldmark's link reference definitions parser a
// long paragraph a chunk of lines at a time, each chunk ending before a
// line that may start a definition. The parser takes definitions from the
// start of a paragraph until a line is none; so does this, chunk after
// chunk, and what is left of the paragraph stays one paragraph. The one
// difference: a definition written over several lines, whose address or
// title goes on at a chunk's end onto a line starting with '[', is cut
// there, which no lesson is likely to show.
type definitionsInChunks struct{ parser.ParagraphTransformer }

func (d definitionsInChunks) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	lines := node.Lines()
	if lines.Len() <= definitionChunkLines {
		d.ParagraphTransformer.Transform(node, reader, pc)
		return
	}
	source := reader.Source()
	all := lines.Sliced(0, lines.Len())
	parent := node.Parent()
	for start := 0; start < len(all); {
		end := min(start+definitionChunkLines, len(all))
		for end < len(all) && !mayStartDefinition(all[end].Value(source)) {
			end++
		}
		chunk := ast.NewParagraph()
		segs := text.NewSegments()
		segs.AppendAll(all[start:end])
		chunk.SetLines(segs)
		if start == 0 {
			chunk.SetBlankPreviousLines(node.HasBlankPreviousLines())
		}
		parent.InsertBefore(parent, node, chunk)
		d.ParagraphTransformer.Transform(chunk, reader, pc)
		if chunk.Parent() != nil {
			// A line that is no definition: it and the rest are the paragraph.
			rest := append(chunk.Lines().Sliced(0, chunk.Lines().Len()), all[end:]...)
			parent.RemoveChild(parent, chunk)
			lines.SetSliced(0, 0)
			lines.AppendAll(rest)
			node.SetLines(lines)
			return
		}
		start = end
	}
	parent.RemoveChild(parent, node)
}

// mayStartDefinition says whether a line could begin a link reference
// definition: up to three spaces, then '['.
func mayStartDefinition(line []byte) bool {
	i := 0
	for i < len(line) && i < 3 && line[i] == ' ' {
		i++
	}
	return i < len(line) && line[i] == '['
}

// boundedTables is goldmark's table extension (GitHub Flavored Markdown)
// with its paragraph transformer bounded by tableBound.
type boundedTables struct{}

func (boundedTables) Extend(m goldmark.Markdown) {
	m.Parser().AddOptions(
		parser.WithParagraphTransformers(util.Prioritized(tableBound{extension.NewTableParagraphTransformer()}, 200)),
		parser.WithASTTransformers(util.Prioritized(extension.NewTableASTTransformer(), 0)),
	)
	// Cells carry no alignment: goldmark writes it as a style attribute,
	// which the sanitizer removes, after reading it for every cell.
	m.Renderer().AddOptions(renderer.WithNodeRenderers(util.Prioritized(
		extension.NewTableHTMLRenderer(extension.WithTableCellAlignMethod(extension.TableCellAlignNone)), 500)))
}

// tableBound lets goldmark make a table of a paragraph only while the
// body's tables stay within MaxTableCells and MaxTableEscapedPipes: every
// row gets as many cells as the header, so a long header over many short
// rows was a table of millions of cells, and goldmark matches every
// escaped pipe in a table's code against all the others.
type tableBound struct{ parser.ParagraphTransformer }

func (t tableBound) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	source := reader.Source()
	lines := node.Lines().Sliced(0, node.Lines().Len())
	// As goldmark does: the first delimiter row makes a table of the line
	// before it and every line after it.
	for i := 1; i < len(lines); i++ {
		columns := delimiterColumns(lines[i].Value(source))
		if columns == 0 {
			continue
		}
		pipes := 0
		for _, l := range lines[i-1:] {
			pipes += escapedPipes(l.Value(source))
		}
		b := boundsOf(pc, source)
		cells := (columns + 1) * (len(lines) - i)
		switch {
		case cells > b.tableCells:
			b.exceed(limitTableCells)
			return
		case pipes > b.tablePipes:
			b.exceed(limitTablePipes)
			return
		}
		b.tableCells -= cells
		b.tablePipes -= pipes
		break
	}
	t.ParagraphTransformer.Transform(node, reader, pc)
}

// delimiterColumns returns the number of columns of a table's delimiter
// row (|---|:--:|), or 0 when line is none, by goldmark's rules.
func delimiterColumns(line []byte) int {
	if w, _ := util.IndentWidth(line, 0); w > 3 {
		return 0
	}
	onlyDashes := true
	for _, c := range line {
		if c != '-' {
			onlyDashes = false
		}
		if !util.IsSpace(c) && c != '-' && c != '|' && c != ':' {
			return 0
		}
	}
	if onlyDashes {
		return 0
	}
	// Columns between pipes, without a blank one at either end.
	var columns [][]byte
	start := 0
	for i := 0; i <= len(line); i++ {
		if i == len(line) || line[i] == '|' {
			columns = append(columns, line[start:i])
			start = i + 1
		}
	}
	if util.IsBlank(columns[0]) {
		columns = columns[1:]
	}
	if len(columns) > 0 && util.IsBlank(columns[len(columns)-1]) {
		columns = columns[:len(columns)-1]
	}
	for _, c := range columns {
		if !isDelimiterColumn(c) {
			return 0
		}
	}
	return len(columns)
}

// isDelimiterColumn matches `^\s*:?-+:?\s*$`.
func isDelimiterColumn(c []byte) bool {
	isSpace := func(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\f' || b == '\r' }
	i, j := 0, len(c)
	for i < j && isSpace(c[i]) {
		i++
	}
	for j > i && isSpace(c[j-1]) {
		j--
	}
	if i < j && c[i] == ':' {
		i++
	}
	if j > i && c[j-1] == ':' {
		j--
	}
	if i == j {
		return false
	}
	for ; i < j; i++ {
		if c[i] != '-' {
			return false
		}
	}
	return true
}

// escapedPipes counts the "\|" of a line.
func escapedPipes(line []byte) int {
	n := 0
	for i := 1; i < len(line); i++ {
		if line[i] == '|' && line[i-1] == '\\' {
			n++
		}
	}
	return n
}

// delimiterRuns wraps goldmark's emphasis and strikethrough parsers. goldmark
// matches each closing run of *, _ or ~ against every earlier run that
// may open, so a paragraph of runs that never match ("_a*" again and again)
// took seconds for a few kilobytes. The parsers' runs are kept here instead,
// out of goldmark's list, and matched by matchRuns: goldmark's way, with the
// same result, but without looking again where a closer like the current
// one found no opener (CommonMark's "openers bottom"). A link's runs are
// matched when the link is made, the rest at the end of the block.
type delimiterRuns struct{ parser.InlineParser }

func (d delimiterRuns) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	return d.InlineParser.Parse(parent, block, keptRuns{pc, runsOf(pc)})
}

func (d delimiterRuns) CloseBlock(parent ast.Node, block text.Reader, pc parser.Context) {
	runs := runsOf(pc)
	matchRuns(runs.list)
	runs.list = nil
}

// runs are the delimiter runs of the block being parsed, in order.
type runs struct{ list []*parser.Delimiter }

var runsKey = parser.NewContextKey()

func runsOf(pc parser.Context) *runs {
	return pc.ComputeIfAbsent(runsKey, func() any { return &runs{} }).(*runs)
}

// keptRuns is the parser context as goldmark's emphasis and strikethrough
// parsers see it: the runs they push go to the block's runs.
type keptRuns struct {
	parser.Context
	runs *runs
}

func (c keptRuns) PushDelimiter(d *parser.Delimiter) {
	c.runs.list = append(c.runs.list, d)
}

// run is a delimiter run in matchRuns' list.
type run struct {
	*parser.Delimiter
	index      int
	prev, next *run
}

// runKind is what decides which runs may open a closing run: its
// character, whether it may open too, and its length modulo 3.
type runKind struct {
	char    byte
	canOpen bool
	length  int
}

// matchRuns makes emphasis and strikethrough of delimiter runs that share
// a parent, as goldmark's parser.ProcessDelimiters does, and turns the runs
// left into text.
func matchRuns(delimiters []*parser.Delimiter) {
	if len(delimiters) == 0 {
		return
	}
	runs := make([]run, len(delimiters))
	for i := range runs {
		runs[i].Delimiter, runs[i].index = delimiters[i], i
		if i > 0 {
			runs[i].prev, runs[i-1].next = &runs[i-1], &runs[i]
		}
	}
	first := &runs[0]
	remove := func(r *run) {
		if r.prev != nil {
			r.prev.next = r.next
		} else {
			first = r.next
		}
		if r.next != nil {
			r.next.prev = r.prev
		}
		r.prev, r.next = nil, nil
		parent := r.Parent()
		if r.Length != 0 {
			ast.MergeOrReplaceTextSegment(parent, r.Delimiter, r.Segment)
		} else {
			parent.RemoveChild(parent, r.Delimiter)
		}
	}
	// floors holds, per kind of closer, the index at and below which no
	// run opens it: whether a run opens a closer depends only on the two
	// runs' characters, original lengths and sides, which do not change.
	floors := map[runKind]int{}
	for closer := first; closer != nil; {
		if !closer.CanClose {
			closer = closer.next
			continue
		}
		kind := runKind{closer.Char, closer.CanOpen, closer.OriginalLength % 3}
		floor, ok := floors[kind]
		if !ok {
			floor = -1
		}
		var opener *run
		consume := 0
		for o := closer.prev; o != nil && o.index > floor; o = o.prev {
			if o.CanOpen && o.Parent() == closer.Parent() && o.Processor.CanOpenCloser(o.Delimiter, closer.Delimiter) {
				if consume = o.CalcComsumption(closer.Delimiter); consume > 0 {
					opener = o
					break
				}
			}
		}
		if opener == nil {
			floors[kind] = closer.index - 1
			next := closer.next
			if !closer.CanOpen {
				remove(closer)
			}
			closer = next
			continue
		}
		opener.ConsumeCharacters(consume)
		closer.ConsumeCharacters(consume)
		node := opener.Processor.OnMatch(consume)
		node.(interface{ SetPos(int) }).SetPos(opener.Segment.Start)
		parent := opener.Parent()
		for c := opener.NextSibling(); c != nil && c != ast.Node(closer.Delimiter); {
			next := c.NextSibling()
			node.AppendChild(node, c)
			c = next
		}
		parent.InsertAfter(parent, opener.Delimiter, node)
		for r := opener.next; r != closer; {
			next := r.next
			remove(r)
			r = next
		}
		if opener.Length == 0 {
			remove(opener)
		}
		if closer.Length == 0 {
			next := closer.next
			remove(closer)
			closer = next
		}
	}
	for r := first; r != nil; {
		next := r.next
		remove(r)
		r = next
	}
}

// boundedStrikethrough is goldmark's strikethrough extension (~~text~~)
// with its runs matched by delimiterRuns.
type boundedStrikethrough struct{}

func (boundedStrikethrough) Extend(m goldmark.Markdown) {
	m.Parser().AddOptions(parser.WithInlineParsers(util.Prioritized(delimiterRuns{extension.NewStrikethroughParser()}, 500)))
	m.Renderer().AddOptions(renderer.WithNodeRenderers(util.Prioritized(extension.NewStrikethroughHTMLRenderer(), 500)))
}
