// Package chart draws small bar and line charts as inline SVG on the
// server: readable without JavaScript, scaled to their container by their
// viewBox, and named for screen readers by a title and a description. The
// page shows the same numbers as a table beside each chart.
package chart

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// Kind is how the values are drawn.
type Kind int

const (
	Bars  Kind = iota // one group of bars per label, a bar per series
	Lines             // a line per series
)

// Series is one named row of values, one per label.
type Series struct {
	Name   string
	Values []int
}

// Chart is a chart to draw.
type Chart struct {
	ID     string // unique in the page: the title's and description's ids derive from it
	Title  string
	Desc   string // what the chart shows, in a sentence or two
	Kind   Kind
	Labels []string // along the x axis
	Series []Series
}

// Colours of the series, in order: distinct in hue and lightness, and
// readable on white.
var colours = []string{"#1f5fa8", "#c2410c", "#15803d", "#7e22ce", "#a16207", "#be123c"}

const (
	width, height = 640, 260
	left, right   = 48, 12 // room for the y axis labels
	top, bottom   = 12, 58 // room for the x labels and the legend
)

// SVG draws the chart.
func (c Chart) SVG() template.HTML {
	var b strings.Builder
	e := html.EscapeString
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-labelledby="%[1]s-title %[1]s-desc" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">`,
		e(c.ID), width, height)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, e(c.ID), e(c.Title), e(c.ID), e(c.Desc))
	yMax := niceMax(c.max())
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	y := func(v int) float64 { return float64(top) + plotH - plotH*float64(v)/float64(yMax) }
	// The y axis: four steps with their values.
	for i := 0; i <= 4; i++ {
		v := yMax * i / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d0d7de" stroke-width="1"/>`, left, width-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="12" fill="#57606a">%d</text>`, left-6, y(v)+4, v)
	}
	n := len(c.Labels)
	if n > 0 {
		slot := plotW / float64(n)
		x := func(i int) float64 { return float64(left) + slot*(float64(i)+0.5) }
		// At most about eight labels along the x axis, evenly spread.
		every := max(1, (n+7)/8)
		for i, l := range c.Labels {
			if i%every == 0 || i == n-1 && n <= 8 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="12" fill="#57606a">%s</text>`, x(i), height-bottom+16, e(l))
			}
		}
		switch c.Kind {
		case Bars:
			groupW := slot * 0.8
			barW := groupW / float64(max(1, len(c.Series)))
			for s, series := range c.Series {
				for i, v := range series.Values {
					bx := x(i) - groupW/2 + barW*float64(s)
					fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %d</title></rect>`,
						bx, y(v), max(barW-1, 0.5), y(0)-y(v), colours[s%len(colours)], e(c.Labels[i]), e(series.Name), v)
				}
			}
		case Lines:
			for s, series := range c.Series {
				var pts []string
				for i, v := range series.Values {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
				}
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, colours[s%len(colours)], strings.Join(pts, " "))
			}
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#57606a" stroke-width="1"/>`, left, width-right, y(0), y(0))
	// The legend, under the x labels.
	lx := float64(left)
	for s, series := range c.Series {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="12" height="12" fill="%s"/><text x="%.1f" y="%d" font-size="12" fill="#24292f">%s</text>`,
			lx, height-22, colours[s%len(colours)], lx+16, height-12, e(series.Name))
		lx += 16 + 7.5*float64(len([]rune(series.Name))) + 18
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text in it is escaped above
}

func (c Chart) max() int {
	m := 0
	for _, s := range c.Series {
		for _, v := range s.Values {
			m = max(m, v)
		}
	}
	return m
}

// niceMax is the top of the y axis: the smallest of 1, 2, 2.5 or 5 times
// a power of ten, times four (so that the four steps are whole), at or
// above m; 4 for an empty chart.
func niceMax(m int) int {
	if m <= 4 {
		return 4
	}
	for p := 1; ; p *= 10 {
		for _, f := range []int{1, 2, 5} {
			if step := f * p; 4*step >= m {
				return 4 * step
			}
		}
	}
}
