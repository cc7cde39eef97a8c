package transfer

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/kesrotate/kesrotate/keys"
)

// testCheckpoint is a checkpoint note as the ceremony log signs it.
func testCheckpoint(t testing.TB) []byte {
	t.Helper()
	name := "kesrotate.vault/" + strings.Repeat("5a", 16)
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: name + "\n10042\nWx8U9/4XGHgA0JAGeM3g0vjl3wPD7PgxqBmbO3xSHmM=\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestBundleVersion3 is the bundle as Encrypt writes it: the KES key as
// its seed, rebuilt and checked by DecryptBundle, and the checkpoint in
// its compact form, rebuilt byte for byte.
func TestBundleVersion3(t *testing.T) {
	f := newFixture(t)
	ckpt := testCheckpoint(t)
	b := &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes,
		Producer: testFingerprint, Checkpoint: ckpt, Created: t0}
	var buf bytes.Buffer
	if err := b.Encrypt(&buf, f.identity.Recipient()); err != nil {
		t.Fatal(err)
	}
	// 200 bytes of age (header, nonce, tag), 140 of cert, 32 of seed,
	// 124 of checkpoint, about 40 of the rest.
	if n := buf.Len(); n > 560 {
		t.Errorf("a rotation bundle is %d bytes, want at most 560", n)
	}
	got, err := DecryptBundle(bytes.NewReader(buf.Bytes()), f.identity)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Wipe()
	if !bytes.Equal(got.KES.Raw(), f.kes.Raw()) || !bytes.Equal(got.KES.Seed(), f.kes.Seed()) {
		t.Error("the KES key rebuilt from the seed differs")
	}
	if !bytes.Equal(got.Checkpoint, ckpt) {
		t.Errorf("checkpoint changed on the way:\n%s\nwant\n%s", got.Checkpoint, ckpt)
	}
	if got.Producer != testFingerprint || got.Producers != nil || got.PoolID != b.PoolID || got.Cold != b.Cold || *got.Cert != *f.cert {
		t.Error("bundle fields changed on the way")
	}

	// A checkpoint of another layout travels whole.
	for _, odd := range [][]byte{[]byte("checkpoint"), append(bytes.Clone(ckpt), "— other.example abcd\\n"...)} {
		b.Checkpoint = odd
		buf.Reset()
		if err := b.Encrypt(&buf, f.identity.Recipient()); err != nil {
			t.Fatal(err)
		}
		got, err := DecryptBundle(&buf, f.identity)
		if err != nil || !bytes.Equal(got.Checkpoint, odd) {
			t.Errorf("odd checkpoint %q: got %q, %v", odd, got.Checkpoint, err)
		}
	}
}

// TestOldBundlesAreRead decrypts bundles as versions 1 and 2 wrote them,
// with the expanded 608-byte KES key, and refuses a newer version by name.
func TestOldBundlesAreRead(t *testing.T) {
	f := newFixture(t)
	certCBOR, _ := f.cert.MarshalCBOR()
	pool := f.cold.Public().PoolID()
	cold := f.cold.Public()
	v1 := wireBundle{Magic: MagicBundle, Version: 1, Network: 1, PoolID: pool[:], ColdVKey: cold[:], Cert: certCBOR,
		Counter: f.cert.Counter, KESPeriod: f.cert.KESPeriod, KESSkey: f.kes.Raw(), VRFSkey: []byte{}, Producer: testFingerprint,
		Checkpoint: []byte("note"), Created: t0.Unix()}
	v2 := wireBundleV2{Magic: MagicBundle, Version: 2, Network: 1, PoolID: pool[:], ColdVKey: cold[:], Cert: certCBOR,
		Counter: f.cert.Counter, KESPeriod: f.cert.KESPeriod, KESSkey: f.kes.Raw(), VRFSkey: []byte{},
		Producers: []string{testFingerprint, "QRST-UVWX-YZ23-4567"}, Checkpoint: []byte("note"), Created: t0.Unix()}
	for name, plain := range map[string][]byte{"version 1": encode(v1), "version 2": encode(v2)} {
		got, err := DecryptBundle(bytes.NewReader(sealLegacy(t, plain, f.identity.Recipient())), f.identity)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.KES.Public() != f.kes.Public() || got.KES.Seed() != nil || string(got.Checkpoint) != "note" || got.Producer != testFingerprint {
			t.Errorf("%s: read back wrong", name)
		}
	}
	future := []any{MagicBundle, uint64(4), uint32(1)}
	_, err := DecryptBundle(bytes.NewReader(sealLegacy(t, encode(future), f.identity.Recipient())), f.identity)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "bundle version 4; this binary reads versions 1 to 3: upgrade it") {
		t.Errorf("version 4: got %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "cbor") {
		t.Errorf("version 4: the error shows the decoder's words: %v", err)
	}
}

