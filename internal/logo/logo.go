// Package logo turns an uploaded organization logo into safe images to serve
// back: the upload is size-limited, recognized by its bytes (never by a file
// name, which callers do not pass), checked for sane dimensions (and, for a
// JPEG, a sane number of scans) before any pixel is decoded, and re-encoded,
// so that nothing of the upload but its pixels reaches a browser or an
// email: no metadata, no extra chunks, no bytes appended after the image.
//
// Only JPG, PNG and GIF are accepted; SVG is refused because it is a
// document that can carry scripts. JPEG uploads stay JPEG (photos compress
// badly as PNG); PNG and GIF become PNG, keeping transparency. An animated
// GIF becomes its first frame: logos sit still in tables and emails.
package logo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"

	"github.com/mailschool/mailschool/internal/problem"
)

// Limits.
const (
	MaxBytes     = 2 << 20 // 2 MiB upload
	MaxDimension = 4096    // pixels, each side
	ThumbSize    = 64      // thumbnail fits in 64x64 for the organizations table
)

// jpegQuality keeps re-encoded photos visually unchanged at a reasonable size.
const jpegQuality = 90

// Image is a processed logo: re-encoded bytes that contain nothing of the
// upload but its pixels.
type Image struct {
	Data             []byte // PNG, or JPEG for JPEG uploads
	ContentType      string // "image/png" or "image/jpeg"
	Width, Height    int
	Thumb            []byte // PNG thumbnail, aspect ratio kept, fits in ThumbSize x ThumbSize (never upscaled)
	ThumbContentType string // "image/png"
	ETag             string // strong ETag of Data, quoted: "\"<hex of sha256[:16]>\""
	ThumbETag        string // strong ETag of Thumb
}

// decoders are the accepted formats, by the name image.DecodeConfig gives.
// Checking the name, and decoding with the format's own package, keeps the
// list closed even if another package of the binary registers more formats
// (WebP, BMP, ...) with the image package.
var decoders = map[string]func(io.Reader) (image.Image, error){
	"jpeg": jpeg.Decode,
	"png":  png.Decode,
	"gif":  gif.Decode, // the first frame only
}

// decodeSlots bounds the logos decoded and re-encoded at once, on this
// node: a 4096x4096 image takes over 100 MiB and one or two seconds of a
// core. A slot is taken only once the upload is read whole and its
// header checked, so a slow or refused upload never holds one.
var decodeSlots = make(chan struct{}, 2)

// Process validates and re-encodes an upload read from r. It returns a
// *problem.Error when the upload is refused, and a plain error when r
// itself fails or ctx ends while the logo waits for a decode slot.
func Process(ctx context.Context, r io.Reader) (Image, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return Image{}, fmt.Errorf("read logo: %w", err)
	}
	switch {
	case len(data) > MaxBytes:
		return Image{}, problem.New(problem.TooLarge, "logo_too_large", "The logo is larger than 2 MiB.")
	case len(data) == 0:
		return Image{}, problem.New(problem.Invalid, "logo_empty", "The logo file is empty.")
	}

	// The header alone gives format and size, so that a small file claiming
	// huge dimensions (a decompression bomb) is refused before its pixels
	// are allocated.
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	decode, known := decoders[format]
	switch {
	case errors.Is(err, image.ErrFormat) || (err == nil && !known):
		return Image{}, problem.New(problem.UnsupportedType, "logo_unsupported_type", "The logo must be a JPG, PNG or GIF image.")
	case err != nil:
		return Image{}, corrupt()
	case cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxDimension || cfg.Height > MaxDimension:
		return Image{}, problem.Newf(problem.Invalid, "logo_too_big_dimensions",
			"The logo must be at most %dx%d pixels; this one is %dx%d.", MaxDimension, MaxDimension, cfg.Width, cfg.Height)
	}
	if format == "jpeg" {
		if err := checkJPEGScans(data); err != nil {
			return Image{}, err
		}
	}

	select {
	case decodeSlots <- struct{}{}:
		defer func() { <-decodeSlots }()
	case <-ctx.Done():
		return Image{}, fmt.Errorf("wait to decode logo: %w", ctx.Err())
	}
	return reencode(data, decode, format, cfg)
}

// reencode decodes data and encodes it again, with a thumbnail.
func reencode(data []byte, decode func(io.Reader) (image.Image, error), format string, cfg image.Config) (Image, error) {
	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return Image{}, corrupt()
	}
	img = onCanvas(img, cfg.Width, cfg.Height)

	var out Image
	if format == "jpeg" {
		out.Data, err = encodeJPEG(img)
		out.ContentType = "image/jpeg"
	} else {
		out.Data, err = encodePNG(img)
		out.ContentType = "image/png"
	}
	if err != nil {
		return Image{}, err
	}
	if out.Thumb, err = encodePNG(thumbnail(img)); err != nil {
		return Image{}, err
	}
	out.Width, out.Height = cfg.Width, cfg.Height
	out.ThumbContentType = "image/png"
	out.ETag, out.ThumbETag = etag(out.Data), etag(out.Thumb)
	return out, nil
}

// corrupt is made per call: a *problem.Error is mutable, so it is not shared.
func corrupt() error {
	return problem.New(problem.Invalid, "logo_corrupt", "The logo could not be read: the file is damaged or incomplete.")
}

// onCanvas returns img with bounds (0,0)-(w,h). A GIF frame may be smaller
// than the picture and placed anywhere in it; browsers show it over a
// transparent canvas of the picture's size, and so do we.
func onCanvas(img image.Image, w, h int) image.Image {
	canvas := image.Rect(0, 0, w, h)
	if img.Bounds() == canvas {
		return img
	}
	dst := image.NewNRGBA(canvas)
	draw.Draw(dst, img.Bounds(), img, img.Bounds().Min, draw.Src)
	return dst
}

// thumbnail returns img scaled down to fit in ThumbSize x ThumbSize, keeping
// its aspect ratio; a smaller image is returned as it is, since upscaling
// only blurs it.
func thumbnail(img image.Image) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= ThumbSize && h <= ThumbSize {
		return img
	}
	tw, th := ThumbSize, ThumbSize
	if w >= h {
		th = max(1, (h*ThumbSize+w/2)/w)
	} else {
		tw = max(1, (w*ThumbSize+h/2)/h)
	}
	// RGBA is premultiplied, so filtering does not bleed the color of
	// transparent pixels into the edges.
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	// BestCompression costs several times the CPU for a few percent.
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode logo as PNG: %w", err)
	}
	return buf.Bytes(), nil
}

func encodeJPEG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("encode logo as JPEG: %w", err)
	}
	return buf.Bytes(), nil
}

// etag returns a strong ETag for data: the bytes are fixed once processed,
// so half a SHA-256 identifies them well enough.
func etag(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}
