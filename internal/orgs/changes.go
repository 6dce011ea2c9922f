package orgs

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// changeReader takes audit entries' values apart into changes, reusing
// its memory from one entry to the next: what an export of a long log
// does for every entry.
type changeReader struct {
	old, new []fieldValue
	changes  []Change
}

type fieldValue struct{ field, value string }

// read returns the changes between an entry's stored old and new values,
// as changes(decodeValues(old), decodeValues(new)) does. The slice is
// reused by the next call.
func (r *changeReader) read(old, new string) []Change {
	r.old = readValues(r.old[:0], old)
	r.new = readValues(r.new[:0], new)
	list := r.changes[:0]
	for _, fv := range r.old {
		list = append(list, Change{Field: fv.field, Old: fv.value})
	}
	for _, fv := range r.new {
		i := indexOfField(list, fv.field)
		if i < 0 {
			list = append(list, Change{Field: fv.field})
			i = len(list) - 1
		}
		list[i].New = fv.value
	}
	slices.SortFunc(list, func(a, b Change) int { return strings.Compare(a.Field, b.Field) })
	for i := range list {
		list[i].Label = FieldLabel(list[i].Field)
	}
	r.changes = list
	return list
}

func indexOfField(list []Change, field string) int {
	for i := range list {
		if list[i].Field == field {
			return i
		}
	}
	return -1
}

// readValues appends the fields of a stored value to dst, each once (the
// last one given wins, as in decodeValues). The values this package
// writes are flat JSON objects of strings, which it reads in place; any
// other text (escapes, other types, anything malformed) goes through
// decodeValues, which decides what it means.
func readValues(dst []fieldValue, s string) []fieldValue {
	if s == "" {
		return dst
	}
	if list, ok := readFlatObject(dst, s); ok {
		return list
	}
	dst = dst[:0]
	for f, v := range decodeValues(s) {
		dst = append(dst, fieldValue{f, v})
	}
	return dst
}

// readFlatObject reads a JSON object whose keys and values are strings
// without escapes, in valid UTF-8, into dst; it is not ok for any other
// text.
func readFlatObject(dst []fieldValue, s string) ([]fieldValue, bool) {
	if !utf8.ValidString(s) {
		return dst, false
	}
	i := skipSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		return dst, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return dst, skipSpace(s, i+1) == len(s)
	}
	for {
		field, next, ok := plainString(s, i)
		if !ok {
			return dst, false
		}
		i = skipSpace(s, next)
		if i == len(s) || s[i] != ':' {
			return dst, false
		}
		value, next, ok := plainString(s, skipSpace(s, i+1))
		if !ok {
			return dst, false
		}
		replaced := false
		for k := range dst {
			if dst[k].field == field {
				dst[k].value, replaced = value, true
			}
		}
		if !replaced {
			dst = append(dst, fieldValue{field, value})
		}
		i = skipSpace(s, next)
		if i == len(s) {
			return dst, false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return dst, skipSpace(s, i+1) == len(s)
		default:
			return dst, false
		}
	}
}

// plainString reads the JSON string at s[i:] if it has no escapes and no
// control characters, and returns its text and the index after it.
func plainString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
