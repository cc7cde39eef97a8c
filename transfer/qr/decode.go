package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // DecodeImage reads JPEG
	_ "image/png"  // and PNG
	"io"
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

func readBitmap(r io.Reader) (*gozxing.BinaryBitmap, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	// Bound what decoding will allocate from the header alone, before
	// the decoder allocates it.
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
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	return bmp, nil
}

// DecodeImage reads the QR code in a PNG or JPEG image and returns its
// content: the exact bytes for byte-mode data, the text for the other modes.
//
// When the finder-pattern detector fails it tries again reading the image as
// a pure barcode (an upright symbol on a plain quiet zone, as EncodePNG
// draws): gozxing's detector misjudges the size of some clean symbols.
func DecodeImage(r io.Reader) (string, error) {
	bmp, err := readBitmap(r)
	if err != nil {
		return "", err
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, hints())
	if err != nil {
		h := hints()
		h[gozxing.DecodeHintType_PURE_BARCODE] = true
		var err2 error
		if res, err2 = zxqr.NewQRCodeReader().Decode(bmp, h); err2 != nil {
			return "", fmt.Errorf("%w: %v", ErrNotFound, err)
		}
	}
	return payload(res.GetText()), nil
}

// DecodeAll reads every QR code it can find in a PNG or JPEG image, such as
// a contact sheet, in no particular order.
func DecodeAll(r io.Reader) ([]string, error) {
	bmp, err := readBitmap(r)
	if err != nil {
		return nil, err
	}
	res, err := qrcode.NewQRCodeMultiReader().DecodeMultiple(bmp, hints())
	if err != nil || len(res) == 0 {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	out := make([]string, len(res))
	for i, x := range res {
		out[i] = payload(x.GetText())
	}
	return out, nil
}
