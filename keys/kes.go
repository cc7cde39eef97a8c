package keys

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"

	"github.com/blinklabs-io/gouroboros/kes"
)

// Sum6KES sizes (cardano-base Cardano.Crypto.KES.Sum with Ed25519 leaves
// and Blake2b-256).
const (
	KESDepth          = 6
	KESPeriods        = 1 << KESDepth // evolutions a key can sign for: t = 0..63
	KESSigningKeySize = 32 + KESDepth*96
	KESVKeySize       = 32
	KESSignatureSize  = 64 + KESDepth*64
	KESSeedSize       = 32
)

// KESVKey is a KES verification key: the hot key an op cert certifies.
type KESVKey [KESVKeySize]byte

// Verify checks a Sum6KES signature made at evolution t.
func (vk KESVKey) Verify(t uint64, msg, sig []byte) bool {
	return len(sig) == KESSignatureSize && kes.VerifySignedKES(vk[:], t, msg, sig)
}

// MarshalEnvelope writes the key as cardano-cli's kes.vkey.
func (vk KESVKey) MarshalEnvelope() []byte {
	return (&Envelope{
		Type:        TypeKESVerificationKey,
		Description: DescriptionKESVerificationKey,
		CBOR:        encodeByteString(vk[:]),
	}).Marshal()
}

// ParseKESVKey reads a KES verification key file.
func ParseKESVKey(data []byte) (KESVKey, error) {
	var vk KESVKey
	e, err := ParseEnvelope(data)
	if err != nil {
		return vk, err
	}
	if err := e.expect(TypeKESVerificationKey); err != nil {
		return vk, err
	}
	b, err := e.bytesPayload(KESVKeySize)
	if err != nil {
		return vk, err
	}
	copy(vk[:], b)
	return vk, nil
}

// KESKey is a fresh (period 0) Sum6KES signing key, the only form that may
// be handed to cardano-node: the node evolves it in memory to the period it
// needs. It prints as [REDACTED].
type KESKey struct {
	redacted
	raw  []byte // 608 bytes: leaf seed, then r1 ‖ vk0 ‖ vk1 per level, innermost first
	vk   KESVKey
	seed []byte // the 32-byte seed it was derived from; nil for a key read as raw bytes
}

// GenerateKESKey makes a new KES key from a 32-byte seed read from rand.
func GenerateKESKey(rand io.Reader) (*KESKey, error) {
	seed := make([]byte, KESSeedSize)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	defer wipe(seed)
	return NewKESKey(seed)
}

// NewKESKey derives the Sum6KES key of a 32-byte seed.
func NewKESKey(seed []byte) (*KESKey, error) {
	if len(seed) != KESSeedSize {
		return nil, fmt.Errorf("%w: KES seed has %d bytes, want %d", ErrSize, len(seed), KESSeedSize)
	}
	sk, _, err := kes.KeyGen(KESDepth, seed)
	if err != nil {
		return nil, fmt.Errorf("generating KES key: %w", err)
	}
	defer sk.Zeroize()
	k, err := NewKESKeyFromRaw(sk.Data)
	if err != nil {
		return nil, err
	}
	k.seed = bytes.Clone(seed)
	return k, nil
}

// Seed returns a copy of the 32-byte seed the key was derived from (its
// smallest form: NewKESKey rebuilds the same key), or nil for a key that
// was read as its 608 raw bytes. The caller must wipe it.
func (k *KESKey) Seed() []byte {
	if k.seed == nil {
		return nil
	}
	return bytes.Clone(k.seed)
}

// NewKESKeyFromRaw takes the raw 608-byte key and checks that it is a
// complete, never-evolved Sum6KES key whose tree hashes up consistently.
func NewKESKeyFromRaw(raw []byte) (*KESKey, error) {
	if len(raw) != KESSigningKeySize {
		return nil, fmt.Errorf("%w: KES signing key has %d bytes, want %d (Sum6KES)", ErrSize, len(raw), KESSigningKeySize)
	}
	vk, err := freshKESVKey(raw)
	if err != nil {
		return nil, err
	}
	return &KESKey{raw: bytes.Clone(raw), vk: vk}, nil
}

