// Package opcert issues, reads and checks Cardano operational certificates,
// chooses their counter by the Praos rules, and does KES period arithmetic
// for the public networks and any shelley genesis.
package opcert

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/kesrotate/kesrotate/keys"
)

// SignableSize is the length of the message the cold key signs:
// kes_vk(32) ‖ u64 BE counter ‖ u64 BE KES period.
const SignableSize = keys.KESVKeySize + 8 + 8

// Certificate is an operational certificate: the cold key's statement that
// a KES key may sign blocks for the pool from a KES period on.
type Certificate struct {
	KESVKey   keys.KESVKey
	Counter   uint64 // the issue number n
	KESPeriod uint64 // the start period c0
	Sigma     [keys.SignatureSize]byte
	Cold      keys.ColdVKey
}

// Signable returns the 48 bytes the cold key signs.
func Signable(kesVK keys.KESVKey, counter, kesPeriod uint64) []byte {
	b := make([]byte, 0, SignableSize)
	b = append(b, kesVK[:]...)
	b = binary.BigEndian.AppendUint64(b, counter)
	return binary.BigEndian.AppendUint64(b, kesPeriod)
}

// Issue signs a new certificate with the cold key.
func Issue(cold *keys.ColdKey, kesVK keys.KESVKey, counter, kesPeriod uint64) *Certificate {
	c := &Certificate{KESVKey: kesVK, Counter: counter, KESPeriod: kesPeriod, Cold: cold.Public()}
	copy(c.Sigma[:], cold.Sign(Signable(kesVK, counter, kesPeriod)))
	return c
}

// CheckSignature verifies the cold key's signature (InvalidSignatureOCERT).
func (c *Certificate) CheckSignature() error {
	if !c.Cold.Verify(Signable(c.KESVKey, c.Counter, c.KESPeriod), c.Sigma[:]) {
		return fmt.Errorf("%w: counter %d, KES period %d, pool %s", ErrBadSignature, c.Counter, c.KESPeriod, c.Cold.PoolID())
	}
	return nil
}

// PoolID is the pool the cert speaks for.
func (c *Certificate) PoolID() keys.PoolID { return c.Cold.PoolID() }

type wireBody struct {
	_       struct{} `cbor:",toarray"`
	KESVKey []byte
	Counter uint64
	Period  uint64
	Sigma   []byte
}

type wireCert struct {
	_    struct{} `cbor:",toarray"`
	Body wireBody
	Cold []byte
}

// MarshalCBOR is [[kes_vk, n, c0, sigma], cold_vk], canonical.
func (c *Certificate) MarshalCBOR() ([]byte, error) {
	return cbor.Encode(wireCert{
		Body: wireBody{KESVKey: c.KESVKey[:], Counter: c.Counter, Period: c.KESPeriod, Sigma: c.Sigma[:]},
		Cold: c.Cold[:],
	})
}

func (c *Certificate) cbor() []byte {
	b, err := c.MarshalCBOR()
	if err != nil {
		panic("opcert: encoding a certificate cannot fail: " + err.Error())
	}
	return b
}

// Hash is the hex SHA-256 of the cert's canonical CBOR: the cert hash that
// the journal, the ceremony log and the bundle use.
func (c *Certificate) Hash() string {
	h := sha256.Sum256(c.cbor())
	return hex.EncodeToString(h[:])
}

// MarshalEnvelope writes the cert as cardano-cli's node.cert.
func (c *Certificate) MarshalEnvelope() []byte {
	return (&keys.Envelope{Type: keys.TypeOperationalCertificate, CBOR: c.cbor()}).Marshal()
}

// ParseCBOR reads the CBOR of a cert. It does not check the signature.
func ParseCBOR(data []byte) (*Certificate, error) {
	var w wireCert
	n, err := cbor.Decode(data, &w)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	if n != len(data) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrEncoding, len(data)-n)
	}
	if len(w.Body.KESVKey) != keys.KESVKeySize || len(w.Body.Sigma) != keys.SignatureSize || len(w.Cold) != keys.ColdVKeySize {
		return nil, fmt.Errorf("%w: field sizes %d/%d/%d, want %d/%d/%d", ErrEncoding,
			len(w.Body.KESVKey), len(w.Body.Sigma), len(w.Cold), keys.KESVKeySize, keys.SignatureSize, keys.ColdVKeySize)
	}
	c := &Certificate{Counter: w.Body.Counter, KESPeriod: w.Body.Period}
	copy(c.KESVKey[:], w.Body.KESVKey)
	copy(c.Sigma[:], w.Body.Sigma)
	copy(c.Cold[:], w.Cold)
	if !bytes.Equal(c.cbor(), data) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrEncoding)
	}
	return c, nil
}

// Parse reads a cardano-cli NodeOperationalCertificate file. It does not
// check the signature: call CheckSignature or Verify.
func Parse(data []byte) (*Certificate, error) {
	e, err := keys.ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	if e.Type != keys.TypeOperationalCertificate {
		return nil, fmt.Errorf("%w: got %q, want %q", keys.ErrType, e.Type, keys.TypeOperationalCertificate)
	}
	return ParseCBOR(e.CBOR)
}
