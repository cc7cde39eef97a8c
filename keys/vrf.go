package keys

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"

	"golang.org/x/crypto/blake2b"
)

// Sizes of VRF key material (PraosVRF, ietfdraft03).
const (
	VRFSeedSize       = 32
	VRFSigningKeySize = 64 // seed ‖ public key
	VRFVKeySize       = 32
)

// VRFVKey is a VRF verification key.
type VRFVKey [VRFVKeySize]byte

// Hash is blake2b-256 of the key: the vrf_keyhash in a pool registration.
func (vk VRFVKey) Hash() [32]byte { return blake2b.Sum256(vk[:]) }

// MarshalEnvelope writes the key as cardano-cli's vrf.vkey.
func (vk VRFVKey) MarshalEnvelope() []byte {
	return (&Envelope{
		Type:        TypeVRFVerificationKey,
		Description: DescriptionVRFVerificationKey,
		CBOR:        encodeByteString(vk[:]),
	}).Marshal()
}

// ParseVRFVKey reads a VRF verification key file.
func ParseVRFVKey(data []byte) (VRFVKey, error) {
	var vk VRFVKey
	e, err := ParseEnvelope(data)
	if err != nil {
		return vk, err
	}
	if err := e.expect(TypeVRFVerificationKey); err != nil {
		return vk, err
	}
	b, err := e.bytesPayload(VRFVKeySize)
	if err != nil {
		return vk, err
	}
	copy(vk[:], b)
	return vk, nil
}

// VRFKey is a VRF signing key: the 64 bytes seed ‖ pk that cardano-node
// reads (it takes pk from the second half without recomputing it, so the
// two halves must agree). It prints as [REDACTED].
type VRFKey struct {
	redacted
	raw []byte
}

// GenerateVRFKey makes a new VRF key from 32 bytes of rand.
func GenerateVRFKey(rand io.Reader) (*VRFKey, error) {
	seed := make([]byte, VRFSeedSize)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	defer wipe(seed)
	return NewVRFKey(seed)
}

// NewVRFKey makes the VRF key of a 32-byte seed: the public key is the
// RFC 8032 Ed25519 public key of the seed.
func NewVRFKey(seed []byte) (*VRFKey, error) {
	if len(seed) != VRFSeedSize {
		return nil, fmt.Errorf("%w: VRF seed has %d bytes, want %d", ErrSize, len(seed), VRFSeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	defer wipe(priv)
	return &VRFKey{raw: bytes.Clone(priv)}, nil // ed25519 keeps seed ‖ pk too
}

// ParseVRFKey reads a VRF signing key file and checks that its second half
// is the public key of its first.
func ParseVRFKey(data []byte) (*VRFKey, error) {
	e, err := ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	if err := e.expect(TypeVRFSigningKey); err != nil {
		return nil, err
	}
	b, err := e.bytesPayload(VRFSigningKeySize)
	if err != nil {
		return nil, err
	}
	defer wipe(b)
	k, err := NewVRFKey(b[:VRFSeedSize])
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(k.raw[VRFSeedSize:], b[VRFSeedSize:]) {
		k.Wipe()
		return nil, fmt.Errorf("%w: VRF signing key's public half is not the key of its seed", ErrInconsistent)
	}
	return k, nil
}

// Public returns the VRF verification key.
func (k *VRFKey) Public() VRFVKey {
	var vk VRFVKey
	copy(vk[:], k.raw[VRFSeedSize:])
	return vk
}

// Seed returns a copy of the 32-byte seed (gouroboros/vrf's secret key).
// The caller must wipe it.
func (k *VRFKey) Seed() []byte { return bytes.Clone(k.raw[:VRFSeedSize]) }

// MarshalEnvelope writes the key in cardano-cli's format. The result is
// secret.
func (k *VRFKey) MarshalEnvelope() []byte {
	return (&Envelope{
		Type:        TypeVRFSigningKey,
		Description: DescriptionVRFSigningKey,
		CBOR:        encodeByteString(k.raw),
	}).Marshal()
}

// Wipe clears the key.
func (k *VRFKey) Wipe() {
	if k == nil {
		return
	}
	wipe(k.raw)
	k.raw = nil
}

// Raw returns a copy of the 64 bytes seed ‖ pk. The caller must wipe it.
func (k *VRFKey) Raw() []byte { return bytes.Clone(k.raw) }
