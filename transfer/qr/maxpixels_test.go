package qr

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"runtime"
	"testing"

	"github.com/kesrotate/kesrotate/internal/pngtest"
)

// A PNG header may claim any size; decoding one that claims a terabyte of
// pixels must be refused before anything is allocated (it used to end the
// process with "fatal error: runtime: out of memory").
func TestDecodeRefusesHugeImages(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h uint32
	}{
		{"terabyte", 1 << 20, 1 << 20},
		{"one-pixel-over", MaxPixels + 1, 1},
		{"wide", 1<<31 - 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := pngtest.Header(tc.w, tc.h, 8, 0)
			if _, err := DecodeImage(bytes.NewReader(b)); !errors.Is(err, ErrImage) {
				t.Errorf("DecodeImage: got %v, want ErrImage", err)
			}
			if _, err := DecodeAll(bytes.NewReader(b)); !errors.Is(err, ErrImage) {
				t.Errorf("DecodeAll: got %v, want ErrImage", err)
			}
		})
	}
}

// The bound is on what decoding costs, not on pixels alone: a 16-bit RGBA
// PNG decodes to 8 bytes a pixel, and one of 8192×8192 pixels (inside the
// old pixel limit) cost more than 1 GB to refuse. Such headers are refused
// before the decoder allocates the image.
func TestDecodeRefusesImagesTooCostlyToDecode(t *testing.T) {
	for _, tc := range []struct {
		name            string
		w, h            uint32
		depth, colorTyp byte
	}{
		{"rgba64-8192", 8192, 8192, 16, 6},
		{"rgba-8192", 8192, 8192, 8, 6},
		{"grey16-8192", 8192, 8192, 16, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := pngtest.Header(tc.w, tc.h, tc.depth, tc.colorTyp)
			var err error
			alloc := allocated(func() { _, err = DecodeAll(bytes.NewReader(b)) })
			if !errors.Is(err, ErrImage) {
				t.Errorf("got %v, want ErrImage", err)
			}
			if alloc > 8<<20 {
				t.Errorf("refusing it allocated %d MB, want under 8 MB", alloc>>20)
			}
		})
	}
}

// An image just inside the limits decodes (and finds nothing) at a bounded
// cost.
func TestDecodeAtTheLimitsIsBounded(t *testing.T) {
	side := 1
	for 4*side*side <= MaxPixels {
		side *= 2
	}
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	img.SetGray(7, 7, color.Gray{})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	img = nil
	var err error
	alloc := allocated(func() { _, err = DecodeAll(bytes.NewReader(buf.Bytes())) })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
	if alloc > 256<<20 {
		t.Errorf("decoding a %d×%d grey PNG allocated %d MB, want at most 256 MB", side, side, alloc>>20)
	}
}

func allocated(f func()) uint64 {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}
