// Package pngtest builds PNG files for tests of the QR readers: a header
// that announces any size without the pixels behind it.
package pngtest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// Header is a PNG signature, an IHDR of the given size, bit depth and color
// type, a tiny IDAT and IEND: what a decoder reads to allocate the image it
// announces, at the cost of a few bytes.
func Header(w, h uint32, depth, colorType byte) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		buf.Write(n[:])
		buf.WriteString(typ)
		buf.Write(data)
		binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(append([]byte(typ), data...)))
		buf.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, colorType
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01})
	chunk("IEND", nil)
	return buf.Bytes()
}
