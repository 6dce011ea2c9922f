package web

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

func TestSessionCodecRoundTrip(t *testing.T) {
	deadline := time.Date(2026, 12, 7, 10, 30, 0, 123456789, time.UTC)
	for _, values := range []map[string]any{
		{},
		{sessionUserID: int64(42), sessionEpoch: int64(-7), sessionEnds: int64(1796000000)},
		{sessionFlash: "Saved: “Café” ✓", sessionOrganization: int64(1) << 62, "empty": ""},
	} {
		b, err := sessionCodec{}.Encode(deadline, values)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != compactSession {
			t.Fatalf("%v encoded with gob", values)
		}
		got, gotValues, err := sessionCodec{}.Decode(b)
		if err != nil {
			t.Fatalf("decode %v: %v", values, err)
		}
		if !got.Equal(deadline) || !reflect.DeepEqual(gotValues, values) {
			t.Errorf("decoded %v %v, want %v %v", got, gotValues, deadline, values)
		}
	}
}

// Sessions saved with gob before the compact form, and sessions holding
// values the compact form has no kind for, are read as they were written.
func TestSessionCodecReadsGob(t *testing.T) {
	deadline := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	for _, values := range []map[string]any{
		{sessionUserID: int64(42), sessionFlash: "Welcome back."},
		{"remember": true, sessionUserID: int64(42)},
	} {
		b, err := scs.GobCodec{}.Encode(deadline, values)
		if err != nil {
			t.Fatal(err)
		}
		got, gotValues, err := sessionCodec{}.Decode(b)
		if err != nil || !got.Equal(deadline) || !reflect.DeepEqual(gotValues, values) {
			t.Errorf("gob session decoded as %v %v %v, want %v %v", got, gotValues, err, deadline, values)
		}
	}
	b, err := sessionCodec{}.Encode(deadline, map[string]any{"remember": true})
	if err != nil {
		t.Fatal(err)
	}
	if _, values, err := (sessionCodec{}).Decode(b); err != nil || values["remember"] != true {
		t.Errorf("a bool value came back as %v, %v", values, err)
	}
}

func TestSessionCodecRefusesMalformedData(t *testing.T) {
	good, err := sessionCodec{}.Encode(time.Now(), map[string]any{sessionUserID: int64(42), sessionFlash: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"truncated":       good[:len(good)-2],
		"trailing bytes":  append(append([]byte{}, good...), 0),
		"unknown kind":    {compactSession, 0, 1, 1, 'k', 'x', 0},
		"huge count":      {compactSession, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge string":     {compactSession, 0, 1, 1, 'k', 's', 0xff, 0xff, 0x03},
		"only the marker": {compactSession},
	} {
		if _, _, err := (sessionCodec{}).Decode(b); !errors.Is(err, errBadSession) {
			t.Errorf("%s: got %v, want a malformed session error", name, err)
		}
	}
}

func FuzzSessionCodecDecode(f *testing.F) {
	good, _ := sessionCodec{}.Encode(time.Now(), map[string]any{sessionUserID: int64(42), sessionFlash: "hello"})
	f.Add(good)
	f.Add([]byte{compactSession, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != compactSession {
			return // gob's own
		}
		deadline, values, err := sessionCodec{}.Decode(b)
		if err != nil {
			return
		}
		again, err := sessionCodec{}.Encode(deadline, values)
		if err != nil {
			t.Fatal(err)
		}
		if _, back, err := (sessionCodec{}).Decode(again); err != nil || !reflect.DeepEqual(back, values) {
			t.Fatalf("re-encoded %v came back as %v, %v", values, back, err)
		}
	})
}
