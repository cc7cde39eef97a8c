package hwdouble

import (
	"encoding/binary"
	"errors"
	"math"
)

// The double encodes and decodes the few CBOR values cardano-hw-cli's
// files hold by hand (its own code, not the code under test's decoders),
// as cardano-hw-cli's encodeCbor does: collapseBigIntegers, so a counter
// or period is a plain unsigned integer in its shortest form.

func appendHead(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major<<5|byte(n))
	case n <= math.MaxUint8:
		return append(b, major<<5|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, major<<5|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, major<<5|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, major<<5|27), n)
}

func appendBytes(b, data []byte) []byte { return append(appendHead(b, 2, uint64(len(data))), data...) }

// encodeCert is a NodeOperationalCertificate's cborHex: [[kes_vk, n, c0,
// sigma], cold_vk] (cardano-hw-cli's OpCertSigned).
func encodeCert(kesVK [32]byte, counter, period uint64, sig [64]byte, cold [32]byte) []byte {
	b := appendHead(nil, 4, 2)
	b = appendHead(b, 4, 4)
	b = appendBytes(b, kesVK[:])
	b = appendHead(b, 0, counter)
	b = appendHead(b, 0, period)
	b = appendBytes(b, sig[:])
	return appendBytes(b, cold[:])
}

// encodeCounter is a NodeOperationalCertificateIssueCounter's cborHex:
// [n, cold_vk].
func encodeCounter(n uint64, cold [32]byte) []byte {
	return appendBytes(appendHead(appendHead(nil, 4, 2), 0, n), cold[:])
}

var errCBOR = errors.New("unexpected CBOR")

// readHead reads a head of the given major type (any argument width).
func readHead(b []byte, major byte) (uint64, []byte, error) {
	if len(b) == 0 || b[0]>>5 != major {
		return 0, nil, errCBOR
	}
	info, b := b[0]&31, b[1:]
	var size int
	switch {
	case info < 24:
		return uint64(info), b, nil
	case info == 24:
		size = 1
	case info == 25:
		size = 2
	case info == 26:
		size = 4
	case info == 27:
		size = 8
	default:
		return 0, nil, errCBOR
	}
	if len(b) < size {
		return 0, nil, errCBOR
	}
	var n uint64
	for _, c := range b[:size] {
		n = n<<8 | uint64(c)
	}
	return n, b[size:], nil
}

func readBytes(b []byte) ([]byte, []byte, error) {
	n, b, err := readHead(b, 2)
	if err != nil || uint64(len(b)) < n {
		return nil, nil, errCBOR
	}
	return b[:n], b[n:], nil
}

// readCounterValue reads an unsigned integer, or a tag 2 bignum (what
// cardano-hw-cli wrote before it collapsed big integers, and still
// reads) of at most 8 bytes.
func readCounterValue(b []byte) (uint64, []byte, error) {
	if len(b) > 0 && b[0] == 0xc2 {
		mag, rest, err := readBytes(b[1:])
		if err != nil || len(mag) > 8 {
			return 0, nil, errCBOR
		}
		var n uint64
		for _, c := range mag {
			n = n<<8 | uint64(c)
		}
		return n, rest, nil
	}
	return readHead(b, 0)
}

// decodeCounter reads [n, cold_vk] as cardano-hw-cli's
// parseOpCertIssueCounterFile does.
func decodeCounter(b []byte) (uint64, [32]byte, error) {
	var cold [32]byte
	n, b, err := readHead(b, 4)
	if err != nil || n != 2 {
		return 0, cold, errCBOR
	}
	ctr, b, err := readCounterValue(b)
	if err != nil {
		return 0, cold, err
	}
	vk, b, err := readBytes(b)
	if err != nil || len(vk) != 32 || len(b) != 0 {
		return 0, cold, errCBOR
	}
	copy(cold[:], vk)
	return ctr, cold, nil
}

// decodeBytes32 reads one 32-byte byte string (a KES vkey's cborHex).
func decodeBytes32(b []byte) ([32]byte, error) {
	var out [32]byte
	v, rest, err := readBytes(b)
	if err != nil || len(v) != 32 || len(rest) != 0 {
		return out, errCBOR
	}
	copy(out[:], v)
	return out, nil
}

// decodeXPub reads a signing file's cborXPubKeyHex: bytes(64).
func decodeXPub(b []byte) ([64]byte, error) {
	var out [64]byte
	v, rest, err := readBytes(b)
	if err != nil || len(v) != 64 || len(rest) != 0 {
		return out, errCBOR
	}
	copy(out[:], v)
	return out, nil
}