// TestBundleSeedMustMatchTheCert changes the seed of a sealed bundle's
// plaintext: the rebuilt key is not the certified one.
func TestBundleSeedMustMatchTheCert(t *testing.T) {
	f := newFixture(t)
	certCBOR, _ := f.cert.MarshalCBOR()
	fb, _ := fingerprintBytes(testFingerprint)
	w := wireBundleV3{Magic: MagicBundle, Version: 3, Network: 1, Cert: certCBOR, KESSeed: bytes.Repeat([]byte{9}, keys.KESSeedSize),
		VRFSkey: []byte{}, Producers: [][]byte{fb}, Checkpoint: []byte{}, CheckpointNote: []byte{}, Created: t0.Unix()}
	_, err := DecryptBundle(bytes.NewReader(sealLegacy(t, encode(w), f.identity.Recipient())), f.identity)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not the one its cert certifies") {
		t.Errorf("got %v, want the KES key refused", err)
	}
	for _, bad := range []wireBundleV3{
		func() wireBundleV3 { c := w; c.KESSeed = c.KESSeed[:31]; return c }(),
		func() wireBundleV3 { c := w; c.Producers = nil; return c }(),
		func() wireBundleV3 { c := w; c.Producers = [][]byte{fb, fb}; return c }(),
		func() wireBundleV3 { c := w; c.Checkpoint = []byte{1, 2, 3}; return c }(),
	} {
		if _, err := DecryptBundle(bytes.NewReader(sealLegacy(t, encode(bad), f.identity.Recipient())), f.identity); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %v, want ErrFormat", fmt.Sprint(len(bad.KESSeed), len(bad.Producers), len(bad.Checkpoint)), err)
		}
	}
}

// Legacy writes the format agents before version 3 read: version 1 for
// one producer, 2 for several, with the expanded KES key and the whole
// checkpoint note; this binary reads it back the same.
func TestBundleLegacy(t *testing.T) {
	f := newFixture(t)
	ckpt := testCheckpoint(t)
	for _, producers := range [][]string{nil, {testFingerprint, "QRST-UVWX-YZ23-4567"}} {
		b := &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes,
			Producer: testFingerprint, Producers: producers, Checkpoint: ckpt, Created: t0, Legacy: true}
		recipients := []age.Recipient{f.identity.Recipient()}
		if producers != nil {
			other, err := age.GenerateX25519Identity()
			if err != nil {
				t.Fatal(err)
			}
			recipients = append(recipients, other.Recipient())
		}
		var buf bytes.Buffer
		if err := b.Encrypt(&buf, recipients...); err != nil {
			t.Fatal(err)
		}
		r, err := age.Decrypt(bytes.NewReader(buf.Bytes()), f.identity)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		want := uint64(1)
		if producers != nil {
			want = 2
		}
		if _, v, ok := bundleHead(plain); !ok || v != want {
			t.Errorf("%d producers: legacy bundle version %d, want %d", len(producers), v, want)
		}
		if buf.Len() < 1000 {
			t.Errorf("a legacy bundle of %d bytes cannot hold the expanded KES key", buf.Len())
		}
		got, err := DecryptBundle(bytes.NewReader(buf.Bytes()), f.identity)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.KES.Raw(), f.kes.Raw()) || !bytes.Equal(got.Checkpoint, ckpt) || got.Cert.Hash() != f.cert.Hash() {
			t.Error("the legacy bundle does not read back the same")
		}
		got.Wipe()
	}
}

// TestCheckBundleVersion: the versions Encrypt writes, and no other.
func TestCheckBundleVersion(t *testing.T) {
	for _, tc := range []struct {
		v  int
		ok bool
	}{{0, false}, {1, false}, {2, true}, {3, true}, {4, false}, {-3, false}} {
		err := CheckBundleVersion(tc.v)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBundleVersion)) {
			t.Errorf("version %d: got %v, want ok %v", tc.v, err, tc.ok)
		}
	}
	if BundleVersion != 3 || BundleVersionLegacy != 2 {
		t.Errorf("got versions %d and %d, want 3 and 2 (what agents read)", BundleVersion, BundleVersionLegacy)
	}
}

// TestLegacyVersion: which format each bundle version is written in, 0
// for the current one; a version Encrypt does not write is refused.
func TestLegacyVersion(t *testing.T) {
	for _, tc := range []struct {
		v          int
		legacy, ok bool
	}{{0, false, true}, {BundleVersion, false, true}, {BundleVersionLegacy, true, true}, {1, false, false}, {4, false, false}, {-2, false, false}} {
		legacy, err := LegacyVersion(tc.v)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBundleVersion)) || legacy != tc.legacy {
			t.Errorf("version %d: got %v, %v; want legacy %v, ok %v", tc.v, legacy, err, tc.legacy, tc.ok)
		}
	}
}
