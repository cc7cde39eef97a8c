// Package qr draws QR codes as PNG images and as Unicode half blocks in a
// terminal, animates a sequence of frames, and reads QR codes back from PNG
// and JPEG images.
//
// Content is a byte string. Text made only of the QR alphanumeric characters
// (digits, uppercase A-Z, space and $%*+-./:), such as an uppercase UR, is
// encoded in alphanumeric mode, 5.5 bits a character; anything else, binary
// included, in byte mode. Decoding maps byte-mode data one byte to one
// character (ISO-8859-1), so binary payloads round-trip unchanged.
package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	qrcode "github.com/skip2/go-qrcode"
)

// Level is the QR error-correction level; the zero value is L.
type Level int

// Error-correction levels, recovering about 7%, 15%, 25% and 30% of the
// symbol. L gives the most capacity for a frame shown on a screen.
const (
	LevelL Level = iota
	LevelM
	LevelQ
	LevelH
)

// DefaultModuleSize is the width in pixels of one module in EncodePNG: a
// version 12 symbol (about 200 bytes of UR fragment) is then 584 pixels wide
// with its quiet zone.
const DefaultModuleSize = 8

// QuietZone is the margin, in modules, around every symbol EncodePNG draws.
const QuietZone = 4

// Options tune EncodePNG; the zero value is level L, DefaultModuleSize and the
// smallest version that fits.
type Options struct {
	Level      Level
	ModuleSize int // pixels per module; 0 means DefaultModuleSize
	Version    int // 1-40 forces a version; 0 picks the smallest that fits
}

func (l Level) lib() (qrcode.RecoveryLevel, error) {
	switch l {
	case LevelL:
		return qrcode.Low, nil
	case LevelM:
		return qrcode.Medium, nil
	case LevelQ:
		return qrcode.High, nil
	case LevelH:
		return qrcode.Highest, nil
	}
	return 0, fmt.Errorf("%w: level %d", ErrOptions, int(l))
}

// symbol returns the module matrix of content without quiet zone, and its
// version.
func symbol(content string, level Level, version int) ([][]bool, int, error) {
	lvl, err := level.lib()
	if err != nil {
		return nil, 0, err
	}
	if version < 0 || version > 40 {
		return nil, 0, fmt.Errorf("%w: version %d", ErrOptions, version)
	}
	var q *qrcode.QRCode
	if version == 0 {
		q, err = qrcode.New(content, lvl)
	} else {
		q, err = qrcode.NewWithForcedVersion(content, version, lvl)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %d bytes at level %d: %v", ErrTooLong, len(content), int(level), err)
	}
	q.DisableBorder = true
	return q.Bitmap(), q.VersionNumber, nil
}

// Version returns the smallest QR version (1-40) that holds content at level.
func Version(content string, level Level) (int, error) {
	_, v, err := symbol(content, level, 0)
	return v, err
}

// EncodeImage draws content as a black-on-white QR code with a quiet zone of
// QuietZone modules.
func EncodeImage(content string, opts Options) (*image.Gray, error) {
	ms := opts.ModuleSize
	if ms == 0 {
		ms = DefaultModuleSize
	}
	if ms < 1 || ms > 100 {
		return nil, fmt.Errorf("%w: module size %d", ErrOptions, ms)
	}
	bm, _, err := symbol(content, opts.Level, opts.Version)
	if err != nil {
		return nil, err
	}
	n := len(bm) + 2*QuietZone
	img := image.NewGray(image.Rect(0, 0, n*ms, n*ms))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			px, py := (x+QuietZone)*ms, (y+QuietZone)*ms
			for dy := 0; dy < ms; dy++ {
				off := img.PixOffset(px, py+dy)
				clear(img.Pix[off : off+ms])
			}
		}
	}
	return img, nil
}

// EncodePNG returns content as a PNG QR code (see EncodeImage).
func EncodePNG(content string, opts Options) ([]byte, error) {
	img, err := EncodeImage(content, opts)
	if err != nil {
		return nil, err
	}
	return encodePNG(img)
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// ContactSheet lays out frames (PNG or JPEG images) in a grid of cols
// columns, in order left to right, top to bottom, and returns it as one PNG.
// Cells are as large as the largest frame and separated by a thin grey line.
func ContactSheet(frames [][]byte, cols int) ([]byte, error) {
	imgs := make([]image.Image, len(frames))
	for i, f := range frames {
		img, _, err := image.Decode(bytes.NewReader(f))
		if err != nil {
			return nil, fmt.Errorf("%w: frame %d: %v", ErrImage, i+1, err)
		}
		imgs[i] = img
	}
	return ContactSheetImages(imgs, cols)
}

// PNG encodes an image (such as EncodeImage's) as PNG.
func PNG(img image.Image) ([]byte, error) { return encodePNG(img) }

// ContactSheetImages is ContactSheet of images already decoded (or just
// drawn): WriteQR lays out the frames it drew without reading them back.
func ContactSheetImages(imgs []image.Image, cols int) ([]byte, error) {
	if len(imgs) == 0 {
		return nil, ErrNoFrames
	}
	if cols < 1 {
		return nil, fmt.Errorf("%w: %d columns", ErrOptions, cols)
	}
	cw, ch := 0, 0
	for _, img := range imgs {
		cw, ch = max(cw, img.Bounds().Dx()), max(ch, img.Bounds().Dy())
	}
	cols = min(cols, len(imgs))
	rows := (len(imgs) + cols - 1) / cols
	const line = 2
	sheet := image.NewGray(image.Rect(0, 0, cols*cw+(cols-1)*line, rows*ch+(rows-1)*line))
	for i := range sheet.Pix {
		sheet.Pix[i] = 0xa0
	}
	for i, img := range imgs {
		x0, y0 := (i%cols)*(cw+line), (i/cols)*(ch+line)
		b := img.Bounds()
		// White cell, frame centred in it.
		for y := y0; y < y0+ch; y++ {
			for x := x0; x < x0+cw; x++ {
				sheet.SetGray(x, y, color.Gray{Y: 0xff})
			}
		}
		ox, oy := x0+(cw-b.Dx())/2, y0+(ch-b.Dy())/2
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				sheet.Set(ox+x-b.Min.X, oy+y-b.Min.Y, img.At(x, y))
			}
		}
	}
	return encodePNG(sheet)
}
