package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"fmt"
	"io"

	"filippo.io/edwards25519"
)

// Sizes of cold key material.
const (
	ColdSeedSize            = ed25519.SeedSize // StakePoolSigningKey_ed25519 payload
	ColdVKeySize            = ed25519.PublicKeySize
	ColdExtendedSigningSize = 128 // kL ‖ kR ‖ public key ‖ chain code
	ColdExtendedVKeySize    = 64  // public key ‖ chain code
	SignatureSize           = ed25519.SignatureSize
)

// ColdVKey is a pool's cold verification key: the raw 32-byte Ed25519
// public key that op certs carry and that the pool id hashes.
type ColdVKey [ColdVKeySize]byte

// PoolID is blake2b-224 of the cold verification key.
func (vk ColdVKey) PoolID() PoolID { return poolIDOf(vk[:]) }

// Verify checks an Ed25519 signature by this key.
func (vk ColdVKey) Verify(msg, sig []byte) bool {
	return len(sig) == SignatureSize && ed25519.Verify(vk[:], msg, sig)
}

// MarshalEnvelope writes the key as cardano-cli's cold.vkey.
func (vk ColdVKey) MarshalEnvelope() []byte {
	return (&Envelope{
		Type:        TypeColdVerificationKey,
		Description: DescriptionColdVerificationKy,
		CBOR:        encodeByteString(vk[:]),
	}).Marshal()
}

// ParseColdVKey reads a cold verification key file: the plain 32-byte
// form, or the extended 64-byte form whose first 32 bytes are the key.
func ParseColdVKey(data []byte) (ColdVKey, error) {
	var vk ColdVKey
	e, err := ParseEnvelope(data)
	if err != nil {
		return vk, err
	}
	if err := e.expect(TypeColdVerificationKey, TypeColdExtendedVerification); err != nil {
		return vk, err
	}
	size := ColdVKeySize
	if e.Type == TypeColdExtendedVerification {
		size = ColdExtendedVKeySize
	}
	b, err := e.bytesPayload(size)
	if err != nil {
		return vk, err
	}
	copy(vk[:], b[:ColdVKeySize])
	if err := CheckEd25519PublicKey(vk[:]); err != nil {
		return vk, fmt.Errorf("cold verification key: %w", err)
	}
	return vk, nil
}

// CheckEd25519PublicKey refuses what cannot be a real Ed25519 public key:
// bytes that are not a curve point, a non-canonical encoding, and the
// eight small-order points (with those, crypto/ed25519 accepts a fixed
// signature for every message, so anyone could "sign" as that key).
func CheckEd25519PublicKey(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrWeakKey, len(pub), ed25519.PublicKeySize)
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return fmt.Errorf("%w: not a curve point", ErrWeakKey)
	}
	if !bytes.Equal(p.Bytes(), pub) {
		return fmt.Errorf("%w: not the canonical encoding of its point", ErrWeakKey)
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return fmt.Errorf("%w: a small-order point", ErrWeakKey)
	}
	return nil
}

// ColdKey is a pool's cold signing key. It signs op certs (and the audit
// key binding). It prints as [REDACTED].
type ColdKey struct {
	redacted
	seed     []byte // RFC 8032 seed, for StakePoolSigningKey_ed25519
	priv     ed25519.PrivateKey
	extended []byte // kL ‖ kR ‖ pk ‖ cc, for the BIP32 extended form
	vk       ColdVKey
}

// GenerateColdKey makes a new cold key from 32 bytes of rand.
func GenerateColdKey(rand io.Reader) (*ColdKey, error) {
	seed := make([]byte, ColdSeedSize)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	defer wipe(seed)
	return NewColdKey(seed)
}

// NewColdKey makes the cold key of a 32-byte RFC 8032 seed.
func NewColdKey(seed []byte) (*ColdKey, error) {
	if len(seed) != ColdSeedSize {
		return nil, fmt.Errorf("%w: cold key seed has %d bytes, want %d", ErrSize, len(seed), ColdSeedSize)
	}
	k := &ColdKey{seed: bytes.Clone(seed), priv: ed25519.NewKeyFromSeed(seed)}
	copy(k.vk[:], k.priv.Public().(ed25519.PublicKey))
	return k, nil
}

