package logo

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mailschool/mailschool/internal/problem"
)

// gradient returns a w x h image whose colors vary over the picture, with
// its left half fully transparent, so that both scaling and transparency
// show in the output.
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if x < w/2 {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x), G: uint8(y), B: uint8(x ^ y), A: a})
		}
	}
	return img
}

func encodePNGT(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEGT(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeGIFT(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chunk returns a PNG chunk with its length and CRC.
func chunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// pngHeader is the PNG signature followed by an IHDR chunk for an 8-bit
// RGBA image of w x h pixels.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // depth, color type RGBA, compression, filter, interlace
	return append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)...)
}

// bomb returns a PNG of a few hundred bytes that claims w x h pixels: one
// zlib-compressed row, then the end. Decoding it would allocate w*h*4 bytes
// before finding out the data is missing.
func bomb(w, h uint32) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 1+4*int(w))) // filter byte + one row
	zw.Close()
	b := pngHeader(w, h)
	b = append(b, chunk("IDAT", z.Bytes())...)
	return append(b, chunk("IEND", nil)...)
}

func wantProblem(t *testing.T, err error, kind problem.Kind, code string) {
	t.Helper()
	p, ok := problem.As(err)
	if !ok {
		t.Fatalf("err = %v (%T), want a *problem.Error %q", err, err, code)
	}
	if p.Kind != kind || p.Code != code {
		t.Fatalf("problem = kind %d code %q (%q), want kind %d code %q", p.Kind, p.Code, p.Message, kind, code)
	}
	if p.Message == "" || !strings.HasSuffix(p.Message, ".") {
		t.Errorf("message %q is not a sentence", p.Message)
	}
}

// decodeT decodes data and checks its format.
func decodeT(t *testing.T, data []byte, wantFormat string) image.Image {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	if format != wantFormat {
		t.Fatalf("output format = %s, want %s", format, wantFormat)
	}
	return img
}

func TestProcessFormats(t *testing.T) {
	src := gradient(400, 200)
	for _, tc := range []struct {
		name, wantType, wantFormat string
		upload                     []byte
	}{
		{"png", "image/png", "png", encodePNGT(t, src)},
		{"jpeg", "image/jpeg", "jpeg", encodeJPEGT(t, src)},
		{"gif", "image/png", "png", encodeGIFT(t, src)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Process(t.Context(), bytes.NewReader(tc.upload))
			if err != nil {
				t.Fatal(err)
			}
			if got.ContentType != tc.wantType || got.ThumbContentType != "image/png" {
				t.Errorf("content types = %s, %s; want %s, image/png", got.ContentType, got.ThumbContentType, tc.wantType)
			}
			if got.Width != 400 || got.Height != 200 {
				t.Errorf("size = %dx%d, want 400x200", got.Width, got.Height)
			}
			if b := decodeT(t, got.Data, tc.wantFormat).Bounds(); b != image.Rect(0, 0, 400, 200) {
				t.Errorf("output bounds = %v, want 400x200", b)
			}
			if b := decodeT(t, got.Thumb, "png").Bounds(); b != image.Rect(0, 0, 64, 32) {
				t.Errorf("thumbnail bounds = %v, want 64x32", b)
			}
			sum := sha256.Sum256(got.Data)
			if want := `"` + hex.EncodeToString(sum[:16]) + `"`; got.ETag != want {
				t.Errorf("ETag = %s, want %s", got.ETag, want)
			}
			sum = sha256.Sum256(got.Thumb)
			if want := `"` + hex.EncodeToString(sum[:16]) + `"`; got.ThumbETag != want {
				t.Errorf("ThumbETag = %s, want %s", got.ThumbETag, want)
			}
			// A strong ETag promises identical bytes: processing must be deterministic.
			again, err := Process(t.Context(), bytes.NewReader(tc.upload))
			if err != nil || again.ETag != got.ETag || again.ThumbETag != got.ThumbETag {
				t.Errorf("second run gave ETags %s, %s (err %v); want %s, %s", again.ETag, again.ThumbETag, err, got.ETag, got.ThumbETag)
			}
		})
	}
}

