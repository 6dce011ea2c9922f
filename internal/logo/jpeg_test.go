package logo

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/problem"
)

// readTestdata returns a file of testdata. The JPEGs there were written by
// libjpeg-turbo's cjpeg: two progressive ones of 10 scans, with Huffman
// tables between the scans as libjpeg writes them, and two with a restart
// marker after every MCU (image/jpeg does not decode the progressive one:
// in scans of one component it counts restart intervals in MCUs of all
// components).
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadJPEGLayout(t *testing.T) {
	// A scan of an 8x8 image: one EOB-free block, in bytes that include a
	// stuffed 0xFF, a restart marker and an SOS value that is data.
	start := jpegStart(markerSOF2, 8, 8, 1)
	scan := append(sos(0, 0, 0x00, 1), 0x00)
	eoi := []byte{0xff, markerEOI}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	for _, tc := range []struct {
		name        string
		data        []byte
		progressive bool
		components  int
		scans       int
	}{
		{"image/jpeg baseline", encodeJPEGT(t, gradient(40, 20)), false, 3, 1},
		{"cjpeg progressive", readTestdata(t, "progressive.jpg"), true, 3, 10},
		{"cjpeg progressive with restarts", readTestdata(t, "progressive-restarts.jpg"), true, 3, 10},
		{"cjpeg baseline with restarts", readTestdata(t, "baseline-restarts.jpg"), false, 3, 1},
		{"hand-made progressive", progressiveJPEG(64, 48, 3, 12), true, 3, 12},
		{"hand-made sequential", sequentialJPEG(64, 48, 5), false, 1, 5},
		// The decoder skips what is inside a segment and after the end.
		{"scan marker inside a comment", join(start, segment(0xfe, 0xff, markerSOS, 0, 8), scan, eoi), true, 1, 1},
		{"scan after the end", join(start, scan, eoi, scan), true, 1, 1},
		// It finds markers after fill bytes, junk and entropy-coded data.
		{"fill bytes", join(start, scan, []byte{0xff, 0xff, 0xff}, scan, eoi), true, 1, 2},
		{"junk between segments", join(start, []byte("junk"), scan, []byte{1, 2, 3}, scan, eoi), true, 1, 2},
		{"stuffed 0xFF and restart in data", join(start, scan, []byte{0xff, 0x00, markerSOS, 0xff, markerRST0 + 3, markerSOS}, scan, eoi), true, 1, 2},
		// Without an end, the decoder decodes every scan before it fails.
		{"no end", join(start, scan, scan, scan), true, 1, 3},
		{"truncated length", join(start, scan, []byte{0xff, markerSOS, 0x00}), true, 1, 1},
		{"short length", join(start, scan, []byte{0xff, 0xfe, 0x00, 0x01}, scan), true, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readJPEGLayout(tc.data)
			want := jpegLayout{progressive: tc.progressive, components: tc.components, scans: tc.scans}
			if got != want {
				t.Errorf("layout = %+v, want %+v", got, want)
			}
		})
	}
}

// The hand-made JPEGs are ones image/jpeg decodes, scan after scan: the
// scan bombs below are real.
func TestHandMadeJPEGsDecode(t *testing.T) {
	for name, data := range map[string][]byte{
		"progressive gray":  progressiveJPEG(64, 48, 1, 40),
		"progressive YCbCr": progressiveJPEG(64, 48, 3, 40),
		"progressive CMYK":  progressiveJPEG(64, 48, 4, 40),
		"sequential":        sequentialJPEG(64, 48, 3),
	} {
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if img.Bounds() != image.Rect(0, 0, 64, 48) {
			t.Errorf("%s: bounds %v", name, img.Bounds())
		}
	}
}

func TestProcessJPEGScanLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"cjpeg progressive", readTestdata(t, "progressive.jpg"), true},
		{"cjpeg baseline with restarts", readTestdata(t, "baseline-restarts.jpg"), true},
		{"progressive at the limit", progressiveJPEG(64, 48, 3, MaxJPEGScans), true},
		{"progressive over the limit", progressiveJPEG(64, 48, 3, MaxJPEGScans+1), false},
		{"sequential, one scan", sequentialJPEG(64, 48, 1), true},
		{"sequential, a component twice", sequentialJPEG(64, 48, 2), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Process(t.Context(), bytes.NewReader(tc.data))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantProblem(t, err, problem.Invalid, "logo_too_many_scans")
			if p, _ := problem.As(err); !strings.HasPrefix(p.Message, "This JPEG has too many scans") {
				t.Errorf("message = %q", p.Message)
			}
		})
	}
}

// scanBomb is a 4096x4096 progressive JPEG of about size bytes, nearly
// all of it scans that refine every block once more: decoding it whole
// takes minutes of a core.
func scanBomb(size int) []byte {
	one := progressiveJPEG(4096, 4096, 1, 3)
	two := progressiveJPEG(4096, 4096, 1, 4)
	perScan := len(two) - len(one)
	return progressiveJPEG(4096, 4096, 1, 3+(size-len(one))/perScan)
}

// A scan bomb is refused from its markers: nothing is decoded, which
// would allocate over 80 MiB for 4096x4096 pixels.
func TestProcessRefusesScanBombBeforeDecoding(t *testing.T) {
	upload := scanBomb(MaxBytes)
	if len(upload) > MaxBytes || len(upload) < MaxBytes*9/10 {
		t.Fatalf("bomb is %d bytes, want just under %d", len(upload), MaxBytes)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Process(t.Context(), bytes.NewReader(upload))
	runtime.ReadMemStats(&after)
	wantProblem(t, err, problem.Invalid, "logo_too_many_scans")
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("Process allocated %d bytes for the bomb, want < 16 MiB", n)
	}
}

// BenchmarkProcessJPEG4096 measures what the largest JPEGs cost: an
// ordinary one, the worst progressive ones the scan limit lets through
// (every scan after the first two refines all the blocks of a component),
// the same with as few scans as encoders write, and a refused scan bomb.
func BenchmarkProcessJPEG4096(b *testing.B) {
	var baseline bytes.Buffer
	if err := jpeg.Encode(&baseline, gradient(MaxDimension, MaxDimension), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		upload []byte
	}{
		{"baseline", baseline.Bytes()},
		{"progressive gray, 10 scans", progressiveJPEG(MaxDimension, MaxDimension, 1, 10)},
		{"progressive gray, at the scan limit", progressiveJPEG(MaxDimension, MaxDimension, 1, MaxJPEGScans)},
		{"progressive YCbCr, 10 scans", progressiveJPEG(MaxDimension, MaxDimension, 3, 10)},
		{"progressive YCbCr, at the scan limit", progressiveJPEG(MaxDimension, MaxDimension, 3, MaxJPEGScans)},
		{"progressive CMYK, 10 scans", progressiveJPEG(MaxDimension, MaxDimension, 4, 10)},
		{"progressive CMYK, at the scan limit", progressiveJPEG(MaxDimension, MaxDimension, 4, MaxJPEGScans)},
		{"scan bomb, refused", scanBomb(MaxBytes)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.upload)))
			for b.Loop() {
				_, err := Process(b.Context(), bytes.NewReader(bc.upload))
				if p, _ := problem.As(err); err != nil && !(p != nil && p.Code == "logo_too_many_scans") {
					b.Fatal(err)
				}
			}
		})
	}
}