// freshKESVKey walks a raw Sum6 key from the leaf out. A key at period 0 is
// in the leftmost leaf at every level, so the leaf's Ed25519 key must be
// vk0 of the innermost level, each level's H(vk0 ‖ vk1) must be vk0 of the
// next, and no level may have erased its right-subtree seed r1 (Update
// zeroes it when the key enters the right half).
func freshKESVKey(raw []byte) (KESVKey, error) {
	var vk KESVKey
	leaf := ed25519.NewKeyFromSeed(raw[:32])
	cur := []byte(leaf.Public().(ed25519.PublicKey))
	wipe(leaf)
	zero := make([]byte, 32)
	for level := 0; level < KESDepth; level++ {
		off := 32 + level*96
		r1, vk0, vk1 := raw[off:off+32], raw[off+32:off+64], raw[off+64:off+96]
		if bytes.Equal(r1, zero) {
			return vk, fmt.Errorf("%w: the right-subtree seed of level %d is erased; hand the node the fresh key it was certified with", ErrEvolvedKES, level+1)
		}
		if !bytes.Equal(cur, vk0) {
			return vk, fmt.Errorf("%w: KES key level %d does not hash up to its parent (an evolved or corrupted key)", ErrInconsistent, level+1)
		}
		cur = kes.HashPair(vk0, vk1)
	}
	copy(vk[:], cur)
	return vk, nil
}

// ParseKESKey reads a cardano-cli KES signing key file. It rejects any
// size but Sum6's 608 bytes (such as the 704-byte keys of 2020 that carry
// the same type label) and any key that is not at period 0.
func ParseKESKey(data []byte) (*KESKey, error) {
	e, err := ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	if err := e.expect(TypeKESSigningKey); err != nil {
		return nil, err
	}
	b, err := e.bytesPayload(KESSigningKeySize)
	if err != nil {
		return nil, err
	}
	defer wipe(b)
	return NewKESKeyFromRaw(b)
}

// Public returns the KES verification key.
func (k *KESKey) Public() KESVKey { return k.vk }

// Sign signs msg at evolution t (0 ≤ t < 64) with an evolved copy of the
// key; k itself stays at period 0.
func (k *KESKey) Sign(t uint64, msg []byte) ([]byte, error) {
	if t >= KESPeriods {
		return nil, fmt.Errorf("KES evolution %d is beyond the key's last (%d)", t, KESPeriods-1)
	}
	sk := &kes.SecretKey{Depth: KESDepth, Data: bytes.Clone(k.raw)}
	defer func() { sk.Zeroize() }()
	for i := uint64(0); i < t; i++ {
		next, err := kes.Update(sk)
		if err != nil {
			return nil, fmt.Errorf("evolving KES key: %w", err)
		}
		sk = next
	}
	return kes.Sign(sk, t, msg)
}

// Raw returns a copy of the 608 raw bytes. The caller must wipe it.
func (k *KESKey) Raw() []byte { return bytes.Clone(k.raw) }

// MarshalEnvelope writes the key in cardano-cli's format. The result is
// secret.
func (k *KESKey) MarshalEnvelope() []byte {
	return (&Envelope{
		Type:        TypeKESSigningKey,
		Description: DescriptionKESSigningKey,
		CBOR:        encodeByteString(k.raw),
	}).Marshal()
}

// TypeKESSeed is the type of kesrotate's own envelope of a KES key's
// 32-byte seed: how a vault keeps a KES key between the preparation of a
// cert and its signature on a hardware wallet. No other program reads it.
const TypeKESSeed = "KesrotateKesSeed_ed25519_kes_2^6"

// MarshalSeedEnvelope writes the seed the key was made from in a
// TypeKESSeed envelope. The result is secret. A key read as its raw
// bytes has no seed to write.
func (k *KESKey) MarshalSeedEnvelope() ([]byte, error) {
	if k.seed == nil {
		return nil, fmt.Errorf("%w: a KES key read as raw bytes has no seed", ErrSize)
	}
	return (&Envelope{Type: TypeKESSeed, Description: "KES key seed (kesrotate)", CBOR: encodeByteString(k.seed)}).Marshal(), nil
}

// ParseKESSeedEnvelope reads a TypeKESSeed envelope and rebuilds the key.
func ParseKESSeedEnvelope(data []byte) (*KESKey, error) {
	e, err := ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	if err := e.expect(TypeKESSeed); err != nil {
		return nil, err
	}
	seed, err := e.bytesPayload(KESSeedSize)
	if err != nil {
		return nil, err
	}
	defer wipe(seed)
	return NewKESKey(seed)
}

// Wipe clears the key.
func (k *KESKey) Wipe() {
	if k == nil { // KES-on-producer: the vault never held the key
		return
	}
	wipe(k.raw)
	wipe(k.seed)
	k.raw, k.seed = nil, nil
}