// ParseColdKey reads a cardano-cli cold signing key file, plain or extended.
func ParseColdKey(data []byte) (*ColdKey, error) {
	e, err := ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	if err := e.expect(TypeColdSigningKey, TypeColdExtendedSigningKey); err != nil {
		return nil, err
	}
	if e.Type == TypeColdSigningKey {
		seed, err := e.bytesPayload(ColdSeedSize)
		if err != nil {
			return nil, err
		}
		defer wipe(seed)
		return NewColdKey(seed)
	}
	b, err := e.bytesPayload(ColdExtendedSigningSize)
	if err != nil {
		return nil, err
	}
	defer wipe(b)
	return newExtendedColdKey(b)
}

func newExtendedColdKey(b []byte) (*ColdKey, error) {
	s, err := extendedScalar(b[:32])
	if err != nil {
		return nil, err
	}
	pk := new(edwards25519.Point).ScalarBaseMult(s).Bytes()
	if !bytes.Equal(pk, b[64:96]) {
		return nil, fmt.Errorf("%w: extended cold key's public key does not match its secret", ErrInconsistent)
	}
	k := &ColdKey{extended: bytes.Clone(b)}
	copy(k.vk[:], pk)
	return k, nil
}

// extendedScalar reduces the 32-byte little-endian kL modulo the group
// order. BIP32-Ed25519 scalars are not clamped after derivation, so they
// cannot go through SetBytesWithClamping.
func extendedScalar(kL []byte) (*edwards25519.Scalar, error) {
	var wide [64]byte
	copy(wide[:], kL)
	defer wipe(wide[:])
	s, err := edwards25519.NewScalar().SetUniformBytes(wide[:])
	if err != nil {
		return nil, fmt.Errorf("%w: extended cold key scalar", ErrInconsistent)
	}
	return s, nil
}

// Public returns the cold verification key.
func (k *ColdKey) Public() ColdVKey { return k.vk }

// Extended reports whether the key is a BIP32 extended key.
func (k *ColdKey) Extended() bool { return k.extended != nil }

// Seed returns a copy of the RFC 8032 seed, or nil for an extended key.
// The caller must wipe it.
func (k *ColdKey) Seed() []byte {
	if k.seed == nil {
		return nil
	}
	return bytes.Clone(k.seed)
}

// Sign makes an Ed25519 signature of msg. Plain keys follow RFC 8032;
// extended keys follow Ed25519-BIP32 (nonce from kR), which verifies under
// the same public key.
func (k *ColdKey) Sign(msg []byte) []byte {
	if k.extended == nil {
		return ed25519.Sign(k.priv, msg)
	}
	s, err := extendedScalar(k.extended[:32])
	if err != nil {
		panic("keys: extended cold key was validated when parsed")
	}
	h := sha512.New()
	h.Write(k.extended[32:64])
	h.Write(msg)
	r, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	h.Reset()
	h.Write(R)
	h.Write(k.vk[:])
	h.Write(msg)
	c, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	S := edwards25519.NewScalar().MultiplyAdd(c, s, r)
	return append(R, S.Bytes()...)
}

// MarshalEnvelope writes the key in cardano-cli's format. The result is
// secret: write it only with safefile.CreateSecret.
func (k *ColdKey) MarshalEnvelope() []byte {
	if k.extended != nil {
		return (&Envelope{
			Type:        TypeColdExtendedSigningKey,
			Description: DescriptionColdSigningKey,
			CBOR:        encodeByteString(k.extended),
		}).Marshal()
	}
	return (&Envelope{
		Type:        TypeColdSigningKey,
		Description: DescriptionColdSigningKey,
		CBOR:        encodeByteString(k.seed),
	}).Marshal()
}

// Wipe clears the secret material held by k. k is unusable afterwards.
func (k *ColdKey) Wipe() {
	if k == nil {
		return
	}
	wipe(k.seed)
	wipe(k.priv)
	wipe(k.extended)
	k.seed, k.priv, k.extended = nil, nil, nil
}
