package orgs

import (
	"slices"
	"testing"
)

// storedValues are values as audit entries may hold them: what this
// package writes, and text it reads some other way (escapes, other
// types, malformed or not JSON at all, invalid UTF-8).
var storedValues = []string{
	``, `{}`, ` { } `, `null`, `[]`, `"text"`, `not json`, `{"n":1}`, `{"a":null}`, `{"a":true}`,
	`{"role":"viewer"}`, `{"role":"viewer","role":"admin"}`, `{"name":"Acme","slug":"acme"}`,
	`{"name":"with \"quote\""}`, `{"name":"caf\u00e9"}`, `{"name":"café"}`, `{"name":"a\nb"}`, "{\"name\":\"a\nb\"}",
	"{\"name\":\"a\tb\"}", "{\"name\":\"bad \xff byte\"}", `{"name":"\ud800"}`, `{"name":"\u003cb\u003e"}`,
	` { "b" : "2" , "a" : "1" } `, "\t{\"a\":\"1\"}\r\n", `{"a":"","b":"-"}`, `{"title":"=1+2","name":"x, y"}`,
	`{"some_field":"v","name":"N"}`, `{"":"empty key"}`, `{"a":"b"`, `{"a":"b"} x`, `{"a":"b",}`, `{"a" "b"}`,
	`{"a":"b"}}`, `{,}`, `{"\u0041":"k","A":"j"}`,
}

// The export's reader of changes gives what the audit page's decoding
// gives, for any pair of stored values, reusing its memory.
func TestChangeReaderReadsAsDecodeValues(t *testing.T) {
	var r changeReader
	for _, old := range storedValues {
		for _, new := range storedValues {
			want := changes(decodeValues(old), decodeValues(new))
			if got := r.read(old, new); !slices.Equal(got, want) {
				t.Errorf("read(%q, %q) = %q, want %q", old, new, got, want)
			}
		}
	}
	got := r.read(`{"name":"Old"}`, `{"name":"New","slug":"new"}`)
	want := []Change{{Field: "name", Label: "Name", Old: "Old", New: "New"}, {Field: "slug", Label: FieldLabel("slug"), New: "new"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func BenchmarkChangeReader(b *testing.B) {
	b.Run("reader", func(b *testing.B) {
		var r changeReader
		for b.Loop() {
			r.read(`{"role":"viewer"}`, `{"role":"admin"}`)
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			changes(decodeValues(`{"role":"viewer"}`), decodeValues(`{"role":"admin"}`))
		}
	})
}