func TestProcessKeepsTransparency(t *testing.T) {
	got, err := Process(t.Context(), bytes.NewReader(encodePNGT(t, gradient(400, 200))))
	if err != nil {
		t.Fatal(err)
	}
	img := decodeT(t, got.Data, "png")
	if _, _, _, a := img.At(10, 10).RGBA(); a != 0 {
		t.Errorf("alpha at (10,10) = %d, want transparent", a)
	}
	if c := color.NRGBAModel.Convert(img.At(300, 20)).(color.NRGBA); c != (color.NRGBA{R: 300 % 256, G: 20, B: (300 ^ 20) % 256, A: 255}) {
		t.Errorf("pixel at (300,20) = %v, want unchanged and opaque", c)
	}
	thumb := decodeT(t, got.Thumb, "png")
	if _, _, _, a := thumb.At(2, 16).RGBA(); a != 0 {
		t.Errorf("thumbnail alpha at (2,16) = %d, want transparent", a)
	}
	if _, _, _, a := thumb.At(60, 16).RGBA(); a != 0xffff {
		t.Errorf("thumbnail alpha at (60,16) = %d, want opaque", a)
	}
}

func TestThumbnailSize(t *testing.T) {
	for _, tc := range []struct{ w, h, tw, th int }{
		{400, 200, 64, 32},
		{200, 400, 32, 64},
		{64, 64, 64, 64},
		{32, 16, 32, 16}, // never upscaled
		{1, 1, 1, 1},
		{MaxDimension, 1, 64, 1}, // the limit itself is allowed
	} {
		got, err := Process(t.Context(), bytes.NewReader(encodePNGT(t, gradient(tc.w, tc.h))))
		if err != nil {
			t.Fatalf("%dx%d: %v", tc.w, tc.h, err)
		}
		if b := decodeT(t, got.Thumb, "png").Bounds(); b.Dx() != tc.tw || b.Dy() != tc.th {
			t.Errorf("%dx%d: thumbnail is %dx%d, want %dx%d", tc.w, tc.h, b.Dx(), b.Dy(), tc.tw, tc.th)
		}
	}
}

// Process takes no file name, so a name can never make it trust bytes: the
// same PNG is accepted whatever the upload was called, read in any chunks.
func TestProcessDecidesByBytes(t *testing.T) {
	upload := encodePNGT(t, gradient(40, 20))
	got, err := Process(t.Context(), iotest.OneByteReader(bytes.NewReader(upload)))
	if err != nil {
		t.Fatal(err)
	}
	if got.ContentType != "image/png" || got.Width != 40 || got.Height != 20 {
		t.Errorf("got %s %dx%d, want image/png 40x20", got.ContentType, got.Width, got.Height)
	}
}

func TestProcessUnsupported(t *testing.T) {
	for name, upload := range map[string]string{
		"html": `<html><script>alert(1)</script></html>`,
		"svg":  `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)"><rect width="10" height="10"/></svg>`,
		"pdf":  "%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n",
		"text": "just a logo, honestly",
		"webp": "RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00\x30\x01\x00\x9d\x01\x2a\x01\x00\x01\x00\x02\x00\x34\x25\xa4\x00\x03\x70\x00\xfe\xfb\x94\x00\x00",
		"bmp":  "BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x18\x00",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Process(t.Context(), strings.NewReader(upload))
			wantProblem(t, err, problem.UnsupportedType, "logo_unsupported_type")
		})
	}
}

// Another package of the binary may register more formats with the image
// package (as golang.org/x/image/webp does); they stay refused.
func TestProcessRefusesOtherRegisteredFormats(t *testing.T) {
	image.RegisterFormat("mailschool-test", "MSTEST",
		func(io.Reader) (image.Image, error) { return image.NewNRGBA(image.Rect(0, 0, 1, 1)), nil },
		func(io.Reader) (image.Config, error) {
			return image.Config{ColorModel: color.NRGBAModel, Width: 1, Height: 1}, nil
		})
	if _, format, err := image.DecodeConfig(strings.NewReader("MSTEST")); err != nil || format != "mailschool-test" {
		t.Fatalf("test format not registered: %q, %v", format, err)
	}
	_, err := Process(t.Context(), strings.NewReader("MSTEST"))
	wantProblem(t, err, problem.UnsupportedType, "logo_unsupported_type")
}

func TestProcessEmpty(t *testing.T) {
	_, err := Process(t.Context(), strings.NewReader(""))
	wantProblem(t, err, problem.Invalid, "logo_empty")
}

