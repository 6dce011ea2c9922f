package web

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/scs/v2"
)

// sessionCodec encodes sessions for the store. Every logged-in request
// decodes its session, and scs's gob encoding cost more than the rest of
// the session's handling (about 40 µs and 60 allocations a request, most
// of it gob building its type information again for each decoder). The
// values kept in a session are numbers and strings, which this codec
// writes in a compact form of its own:
//
//	0x00 deadline(varint Unix ns) count(uvarint) { key value }
//
// where a key is uvarint length and bytes, and a value a kind byte ('i':
// varint int64, 's': uvarint length and bytes). A session holding any
// other type is written with gob, and sessions saved with gob (which never
// begins with a zero byte: its first byte is a message's nonzero length)
// are still read.
type sessionCodec struct{}

const compactSession = 0x00

func (sessionCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	b := make([]byte, 0, 64)
	b = append(b, compactSession)
	b = binary.AppendVarint(b, deadline.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(values)))
	for k, v := range values {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		switch v := v.(type) {
		case int64:
			b = append(b, 'i')
			b = binary.AppendVarint(b, v)
		case string:
			b = append(b, 's')
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		default:
			return scs.GobCodec{}.Encode(deadline, values)
		}
	}
	return b, nil
}

// errBadSession is the error of session data that cannot be read.
var errBadSession = errors.New("malformed session data")

func (sessionCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	if len(b) == 0 || b[0] != compactSession {
		deadline, values, err := scs.GobCodec{}.Decode(b)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("decode session: %w: %w", errBadSession, err)
		}
		return deadline, values, nil
	}
	r := sessionReader{b: b[1:]}
	deadline := time.Unix(0, r.varint())
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		return time.Time{}, nil, fmt.Errorf("decode session: %w", errBadSession)
	}
	values := make(map[string]any, n)
	for range n {
		key := r.string()
		switch r.byte() {
		case 'i':
			values[key] = r.varint()
		case 's':
			values[key] = r.string()
		default:
			r.err = errBadSession
		}
		if r.err != nil {
			return time.Time{}, nil, fmt.Errorf("decode session: %w", r.err)
		}
	}
	if len(r.b) != 0 {
		return time.Time{}, nil, fmt.Errorf("decode session: %w", errBadSession)
	}
	return deadline, values, nil
}

// sessionReader reads a compact session, remembering the first error.
type sessionReader struct {
	b   []byte
	err error
}

func (r *sessionReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *sessionReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *sessionReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *sessionReader) string() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *sessionReader) fail() {
	if r.err == nil {
		r.err = errBadSession
	}
}
