// Package csvout writes the CSV files the product hands out (exports of
// learners, enrollments, the audit log, a report's numbers): RFC 4180
// with CRLF line ends, cells that spreadsheets would run as formulas made
// inert, and the output flushed as it goes, so that a file of any length
// streams in constant memory.
package csvout

import (
	"encoding/csv"
	"fmt"
	"io"
)

// ContentType is the media type of the files this package writes.
const ContentType = "text/csv; charset=utf-8"

// FlushRows is how many rows a Writer buffers before it flushes them to
// its destination.
const FlushRows = 1000

// Writer writes CSV records. Every cell goes through Escape.
type Writer struct {
	csv     *csv.Writer
	flush   func() error // the destination's own flush, if it has one
	pending int          // rows written since the last flush
	cells   []string     // reused for the escaped cells of a record
}

// NewWriter returns a Writer to w. When w has a method Flush() error (a
// bufio.Writer, or a wrapper of an HTTP response), the Writer calls it
// after each FlushRows rows and in Flush, so that the rows leave the
// process as they are written.
func NewWriter(w io.Writer) *Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	out := &Writer{csv: cw}
	if f, ok := w.(interface{ Flush() error }); ok {
		out.flush = f.Flush
	}
	return out
}

// Write writes one record (the header row is a record like the others).
func (w *Writer) Write(record ...string) error {
	w.cells = w.cells[:0]
	for _, c := range record {
		w.cells = append(w.cells, Escape(c))
	}
	if err := w.csv.Write(w.cells); err != nil {
		return fmt.Errorf("write a CSV row: %w", err)
	}
	if w.pending++; w.pending >= FlushRows {
		return w.Flush()
	}
	return nil
}

// Flush sends the rows written so far on to the destination, and calls
// its own flush. Call it after the last row.
func (w *Writer) Flush() error {
	w.pending = 0
	w.csv.Flush()
	if err := w.csv.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	if w.flush != nil {
		if err := w.flush(); err != nil {
			return fmt.Errorf("flush CSV: %w", err)
		}
	}
	return nil
}

// Escape makes a cell safe to open in a spreadsheet: one that starts
// with =, +, - or @ (a formula), or with a tab or a carriage return
// (which some spreadsheets skip before reading a formula), gets a single
// quote in front, as OWASP advises against CSV injection. The quote shows
// in the cell, so the value stays readable and is never run.
func Escape(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}
