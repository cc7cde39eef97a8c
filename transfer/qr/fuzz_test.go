package qr

import (
	"bytes"
	"image/jpeg"
	"testing"
)

// FuzzDecodeImage feeds arbitrary bytes to the image decoder: scanned images
// cross the air gap. Seeds are small real frames, PNG and JPEG.
func FuzzDecodeImage(f *testing.F) {
	for _, c := range []string{"UR:BYTES/HDEYMEJTSWHH", "\x00\xff binary", urFrames(f, 150, 200)[0]} {
		img, err := EncodeImage(c, Options{ModuleSize: 1})
		if err != nil {
			f.Fatal(err)
		}
		p, _ := EncodePNG(c, Options{ModuleSize: 1})
		f.Add(p)
		var buf bytes.Buffer
		jpeg.Encode(&buf, img, nil)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeImage(bytes.NewReader(b))
		if err == nil && got == "" {
			t.Log("empty symbol")
		}
	})
}
