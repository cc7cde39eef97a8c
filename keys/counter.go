package keys

import (
	"fmt"
	"strconv"
)

// Counter is a cardano-cli op-cert issue counter: the next certificate
// number to issue, bound to one cold key.
type Counter struct {
	Next uint64
	Cold ColdVKey
}

// ParseCounter reads a NodeOperationalCertificateIssueCounter file.
func ParseCounter(data []byte) (Counter, error) {
	var c Counter
	e, err := ParseEnvelope(data)
	if err != nil {
		return c, err
	}
	if err := e.expect(TypeCounter); err != nil {
		return c, err
	}
	var v struct {
		_    struct{} `cbor:",toarray"`
		Next uint64
		Cold []byte
	}
	if err := decodeExact(e.CBOR, &v); err != nil {
		return c, err
	}
	if len(v.Cold) != ColdVKeySize {
		return c, fmt.Errorf("%w: counter's cold key has %d bytes, want %d", ErrSize, len(v.Cold), ColdVKeySize)
	}
	c.Next = v.Next
	copy(c.Cold[:], v.Cold)
	return c, nil
}

// CheckCold reports ErrCounterMismatch if the counter is not for vk.
func (c Counter) CheckCold(vk ColdVKey) error {
	if c.Cold != vk {
		return fmt.Errorf("%w: counter is for pool %s, the cold key is pool %s", ErrCounterMismatch, c.Cold.PoolID(), vk.PoolID())
	}
	return nil
}

// MarshalEnvelope writes the counter as cardano-cli does after issuing.
func (c Counter) MarshalEnvelope() []byte {
	v := []any{c.Next, c.Cold[:]}
	b, err := cborEncode(v)
	if err != nil {
		panic("keys: encoding a counter cannot fail: " + err.Error())
	}
	return (&Envelope{
		Type:        TypeCounter,
		Description: "Next certificate issue number: " + strconv.FormatUint(c.Next, 10),
		CBOR:        b,
	}).Marshal()
}
