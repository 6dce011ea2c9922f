package store

import (
	"fmt"
	"strings"
	"time"
)

// Statements that read many rows read SQLite's times as the text the
// driver stored (asText) and scan them with textTime: the driver parses a
// DATETIME column by trying its layouts one after the other with
// time.Parse, a sizeable part of the cost of a row, while every time this
// store writes has the one layout that parseStoredTime reads by position.

// asText is a time column as a statement reads it to scan into a
// textTime: on SQLite, as text (an expression has no declared type, so
// the driver hands the stored text over); on PostgreSQL, as it is.
func (q *Queries) asText(column string) string {
	if q.dialect == SQLite {
		return column + " || ''"
	}
	return column
}

// textTime scans a time, or NULL, given as a time (PostgreSQL) or as the
// text SQLite stored.
type textTime struct {
	Time  time.Time
	Valid bool
}

func (t *textTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		t.Time, t.Valid = time.Time{}, false
		return nil
	case time.Time:
		t.Time, t.Valid = v.UTC(), true
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("scan time from %T", v)
	}
}

func (t *textTime) parse(s string) error {
	if u, ok := parseStoredTime(s); ok {
		t.Time, t.Valid = u, true
		return nil
	}
	// A time written some other way (by hand, say): the forms the driver
	// reads a DATETIME column in.
	var err error
	for _, layout := range textTimeLayouts {
		var u time.Time
		if u, err = time.Parse(layout, strings.TrimSuffix(s, "Z")); err == nil {
			t.Time, t.Valid = u.UTC(), true
			return nil
		}
	}
	return fmt.Errorf("scan time: %w", err)
}

// textTimeLayouts are the layouts modernc.org/sqlite parses a DATETIME
// column's text with, the store's own first.
var textTimeLayouts = []string{
	sqliteTimeLayout,
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// ptr is the time, or nil for NULL.
func (t textTime) ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time
	return &u
}

// parseStoredTime reads a time as this store writes it on SQLite (in UTC,
// sqliteTimeLayout): 2006-01-02 15:04:05, up to nine digits of a second,
// and +00:00. Anything else is not ok, left to time.Parse.
func parseStoredTime(s string) (time.Time, bool) {
	const head = len("2006-01-02 15:04:05")
	if len(s) < head+len("+00:00") || s[len(s)-6:] != "+00:00" ||
		s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[head : len(s)-6]; frac != "" {
		digits := len(frac) - 1
		if frac[0] != '.' || digits < 1 || digits > 9 {
			return time.Time{}, false
		}
		n, ok := num(head+1, len(s)-6)
		if !ok {
			return time.Time{}, false
		}
		for range 9 - digits {
			n *= 10
		}
		nsec = n
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 February: time.Date would move it on
		return time.Time{}, false
	}
	return t, true
}