func TestProcessCorrupt(t *testing.T) {
	// Noise makes the JPEG long enough that its first half holds the
	// header but not all the pixels.
	noise := image.NewNRGBA(image.Rect(0, 0, 128, 128))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(i * 7919 >> 3)
	}
	jpg := encodeJPEGT(t, noise)
	gf := encodeGIFT(t, noise)
	badCRC := encodePNGT(t, noise)
	badCRC[bytes.Index(badCRC, []byte("IDAT"))+20] ^= 0xff

	for name, upload := range map[string][]byte{
		"truncated jpeg": jpg[:len(jpg)/2],
		"truncated gif":  gf[:len(gf)/2],
		"png bad crc":    badCRC,
		"png no pixels":  append(pngHeader(10, 10), chunk("IEND", nil)...),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Process(t.Context(), bytes.NewReader(upload))
			wantProblem(t, err, problem.Invalid, "logo_corrupt")
		})
	}
}

func TestProcessRefusesDimensions(t *testing.T) {
	zeroGIF := encodeGIFT(t, gradient(4, 4))
	copy(zeroGIF[6:10], []byte{0, 0, 0, 0}) // logical screen 0x0

	for name, upload := range map[string][]byte{
		"20000x20000": bomb(20000, 20000),
		"4097x1":      bomb(MaxDimension+1, 1),
		"1x4097":      bomb(1, MaxDimension+1),
		"gif 0x0":     zeroGIF,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Process(t.Context(), bytes.NewReader(upload))
			wantProblem(t, err, problem.Invalid, "logo_too_big_dimensions")
			if p, _ := problem.As(err); !strings.Contains(p.Message, "4096x4096") {
				t.Errorf("message %q does not state the limit", p.Message)
			}
		})
	}
}

// A 20000x20000 RGBA image would take 1.6 GB; the bomb must be refused from
// its header alone.
func TestProcessBombDoesNotAllocatePixels(t *testing.T) {
	upload := bomb(20000, 20000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Process(t.Context(), bytes.NewReader(upload))
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("Process allocated %d bytes for the bomb, want < 4 MiB", n)
	}
	wantProblem(t, err, problem.Invalid, "logo_too_big_dimensions")
}

// endless is an upload that never ends: a PNG signature and then zeros.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0
		if e.n+int64(i) < 8 {
			p[i] = "\x89PNG\r\n\x1a\n"[e.n+int64(i)]
		}
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestProcessTooLarge(t *testing.T) {
	pngStart := append(encodePNGT(t, gradient(8, 8)), make([]byte, 3<<20)...)
	for name, upload := range map[string][]byte{
		"3 MiB of zeros":      make([]byte, 3<<20),
		"valid png then more": pngStart,
		"one byte over":       make([]byte, MaxBytes+1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Process(t.Context(), bytes.NewReader(upload))
			wantProblem(t, err, problem.TooLarge, "logo_too_large")
		})
	}

	t.Run("endless stream", func(t *testing.T) {
		r := &endless{}
		_, err := Process(t.Context(), r)
		wantProblem(t, err, problem.TooLarge, "logo_too_large")
		if r.n > MaxBytes+1 {
			t.Errorf("read %d bytes, want at most %d", r.n, MaxBytes+1)
		}
	})
}

