package keys

import (
	"bytes"
	"fmt"

	"github.com/blinklabs-io/gouroboros/cbor"
)

// decodeByteString decodes exactly one definite-length CBOR byte string.
func decodeByteString(data []byte) ([]byte, error) {
	var b []byte
	if err := decodeExact(data, &b); err != nil {
		return nil, err
	}
	return b, nil
}

// encodeByteString is the canonical CBOR byte string of b.
func encodeByteString(b []byte) []byte {
	out, err := cbor.Encode(b)
	if err != nil {
		panic("cbor: encoding a byte string cannot fail: " + err.Error())
	}
	return out
}

// decodeExact decodes data into v and requires that data is one complete
// value in canonical form: no trailing bytes, and re-encoding gives the same
// bytes (so every value has one encoding and one hash).
func decodeExact(data []byte, v any) error {
	n, err := cbor.Decode(data, v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	if n != len(data) {
		return fmt.Errorf("%w: %d trailing bytes", ErrEncoding, len(data)-n)
	}
	again, err := cbor.Encode(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	if !bytes.Equal(again, data) {
		return fmt.Errorf("%w: not in canonical form", ErrEncoding)
	}
	return nil
}

func cborEncode(v any) ([]byte, error) { return cbor.Encode(v) }
