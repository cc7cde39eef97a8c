package auditlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"

	"filippo.io/edwards25519"
)

func signedItems(t testing.TB, n int) (ed25519.PublicKey, []sigItem) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]sigItem, n)
	for i := range items {
		msg := []byte(fmt.Sprintf("checkpoint %d\n", i))
		sig := ed25519.Sign(priv, msg)
		copy(items[i].r[:], sig[:32])
		copy(items[i].s[:], sig[32:])
		items[i].msg = msg
	}
	return pub, items
}

// TestBatchVerify: a batch (across several chunks) passes when every
// signature is valid, and fails when one bit of one signature or message
// changed, or when s is not canonical, wherever it is.
func TestBatchVerify(t *testing.T) {
	pub, items := signedItems(t, 2*batchSize+7)
	b := &sigBatch{pub: pub, items: items}
	if !b.verify() {
		t.Fatal("a batch of valid signatures failed")
	}
	for _, at := range []int{0, 1, batchSize - 1, batchSize, len(items) - 1} {
		for name, spoil := range map[string]func(it *sigItem){
			"R bit":   func(it *sigItem) { it.r[3] ^= 0x10 },
			"s bit":   func(it *sigItem) { it.s[5] ^= 0x01 },
			"message": func(it *sigItem) { it.msg = append([]byte(nil), it.msg...); it.msg[0] ^= 1 },
			"s + L": func(it *sigItem) { // the same s, not reduced: RFC 8032 refuses it
				s, _ := edwards25519.NewScalar().SetCanonicalBytes(it.s[:])
				var l [32]byte
				copy(l[:], s.Bytes())
				addL(&l)
				it.s = l
			},
		} {
			bad := append([]sigItem(nil), items...)
			spoil(&bad[at])
			if (&sigBatch{pub: pub, items: bad}).verify() {
				t.Errorf("%s changed in signature %d: the batch passed", name, at)
			}
		}
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if (&sigBatch{pub: other, items: items}).verify() {
		t.Error("signatures of another key passed")
	}
}

// addL adds the group order L to a little-endian 32-byte number (it stays
// below 2^256 for a reduced scalar).
func addL(x *[32]byte) {
	l := [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	carry := 0
	for i := range x {
		v := int(x[i]) + int(l[i]) + carry
		x[i], carry = byte(v), v>>8
	}
}

func BenchmarkBatchVerify(b *testing.B) {
	pub, items := signedItems(b, batchSize)
	batch := &sigBatch{pub: pub, items: items}
	for b.Loop() {
		if !batch.verify() {
			b.Fatal("failed")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/sig")
}

// TestVerifierPublicKey reads the key of note verifier texts, whose
// base64 may hold '+'.
func TestVerifierPublicKey(t *testing.T) {
	for i := range 20 {
		_, vkey, err := GenerateKey(rng(byte(i)), "0123456789abcdef0123456789abcdef")
		if err != nil {
			t.Fatal(err)
		}
		if pub := verifierPublicKey(vkey); len(pub) != ed25519.PublicKeySize {
			t.Fatalf("%s: got %d bytes", vkey, len(pub))
		}
	}
}
