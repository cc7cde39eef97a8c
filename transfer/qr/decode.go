package qr

import (
	"bytes"
	"fmt"
	"image"
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

// MaxPixels bounds the images DecodeImage and DecodeAll accept: a photo of
// a screen or a contact sheet of frames is far below it, while a PNG or
// JPEG header may claim any size and make the decoder allocate it all (a
// few bytes of header, a terabyte of pixels).
const MaxPixels = 1 << 26

func readBitmap(r io.Reader) (*gozxing.BinaryBitmap, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels is larger than %d", ErrImage, cfg.Width, cfg.Height, MaxPixels)
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