func TestProcessAnimatedGIF(t *testing.T) {
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	pal := color.Palette{color.Transparent, red, blue}
	frame := func(r image.Rectangle, c color.Color) *image.Paletted {
		f := image.NewPaletted(r, pal)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				f.Set(x, y, c)
			}
		}
		return f
	}
	encode := func(frames ...*image.Paletted) []byte {
		var buf bytes.Buffer
		err := gif.EncodeAll(&buf, &gif.GIF{
			Image:  frames,
			Delay:  make([]int, len(frames)),
			Config: image.Config{ColorModel: pal, Width: 20, Height: 10},
		})
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	full := image.Rect(0, 0, 20, 10)

	t.Run("first frame", func(t *testing.T) {
		got, err := Process(t.Context(), bytes.NewReader(encode(frame(full, red), frame(full, blue))))
		if err != nil {
			t.Fatal(err)
		}
		img := decodeT(t, got.Data, "png")
		if c := color.RGBAModel.Convert(img.At(5, 5)); c != red {
			t.Errorf("pixel = %v, want red of the first frame", c)
		}
	})

	// A first frame covering part of the picture lies on a transparent
	// canvas of the picture's size, as browsers show it.
	t.Run("partial first frame", func(t *testing.T) {
		got, err := Process(t.Context(), bytes.NewReader(encode(frame(image.Rect(5, 0, 10, 5), red), frame(full, blue))))
		if err != nil {
			t.Fatal(err)
		}
		img := decodeT(t, got.Data, "png")
		if img.Bounds() != full || got.Width != 20 || got.Height != 10 {
			t.Fatalf("bounds = %v, size %dx%d; want %v", img.Bounds(), got.Width, got.Height, full)
		}
		if c := color.RGBAModel.Convert(img.At(6, 1)); c != red {
			t.Errorf("pixel in frame = %v, want red", c)
		}
		if _, _, _, a := img.At(0, 9).RGBA(); a != 0 {
			t.Errorf("pixel outside frame has alpha %d, want transparent", a)
		}
	})
}

// Only pixels survive: bytes after the image and metadata the format
// allows (PNG text chunks, JPEG comments) are not served back.
func TestProcessStripsForeignBytes(t *testing.T) {
	const junk = "<script>alert(1)</script>"
	img := gradient(40, 20)
	p := encodePNGT(t, img)
	withText := append(bytes.Clone(p[:33]), chunk("tEXt", []byte("Comment\x00"+junk))...) // after the IHDR
	withText = append(withText, p[33:]...)
	j := encodeJPEGT(t, img)
	withComment := append([]byte{0xff, 0xd8, 0xff, 0xfe, 0, byte(2 + len(junk))}, junk...) // SOI, COM
	withComment = append(withComment, j[2:]...)

	for name, upload := range map[string][]byte{
		"png trailing":  append(p, junk...),
		"png text":      withText,
		"jpeg trailing": append(j, junk...),
		"jpeg comment":  withComment,
		"gif trailing":  append(encodeGIFT(t, img), junk...),
	} {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(upload, []byte(junk)) {
				t.Fatal("test upload lacks the junk")
			}
			got, err := Process(t.Context(), bytes.NewReader(upload))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(got.Data, []byte("script")) || bytes.Contains(got.Thumb, []byte("script")) {
				t.Error("output contains the junk")
			}
		})
	}
}

func BenchmarkProcess(b *testing.B) {
	upload := encodePNGT(b, gradient(1024, 1024))
	b.SetBytes(int64(len(upload)))
	for b.Loop() {
		if _, err := Process(b.Context(), bytes.NewReader(upload)); err != nil {
			b.Fatal(err)
		}
	}
}

// A decode slot is taken only once the upload is read: uploads that are
// still arriving, as many as there are slots, hold up no other logo.
func TestProcessHoldsNoSlotWhileReading(t *testing.T) {
	begun := encodePNGT(t, gradient(8, 8))[:20]
	var writers []*io.PipeWriter
	done := make(chan error, cap(decodeSlots))
	for range cap(decodeSlots) {
		r, w := io.Pipe()
		writers = append(writers, w)
		go w.Write(begun) // the upload has begun, and stalls
		go func() {
			_, err := Process(t.Context(), r)
			done <- err
		}()
	}
	defer func() {
		for _, w := range writers {
			w.CloseWithError(io.ErrUnexpectedEOF)
		}
		for range writers {
			<-done
		}
	}()

	processed := make(chan error, 1)
	go func() {
		_, err := Process(t.Context(), bytes.NewReader(encodePNGT(t, gradient(40, 20))))
		processed <- err
	}()
	select {
	case err := <-processed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a logo waited for uploads that were still arriving")
	}
}

// A logo that waits for a slot gives up when its request ends.
func TestProcessStopsWaitingWhenCanceled(t *testing.T) {
	for range cap(decodeSlots) {
		decodeSlots <- struct{}{}
	}
	defer func() {
		for range cap(decodeSlots) {
			<-decodeSlots
		}
	}()
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := Process(ctx, bytes.NewReader(encodePNGT(t, gradient(8, 8))))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, isProblem := problem.As(err); isProblem {
		t.Error("a canceled request is reported as a problem with the logo")
	}
}
