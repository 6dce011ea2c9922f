package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A time read by position is the time time.Parse reads from the same
// text, and text in any other form is read in the driver's forms (a time
// written by hand as CURRENT_TIMESTAMP does, say), or refused.
func TestTextTimeReadsAsTimeParse(t *testing.T) {
	for _, s := range []string{
		"2026-03-01 09:30:00+00:00", "2026-03-01 09:30:00.5+00:00", "2026-12-06 23:59:59.999999+00:00",
		"2026-12-06 23:59:59.123456789+00:00", "2024-02-29 00:00:00+00:00", "0001-01-01 00:00:00+00:00",
		"2026-03-01 09:30:00+02:00", "2026-03-01T09:30:00+00:00", "2026-02-31 09:30:00+00:00",
		"2026-13-01 09:30:00+00:00", "2026-03-01 24:00:00+00:00", "2026-03-01 09:30:00.+00:00",
		"2026-03-01 09:30:00.1234567890+00:00", "2026-03-01 09:3a:00+00:00", "2026-03-01", "",
		"2026-03-01 09:30:00", "2026-03-01T09:30:00Z", "2026-03-01 09:30", "1 March 2026",
	} {
		var want time.Time
		wantErr := errors.New("no layout")
		for _, layout := range textTimeLayouts {
			if want, wantErr = time.Parse(layout, strings.TrimSuffix(s, "Z")); wantErr == nil {
				break
			}
		}
		var got textTime
		err := got.Scan(s)
		if (err != nil) != (wantErr != nil) || err == nil && (!got.Valid || !got.Time.Equal(want) || got.Time.Location() != time.UTC) {
			t.Errorf("%q: %v, %v; time.Parse gives %v, %v", s, got.Time, err, want, wantErr)
		}
	}
	for _, s := range []string{"2026-03-01 09:30:00", "2026-03-01T09:30:00Z", "2026-03-01T09:30:00+00:00"} {
		var got textTime
		if err := got.Scan(s); err != nil || !got.Time.Equal(time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)) {
			t.Errorf("%q read as %v, %v", s, got.Time, err)
		}
	}
	var null textTime
	if err := null.Scan(nil); err != nil || null.Valid || null.ptr() != nil {
		t.Errorf("NULL: %+v, %v", null, err)
	}
}
