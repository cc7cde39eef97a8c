package auditlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"io"
	"strings"

	"filippo.io/edwards25519"
	"golang.org/x/mod/sumdb/note"
)

// Checking a log's checkpoints one Ed25519 signature at a time is most of
// what Verify costs (a log has a checkpoint per entry). They are all made
// by one key, so Verify checks them together: with random 128-bit z_i,
//
//	[Σ z_i·s_i]B = Σ [z_i]R_i + [Σ z_i·k_i]A,   k_i = SHA-512(R_i ‖ A ‖ M_i),
//
// one multi-scalar multiplication for many signatures. If every signature
// is valid the equation holds; if one is not, it fails except with
// negligible probability, or (the one difference from checking each
// alone) when the invalid signature differs from a valid equation only by
// a point of small order, which only the key's holder can make. A batch
// that fails is checked one signature at a time, so that the error names
// the first bad checkpoint exactly as before.

// batchSize bounds one multi-scalar multiplication (its tables take about
// 1.3 KB a point).
const batchSize = 256

type sigItem struct {
	r, s [32]byte
	msg  []byte
}

// sigBatch collects the signatures of one key.
type sigBatch struct {
	pub   ed25519.PublicKey
	items []sigItem
}

// add takes the signature of v (name and key hash) on the note n, opened
// without verifiers, to check later; it reports false when n has no such
// signature in canonical form (openCheckpoint then says why).
func (b *sigBatch) add(n *note.Note, v note.Verifier) bool {
	for _, s := range n.UnverifiedSigs {
		if s.Name != v.Name() || s.Hash != v.KeyHash() {
			continue
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(s.Base64)
		if err != nil || len(raw) != 4+ed25519.SignatureSize || base64.StdEncoding.EncodeToString(raw) != s.Base64 {
			return false
		}
		var it sigItem
		copy(it.r[:], raw[4:36])
		copy(it.s[:], raw[36:])
		it.msg = []byte(n.Text)
		b.items = append(b.items, it)
		return true
	}
	return false
}

// verify reports whether every signature added is valid.
func (b *sigBatch) verify() bool {
	if len(b.pub) != ed25519.PublicKeySize {
		return false
	}
	A, err := new(edwards25519.Point).SetBytes(b.pub)
	if err != nil {
		return false
	}
	for start := 0; start < len(b.items); start += batchSize {
		if !verifyChunk(A, b.pub, b.items[start:min(start+batchSize, len(b.items))], rand.Reader) {
			return false
		}
	}
	return true
}

func verifyChunk(A *edwards25519.Point, pub []byte, items []sigItem, rnd io.Reader) bool {
	scalars := make([]*edwards25519.Scalar, 0, len(items)+2)
	points := make([]*edwards25519.Point, 0, len(items)+2)
	sSum := edwards25519.NewScalar()
	kSum := edwards25519.NewScalar()
	var zb [32]byte
	h := sha512.New()
	var digest [64]byte
	for i := range items {
		it := &items[i]
		R, err := new(edwards25519.Point).SetBytes(it.r[:])
		if err != nil {
			return false
		}
		s, err := edwards25519.NewScalar().SetCanonicalBytes(it.s[:])
		if err != nil {
			return false
		}
		h.Reset()
		h.Write(it.r[:])
		h.Write(pub)
		h.Write(it.msg)
		k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
		if err != nil {
			return false
		}
		if _, err := io.ReadFull(rnd, zb[:16]); err != nil {
			return false
		}
		z, err := edwards25519.NewScalar().SetCanonicalBytes(zb[:])
		if err != nil {
			return false
		}
		sSum.MultiplyAdd(z, s, sSum)
		kSum.MultiplyAdd(z, k, kSum)
		scalars = append(scalars, z)
		points = append(points, R)
	}
	// Σ [z_i]R_i + [Σ z_i k_i]A − [Σ z_i s_i]B must be the identity.
	scalars = append(scalars, kSum, edwards25519.NewScalar().Negate(sSum))
	points = append(points, A, edwards25519.NewGeneratorPoint())
	sum := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	return sum.Equal(edwards25519.NewIdentityPoint()) == 1
}

// verifierPublicKey returns the raw Ed25519 key of a note verifier key
// text ("name+hash+base64(alg ‖ key)").
func verifierPublicKey(text string) ed25519.PublicKey {
	f := strings.SplitN(text, "+", 3) // a name has no '+'; base64 may
	if len(f) != 3 {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		return nil
	}
	return ed25519.PublicKey(raw[1:])
}
