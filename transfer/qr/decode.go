package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // DecodeImage reads JPEG
	_ "image/png"  // and PNG
	"io"
	"math"
	"strings"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/multi/qrcode"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

func hints() map[gozxing.DecodeHintType]any {
	return map[gozxing.DecodeHintType]any{
		// Byte-mode data comes back one rune per byte, see payload.
		gozxing.DecodeHintType_CHARACTER_SET: "ISO-8859-1",
		gozxing.DecodeHintType_TRY_HARDER:    true,
	}
}

// payload turns decoded text back into the symbol's bytes: with the
// ISO-8859-1 hint every byte of a byte-mode segment is one rune below 256.
// Text with larger runes came from a segment whose ECI named another
// character set and is returned as UTF-8.
func payload(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		if r > 0xff {
			return text
		}
		b.WriteByte(byte(r))
	}
	return b.String()
}

// MaxPixels bounds the images DecodeImage and DecodeAll accept: a 12
// megapixel photo of a screen or a contact sheet of frames is below it,
// while a PNG or JPEG header may claim any size and make the decoder
// allocate it all (a few bytes of header, a terabyte of pixels).
const MaxPixels = 1 << 24

// MaxDecodedBytes bounds the memory of the decoded image, whose size per
// pixel depends on its color model (a 16-bit RGBA PNG takes 8 bytes a
// pixel). With the bitmap the QR reader builds beside it (a byte a pixel),
// decoding an accepted image costs at most about 100 MB.
const MaxDecodedBytes = 1 << 26

// bytesPerPixel is what the standard decoders allocate per pixel for a
// color model; unknown models count as the largest.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4; subsampled JPEGs take less
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// readImage decodes a PNG or JPEG image after bounding, from its header
// alone, what decoding will allocate.
func readImage(r io.Reader) (image.Image, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if cfg.Width <= 0 || cfg.Height <= 0 || pixels > MaxPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels is larger than %d; scale the image down", ErrImage, cfg.Width, cfg.Height, MaxPixels)
	}
	if pixels*bytesPerPixel(cfg.ColorModel) > MaxDecodedBytes {
		return nil, fmt.Errorf("%w: a %dx%d image of %d bytes a pixel is larger than %d bytes decoded; save it as 8-bit", ErrImage,
			cfg.Width, cfg.Height, bytesPerPixel(cfg.ColorModel), MaxDecodedBytes)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	return img, nil
}

// An attempt reads the image at a scale with one of gozxing's two
// binarizers. A camera's picture of a frame is often read only at another
// scale (averaging pixels when noise, JPEG blocks or a screen's pixel grid
// confuse the local thresholds; interpolating when the modules are few
// pixels wide, or blurred) or with the global threshold: DecodeAll tries
// these in turn after the plain read fails. The degradation set of the
// tests (blur, perspective, noise, rotation, scaling, JPEG, screen photos)
// chose them and their order.
type attempt struct {
	scale  float64
	global bool
}

var attempts = []attempt{
	{1, false}, {1, true}, {0.5, false}, {0.75, false}, {1.5, false}, {2, false},
	{0.5, true}, {0.75, true}, {1.5, true}, {2, true},
}

// maxScaledPixels bounds an attempt's image made larger.
const maxScaledPixels = 6 << 20

// grayOf returns img as an 8-bit grey image.
func grayOf(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok {
		return g
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			g.Pix[g.PixOffset(x, y)] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
		}
	}
	return g
}

