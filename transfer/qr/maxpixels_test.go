package qr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
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
			b := pngHeader(tc.w, tc.h)
			if _, err := DecodeImage(bytes.NewReader(b)); !errors.Is(err, ErrImage) {
				t.Errorf("DecodeImage: got %v, want ErrImage", err)
			}
			if _, err := DecodeAll(bytes.NewReader(b)); !errors.Is(err, ErrImage) {
				t.Errorf("DecodeAll: got %v, want ErrImage", err)
			}
		})
	}
}

func pngHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	data := make([]byte, 13)
	binary.BigEndian.PutUint32(data[0:], w)
	binary.BigEndian.PutUint32(data[4:], h)
	data[8] = 8 // 8-bit grey
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	buf.Write(n[:])
	buf.WriteString("IHDR")
	buf.Write(data)
	binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(append([]byte("IHDR"), data...)))
	buf.Write(n[:])
	return buf.Bytes()
}
