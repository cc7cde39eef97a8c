package ur

import (
	"encoding/binary"
	"errors"
	"math"
)

// The few CBOR items URs need: unsigned integers, byte strings and a
// five-element array. Encoding is canonical (shortest form); decoding accepts
// only definite lengths.

var errCBOR = errors.New("malformed cbor")

func appendHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= math.MaxUint8:
		return append(b, m|24, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, m|27), v)
	}
}

// cborBytes returns the CBOR byte string (major type 2) holding data.
func cborBytes(data []byte) []byte {
	return append(appendHead(make([]byte, 0, len(data)+9), 2, uint64(len(data))), data...)
}

// readHead reads one item head and returns its major type, argument and the
// rest of b.
func readHead(b []byte) (major byte, v uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, 0, nil, errCBOR
	}
	major, info := b[0]>>5, b[0]&0x1f
	b = b[1:]
	switch {
	case info < 24:
		return major, uint64(info), b, nil
	case info == 24 && len(b) >= 1:
		return major, uint64(b[0]), b[1:], nil
	case info == 25 && len(b) >= 2:
		return major, uint64(binary.BigEndian.Uint16(b)), b[2:], nil
	case info == 26 && len(b) >= 4:
		return major, uint64(binary.BigEndian.Uint32(b)), b[4:], nil
	case info == 27 && len(b) >= 8:
		return major, binary.BigEndian.Uint64(b), b[8:], nil
	}
	return 0, 0, nil, errCBOR
}

func readUint(b []byte) (uint64, []byte, error) {
	major, v, rest, err := readHead(b)
	if err != nil || major != 0 {
		return 0, nil, errCBOR
	}
	return v, rest, nil
}

func readBytes(b []byte) ([]byte, []byte, error) {
	major, n, rest, err := readHead(b)
	if err != nil || major != 2 || n > uint64(len(rest)) {
		return nil, nil, errCBOR
	}
	return rest[:n], rest[n:], nil
}

// decodeCBORBytes returns the contents of a CBOR byte string that makes up
// all of b.
func decodeCBORBytes(b []byte) ([]byte, error) {
	data, rest, err := readBytes(b)
	if err != nil || len(rest) != 0 {
		return nil, ErrInvalidPayload
	}
	return data, nil
}