// scaled resizes g by f: each target pixel the mean of the source pixels
// under it (f < 1), or bilinear (f > 1).
func scaled(g *image.Gray, f float64) *image.Gray {
	b := g.Bounds()
	w, h := int(float64(b.Dx())*f), int(float64(b.Dy())*f)
	if w < 21 || h < 21 {
		return nil // smaller than a QR code's modules
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	sw, sh := b.Dx(), b.Dy()
	px := func(x, y int) float64 {
		x, y = max(0, min(sw-1, x)), max(0, min(sh-1, y))
		return float64(g.Pix[g.PixOffset(b.Min.X+x, b.Min.Y+y)])
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var v float64
			if f < 1 {
				x0, x1 := int(float64(x)/f), max(int(float64(x+1)/f), int(float64(x)/f)+1)
				y0, y1 := int(float64(y)/f), max(int(float64(y+1)/f), int(float64(y)/f)+1)
				for yy := y0; yy < y1; yy++ {
					for xx := x0; xx < x1; xx++ {
						v += px(xx, yy)
					}
				}
				v /= float64((x1 - x0) * (y1 - y0))
			} else {
				sx, sy := (float64(x)+0.5)/f-0.5, (float64(y)+0.5)/f-0.5
				x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
				fx, fy := sx-float64(x0), sy-float64(y0)
				v = (px(x0, y0)*(1-fx)+px(x0+1, y0)*fx)*(1-fy) + (px(x0, y0+1)*(1-fx)+px(x0+1, y0+1)*fx)*fy
			}
			out.Pix[out.PixOffset(x, y)] = uint8(v + 0.5)
		}
	}
	return out
}

// decodeAttempts runs read on the image of each attempt in turn until one
// finds a code.
func decodeAttempts[T any](img image.Image, read func(*gozxing.BinaryBitmap) (T, error)) (T, error) {
	var zero T
	var g *image.Gray
	var first error
	for _, a := range attempts {
		im := img
		if a.scale != 1 {
			if g == nil {
				g = grayOf(img)
			}
			b := g.Bounds()
			if a.scale > 1 && float64(b.Dx())*float64(b.Dy())*a.scale*a.scale > maxScaledPixels {
				continue
			}
			s := scaled(g, a.scale)
			if s == nil {
				continue
			}
			im = s
		}
		src := gozxing.NewLuminanceSourceFromImage(im)
		var bin gozxing.Binarizer = gozxing.NewHybridBinarizer(src)
		if a.global {
			bin = gozxing.NewGlobalHistgramBinarizer(src)
		}
		bmp, err := gozxing.NewBinaryBitmap(bin)
		if err == nil {
			var res T
			if res, err = read(bmp); err == nil {
				return res, nil
			}
		}
		if first == nil {
			first = err
		}
	}
	return zero, first
}

// DecodeImage reads the QR code in a PNG or JPEG image and returns its
// content: the exact bytes for byte-mode data, the text for the other modes.
//
// When the finder-pattern detector fails it tries again reading the image as
// a pure barcode (an upright symbol on a plain quiet zone, as EncodePNG
// draws): gozxing's detector misjudges the size of some clean symbols.
func DecodeImage(r io.Reader) (string, error) {
	img, err := readImage(r)
	if err != nil {
		return "", err
	}
	res, err := decodeAttempts(img, func(bmp *gozxing.BinaryBitmap) (*gozxing.Result, error) {
		res, err := zxqr.NewQRCodeReader().Decode(bmp, hints())
		if err != nil {
			h := hints()
			h[gozxing.DecodeHintType_PURE_BARCODE] = true
			if res, err2 := zxqr.NewQRCodeReader().Decode(bmp, h); err2 == nil {
				return res, nil
			}
		}
		return res, err
	})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return payload(res.GetText()), nil
}

// DecodeAll reads every QR code it can find in a PNG or JPEG image, such as
// a contact sheet, in no particular order. A photo that gives nothing at
// first is read again at other scales and thresholds (see attempts).
func DecodeAll(r io.Reader) ([]string, error) {
	img, err := readImage(r)
	if err != nil {
		return nil, err
	}
	res, err := decodeAttempts(img, func(bmp *gozxing.BinaryBitmap) ([]*gozxing.Result, error) {
		res, err := qrcode.NewQRCodeMultiReader().DecodeMultiple(bmp, hints())
		if err == nil && len(res) == 0 {
			err = errors.New("no code")
		}
		return res, err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	out := make([]string, len(res))
	for i, x := range res {
		out[i] = payload(x.GetText())
	}
	return out, nil
}
