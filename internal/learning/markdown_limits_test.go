package learning_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// pathological are lesson bodies of the largest size that goldmark alone
// renders in time that grows with the square of their length (or worse),
// or into output that does.
func pathological() []struct{ name, body string } {
	const n = learning.MaxBodyRunes
	fill := func(s string) string { return strings.Repeat(s, n/len(s)) }
	lines := func(line func(i int) string) string {
		var b strings.Builder
		for i := 1; b.Len() < n; i++ {
			b.WriteString(line(i))
		}
		return b.String()[:n]
	}
	third := strings.Repeat("*", n/3)
	return []struct{ name, body string }{
		{"deep quotes", fill(">")},
		{"deep quotes with spaces", fill("> ")},
		{"quotes one deeper each line", lines(func(i int) string { return strings.Repeat(">", i) + " a\n" })},
		{"quotes of blank lines", fill(">>>>>>>>>>>>>>>>\n\n")},
		{"deep ordered lists", fill("1. ")},
		{"deep bullet lists", fill("- * ")},
		{"lists in quotes", fill("> - ")},
		{"lists indented one deeper each line", lines(func(i int) string { return strings.Repeat(" ", 2*i) + "- a\n" })},
		{"emphasis runs that never match", fill("_a*")},
		{"strikethrough and emphasis", fill("~*1")},
		{"mixed emphasis", fill("*a_b*c_d**e_f*g**h*i_j**")},
		{"emphasis nested deep", third + strings.Repeat("a", n/3) + third},
		{"stars", fill("*")},
		{"open brackets", fill("[")},
		{"brackets", fill("[")[:n/2] + fill("]")[:n/2]},
		{"unfinished links", fill("[a](")},
		{"unfinished angle links", fill("[a](<")},
		{"unfinished links with spaces", fill("[a](< ")},
		{"bracketed lines", fill("[a]\n")},
		{"images", fill("![")},
		{"links in links", fill("[")[:n/10] + "a" + fill("](b)")[:n-n/10-1]},
		{"a reference used often", "[a]: /" + strings.Repeat("u", n/2) + "\n\n" + fill("[a]")[:n/2-8]},
		{"reference definitions", fill("[a]: b\n")},
		{"a wide table over short rows", strings.Repeat("|a", n/8) + "|\n" + strings.Repeat("|-", n/8) + "|\n" + fill("a\n")[:n/2]},
		{"escaped pipes in table code", "|a|\n|-|\n" + fill("|`a\\|b`|\n")},
		{"a long table of short rows", fill("\n-:")},
		{"backtick runs", lines(func(i int) string { return strings.Repeat("`", i) + "a" })},
		{"backticks after escaped ones", fill("\\``")},
		{"unclosed tags", fill("<a ")},
		{"comment openers", fill("<!--")},
	}
}

// renderings numbers the bodies rendered by the tests, which end each
// body with their number so that the caches do not hold it.
var renderings atomic.Int64

func uncached(body string) string {
	return body + "\n\n" + strconv.FormatInt(renderings.Add(1), 10)
}

// renderTime is the shortest of a few renderings of a body, both ways,
// in CPU time.
func renderTime(t testing.TB, body string) time.Duration {
	// The render runs on this goroutine's thread alone, whose CPU time
	// measures it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := time.Hour
	for range 5 {
		b := uncached(body)
		start := threadCPU()
		if _, err := learning.RenderLesson(b); err != nil {
			t.Fatal(err)
		}
		best = min(best, threadCPU()-start)
	}
	return best
}

// TestPathologicalMarkdownRendersFast: whatever a body holds, rendering it
// takes time in proportion to its length: each body of the largest size
// renders, as HTML and as text, in under 100 ms of CPU time (more with
// the race detector, which slows everything down).
func TestPathologicalMarkdownRendersFast(t *testing.T) {
	limit := 100 * time.Millisecond * raceSlowdown
	for _, p := range pathological() {
		took := renderTime(t, p.body)
		if took > limit {
			t.Errorf("%s: rendered in %v, want under %v", p.name, took, limit)
		}
		t.Logf("%s: %v", p.name, took)
	}
}

// TestPathologicalRenderingsAreCached: the renderings of a body of the
// largest size are kept however large they are, so that showing a lesson
// again does not render it again.
func TestPathologicalRenderingsAreCached(t *testing.T) {
	for _, p := range pathological() {
		r, err := learning.RenderLesson(p.body)
		if err != nil {
			t.Fatal(err)
		}
		if html, text := learning.RenderingCached(p.body); !html || !text {
			t.Errorf("%s: %d bytes of HTML cached: %v; %d of text: %v", p.name, len(r.HTML), html, len(r.Text), text)
		}
	}
}

