package logo

import "github.com/mailschool/mailschool/internal/problem"

// MaxJPEGScans is how many scans a progressive JPEG may have. image/jpeg
// visits every block of a component in each scan of it, so a 4096x4096
// JPEG of a few tens of kilobytes can hold thousands of scans that each
// cost about as much as decoding the whole picture again. Encoders write
// about ten (libjpeg's progressive script has 10 for color, 6 for
// grayscale and 18 for CMYK); at 4096x4096, 32 scans cost about a third
// of a second more than 10 (BenchmarkProcessJPEG4096).
const MaxJPEGScans = 32

// jpegLayout is what the markers of a JPEG say about the work of decoding
// it.
type jpegLayout struct {
	progressive bool
	components  int // of the first frame header
	scans       int // start-of-scan segments
}

// JPEG markers the walk tells apart.
const (
	markerSOF0 = 0xc0 // baseline
	markerSOF1 = 0xc1 // extended sequential
	markerSOF2 = 0xc2 // progressive
	markerRST0 = 0xd0
	markerRST7 = 0xd7
	markerEOI  = 0xd9
	markerSOS  = 0xda
)

// readJPEGLayout walks the markers of data without decoding anything. It
// finds markers the way image/jpeg does, so it counts every scan the
// decoder would decode: after the start-of-image marker, bytes other than
// 0xFF are skipped (entropy-coded data after a scan header, or junk the
// decoder tolerates between segments); 0xFF followed by 0x00 is a stuffed
// data byte and 0xFF followed by RST0-RST7 a restart marker, neither with
// a length; a marker may follow any number of 0xFF fill bytes; every other
// marker but end-of-image has a two-byte length that includes itself, and
// its segment is skipped whole, so that marker-like bytes inside it do not
// count. The decoder reads nothing after end-of-image. Where the decoder
// would stop with an error (a short length, an unknown marker), the walk
// may count more than it would, never fewer.
func readJPEGLayout(data []byte) jpegLayout {
	var l jpegLayout
	i := 2 // past the start-of-image marker, which DecodeConfig has checked
	for i < len(data) {
		if data[i] != 0xff {
			i++
			continue
		}
		for i < len(data) && data[i] == 0xff {
			i++
		}
		if i == len(data) {
			break
		}
		marker := data[i]
		i++
		switch {
		case marker == 0x00, markerRST0 <= marker && marker <= markerRST7:
			continue
		case marker == markerEOI:
			return l
		}
		if i+2 > len(data) {
			break
		}
		length := int(data[i])<<8 | int(data[i+1])
		if length < 2 {
			break // image/jpeg refuses the segment and stops there
		}
		switch marker {
		case markerSOF0, markerSOF1, markerSOF2:
			// The component count follows precision, height and width.
			if l.components == 0 && length >= 8 && i+8 <= len(data) {
				l.progressive = marker == markerSOF2
				l.components = int(data[i+7])
			}
		case markerSOS:
			l.scans++
		}
		i += length
	}
	return l
}

// checkJPEGScans refuses a JPEG with more scans than its kind needs: a
// progressive one with more than MaxJPEGScans, a sequential one with more
// than one per component (image/jpeg would decode every extra scan of a
// component all over again).
func checkJPEGScans(data []byte) error {
	l := readJPEGLayout(data)
	allowed := MaxJPEGScans
	if !l.progressive {
		allowed = max(l.components, 1)
	}
	if l.scans <= allowed {
		return nil
	}
	return problem.Newf(problem.Invalid, "logo_too_many_scans",
		"This JPEG has too many scans: %d, where a logo may have at most %d. Save it again as a baseline (not progressive) JPEG, or as a PNG.",
		l.scans, allowed)
}
