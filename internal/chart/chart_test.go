package chart

import (
	"encoding/xml"
	"strings"
	"testing"
)

// A chart is well-formed SVG, named for screen readers, with each bar's
// number in its own title and every text escaped.
func TestBarsAreAccessibleAndEscaped(t *testing.T) {
	c := Chart{ID: "scores", Title: "Scores of <Quiz>", Desc: "How many answers scored each tenth.", Kind: Bars,
		Labels: []string{"0–9", "10–19", "90–100"}, Series: []Series{{Name: "answers & more", Values: []int{3, 0, 17}}}}
	svg := string(c.SVG())
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, svg)
	}
	for _, want := range []string{`role="img"`, `aria-labelledby="scores-title scores-desc"`, `viewBox="0 0 640 260"`, `width="100%"`,
		`<title id="scores-title">Scores of &lt;Quiz&gt;</title>`, `<title>90–100, answers &amp; more: 17</title>`, `<title>0–9, answers &amp; more: 3</title>`, `>20</text>`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %s:\n%s", want, svg)
		}
	}
	if strings.Count(svg, "<rect") != 3+1 { // the bars and the legend's key
		t.Errorf("%d rects, want 4", strings.Count(svg, "<rect"))
	}
}

func TestNiceMax(t *testing.T) {
	for m, want := range map[int]int{0: 4, 3: 4, 5: 8, 17: 20, 21: 40, 199: 200, 1001: 2000} {
		if got := niceMax(m); got != want {
			t.Errorf("niceMax(%d) = %d, want %d", m, got, want)
		}
	}
}
