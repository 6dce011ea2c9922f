package logo

import (
	"encoding/binary"
)

// This file writes JPEGs by hand, with the smallest Huffman tables that do
// the job, to make the uploads image/jpeg cannot: progressive ones and ones
// with more scans than any encoder writes. Every image is flat gray.

// bitWriter writes entropy-coded data, stuffing a 0x00 after each 0xFF.
type bitWriter struct {
	buf  []byte
	acc  byte
	nacc uint
}

func (w *bitWriter) write(bits uint32, n uint) {
	for i := n; i > 0; i-- {
		w.acc = w.acc<<1 | byte(bits>>(i-1)&1)
		w.nacc++
		if w.nacc == 8 {
			w.buf = append(w.buf, w.acc)
			if w.acc == 0xff {
				w.buf = append(w.buf, 0x00)
			}
			w.acc, w.nacc = 0, 0
		}
	}
}

// flush pads the last byte with 1 bits, as the standard asks.
func (w *bitWriter) flush() []byte {
	for w.nacc != 0 {
		w.write(1, 1)
	}
	b := w.buf
	w.buf = nil
	return b
}

func segment(marker byte, payload ...byte) []byte {
	b := []byte{0xff, marker}
	b = binary.BigEndian.AppendUint16(b, uint16(2+len(payload)))
	return append(b, payload...)
}

// jpegStart returns SOI, a quantization table of ones, the frame header
// (sof is 0xC0 for baseline, 0xC2 for progressive) of a w x h image with
// comps components (1, 3 or 4, CMYK; ids 1, 2, ...; none subsampled), and
// two Huffman tables:
//   - DC table 0: one code, "0", for a difference of 0;
//   - AC table 0: "0" for EOB, then the 5-bit codes 10000, 10001, ... for
//     the end-of-band runs EOB1..EOB14 (symbols 0x10..0xE0).
func jpegStart(sof byte, w, h, comps int) []byte {
	b := []byte{0xff, 0xd8}
	dqt := append([]byte{0x00}, make([]byte, 64)...)
	for i := 1; i < len(dqt); i++ {
		dqt[i] = 1
	}
	b = append(b, segment(0xdb, dqt...)...)
	frame := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(comps)}
	for c := range comps {
		frame = append(frame, byte(c+1), 0x11, 0)
	}
	b = append(b, segment(sof, frame...)...)
	if comps == 4 {
		b = append(b, segment(0xee, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0)...) // CMYK
	}
	dc := make([]byte, 17)
	dc[0], dc[1] = 0x00, 1 // class DC, table 0; one code of length 1
	dc = append(dc, 0x00)
	b = append(b, segment(0xc4, dc...)...)
	ac := make([]byte, 17)
	ac[0], ac[1], ac[5] = 0x10, 1, 14 // class AC, table 0; one code of length 1, 14 of length 5
	ac = append(ac, 0x00)
	for r := byte(1); r <= 14; r++ {
		ac = append(ac, r<<4)
	}
	return append(b, segment(0xc4, ac...)...)
}

// sos returns the header of a scan of the given components (ids from 1),
// with tables 0.
func sos(ss, se, ahal byte, comps ...byte) []byte {
	b := []byte{byte(len(comps))}
	for _, c := range comps {
		b = append(b, c, 0x00)
	}
	return segment(0xda, append(b, ss, se, ahal)...)
}

// endOfBands writes EOB runs that cover n blocks.
func endOfBands(w *bitWriter, n int) {
	for n > 0 {
		run := min(n, 0x7fff)
		r := uint(0)
		for 1<<(r+1) <= run {
			r++
		}
		if r == 0 {
			w.write(0, 1) // EOB
		} else {
			w.write(0b10000+uint32(r-1), 5)
			w.write(uint32(run-1<<r), r)
		}
		n -= run
	}
}

func blocks(w, h int) int { return ((w + 7) / 8) * ((h + 7) / 8) }

// progressiveJPEG returns a w x h progressive JPEG of comps components
// with the given number of scans: one DC scan of all components, then AC
// scans of each component in turn, refinement scans once every component
// has had its first. A refinement of all-zero blocks is about the most work
// per byte for image/jpeg, which visits every block of a scan's component.
func progressiveJPEG(w, h, comps, scans int) []byte {
	b := jpegStart(0xc2, w, h, comps)
	var bw bitWriter
	all := make([]byte, comps)
	for c := range all {
		all[c] = byte(c + 1)
	}
	b = append(b, sos(0, 0, 0x00, all...)...)
	for range blocks(w, h) * comps {
		bw.write(0, 1) // DC difference 0
	}
	b = append(b, bw.flush()...)
	for i := range scans - 1 {
		c := byte(i%comps + 1)
		if i < comps {
			b = append(b, sos(1, 63, 0x01, c)...) // first AC scan, point transform 1
		} else {
			b = append(b, sos(1, 63, 0x10, c)...) // refinement of bit 0
		}
		endOfBands(&bw, blocks(w, h))
		b = append(b, bw.flush()...)
	}
	return append(b, 0xff, 0xd9)
}

// sequentialJPEG returns a w x h baseline JPEG of one component that
// repeats its scan: each scan decodes every block again.
func sequentialJPEG(w, h, scans int) []byte {
	b := jpegStart(0xc0, w, h, 1)
	var bw bitWriter
	for range scans {
		b = append(b, sos(0, 63, 0x00, 1)...)
		for range blocks(w, h) {
			bw.write(0, 1) // DC difference 0
			bw.write(0, 1) // EOB
		}
		b = append(b, bw.flush()...)
	}
	return append(b, 0xff, 0xd9)
}
