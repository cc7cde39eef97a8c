package transfer

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"filippo.io/age"
)

func FuzzParseSnapshot(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.snapshot().Marshal(fx.signKey))
	pub := fx.signKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSnapshot(data, pub)
		if err != nil {
			return
		}
		_, _ = s.Check(SnapshotPolicy{PoolID: s.PoolID, Now: t0})
	})
}

func FuzzParseEnrollment(f *testing.F) {
	fx := newFixture(f)
	e, _ := fx.enroll.Marshal(fx.signKey)
	f.Add(e)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnrollment(data)
		if err != nil {
			return
		}
		_ = e.Fingerprint()
	})
}

// FuzzParseBundle fuzzes the bundle's plaintext parser (what is inside the
// age encryption) and, once, the age layer with a real identity.
func FuzzParseBundle(f *testing.F) {
	fx := newFixture(f)
	b := &Bundle{Magic: 1, PoolID: fx.cold.Public().PoolID(), Cold: fx.cold.Public(), Cert: fx.cert, KES: fx.kes, VRF: fx.vrf, Producer: testFingerprint, Created: t0}
	var buf bytes.Buffer
	if err := b.Encrypt(&buf, fx.identity.Recipient()); err != nil {
		f.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(buf.Bytes()), fx.identity)
	if err != nil {
		f.Fatal(err)
	}
	var plain bytes.Buffer
	_, _ = plain.ReadFrom(r)
	f.Add(plain.Bytes())
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, err := parseBundle(data); err == nil {
			got.Wipe()
		}
		if got, err := DecryptBundle(bytes.NewReader(data), fx.identity); err == nil {
			got.Wipe()
		}
	})
}