// BenchmarkPathologicalMarkdown renders each pathological body as a
// delivery did (HTML, then text), a new body every time for the caches.
func BenchmarkPathologicalMarkdown(b *testing.B) {
	for _, p := range pathological() {
		b.Run(strings.ReplaceAll(p.name, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				body := uncached(p.body)
				if _, err := learning.RenderMarkdown(body); err != nil {
					b.Fatal(err)
				}
				learning.PlainText(body)
			}
		})
	}
}

// TestBodiesBeyondTheBoundsAreRefused: a body that reaches a bound of the
// renderer is refused when saved or previewed, with a message that says
// which; what renders as goldmark renders it is accepted.
func TestBodiesBeyondTheBoundsAreRefused(t *testing.T) {
	fill := func(s string, n int) string { return strings.Repeat(s, n/len(s)) }
	prose := fill("## A heading\n\nSome *emphasis*, **strong** and ~~struck~~ text with a [link](https://example.com/a), "+
		"a [reference][r] and `code`.\n\n- one\n- two\n  1. nested\n\n> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[r]: /r\n\n",
		learning.MaxBodyRunes)
	for _, tc := range []struct{ name, body, message string }{
		{"deep quotes", fill(">", 1000), "more than 16 levels deep"},
		{"deep lists", fill("1. ", 100), "more than 16 levels deep"},
		{"many quotes", fill(">\n\n", 40000), "more than 10000 quotes and lists"},
		{"a wide table over short rows", strings.Repeat("|a", 1000) + "|\n" + strings.Repeat("|-", 1000) + "|\n" + fill("a\n", 200),
			"more than 20000 cells and rows"},
		{"escaped pipes in table code", "|a|\n|-|\n" + fill("|`a\\|b`|\n", 20000), `more than 1000 escaped pipes`},
		{"unfinished links", fill("[a](", 40000), "unfinished links"},
		{"brackets closed far away", fill("[", 5000) + fill("a ", 5000) + fill("]", 5000), "unclosed brackets"},
		{"a reference used often", "[a]: /" + strings.Repeat("u", 1000) + "\n\n" + fill("[a] ", 40000), "reference links"},
		{"too long", fill("a", learning.MaxBodyRunes+1), "too long"},
	} {
		_, err := learning.PreviewLesson(tc.body)
		if p, ok := problem.As(err); !ok || p.Kind != problem.Invalid || !strings.Contains(p.Fields["body"], tc.message) {
			t.Errorf("%s: previewed with %v, want the body refused with %q", tc.name, err, tc.message)
		}
	}
	if html, err := learning.PreviewLesson(prose); err != nil || !strings.Contains(html, "<em>emphasis</em>") {
		t.Errorf("a body of the largest size within the bounds: %v", err)
	}

	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		c := f.course("Bounded")
		_, err := f.s.CreateContent(context.Background(), f.editor, f.org, c.ID, learning.ContentFields{
			Kind: store.KindLesson, Title: ptr("Deep"), Body: ptr(fill(">", learning.MaxBodyRunes))})
		if msg := field(err, "body"); kind(err) != problem.Invalid || msg != "The text nests quotes or lists more than 16 levels deep." {
			t.Errorf("saving deep quotes: %v (%q)", err, msg)
		}
		if _, err := f.s.CreateContent(context.Background(), f.editor, f.org, c.ID, learning.ContentFields{
			Kind: store.KindLesson, Title: ptr("Long"), Body: ptr(prose)}); err != nil {
			t.Errorf("saving a body within the bounds: %v", err)
		}

		// A lesson saved before the bounds existed renders, bounded, and
		// its other fields may still change.
		var old int64
		err = db.InTx(context.Background(), func(q *store.Queries) error {
			var err error
			old, err = q.CreateContentItem(context.Background(), store.NewContentItem{OrganizationID: f.org, CourseID: c.ID,
				Kind: store.KindLesson, Title: "Old", Body: fill(">", learning.MaxBodyRunes-1) + "a"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		item, err := f.s.UpdateContent(context.Background(), f.editor, f.org, c.ID, old, learning.ContentFields{Title: ptr("Old, renamed")})
		if err != nil || item.Title != "Old, renamed" {
			t.Fatalf("renaming a lesson saved before the bounds: %v", err)
		}
		if took := renderTime(t, item.Body); took > 100*time.Millisecond*raceSlowdown {
			t.Errorf("a lesson saved before the bounds renders in %v", took)
		}
		if html, _ := learning.RenderMarkdown(item.Body); strings.Count(html, "<blockquote>") != 16 {
			t.Errorf("a lesson saved before the bounds renders %d quotes, want 16", strings.Count(html, "<blockquote>"))
		}
	})
}
