package transfer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// Each kind of file the tools pass around is named when given as another.
func TestKind(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		want string
	}{
		{[]byte("age-encryption.org/v1\n-> X25519 abc\n"), "age-encrypted"},
		{[]byte("\x89PNG\r\n\x1a\n...."), "PNG image"},
		{[]byte("\xff\xd8\xff\xe0...."), "JPEG image"},
		{[]byte("UR:KESROTATE-BUNDLE/1-3/LP..."), "text of a QR frame"},
		{[]byte("kesrotate.vault/0123\n12\nabc=\n"), "checkpoint"},
		{[]byte(`{"type": "StakePoolVerificationKey_ed25519", "cborHex": "5820"}`), "cardano-cli StakePoolVerificationKey_ed25519 file"},
		{[]byte(`{"a": 1}`), "a JSON file"},
		{[]byte("hello"), ""},
		{nil, ""},
	} {
		if got := Kind(tc.data); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("Kind(%q) = %q, want %q", tc.data, got, tc.want)
		}
	}
}

// A file of the wrong kind is ErrWrongKind (and ErrFormat), never
// ErrSignature: it is a mistake, not tampering.
func TestWrongKindIsNotTampering(t *testing.T) {
	f := newFixture(t)
	snap := f.snapshot().Marshal(f.signKey)
	enr, err := f.enroll.Marshal(f.signKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseEnrollment(snap); !errors.Is(err, ErrWrongKind) || !errors.Is(err, ErrFormat) || errors.Is(err, ErrSignature) ||
		!strings.Contains(err.Error(), "this is a kesrotate snapshot") {
		t.Errorf("snapshot as enrollment: %v", err)
	}
	if _, err := ParseSnapshot(enr, f.signKey.Public().(ed25519.PublicKey)); !errors.Is(err, ErrWrongKind) || errors.Is(err, ErrSignature) {
		t.Errorf("enrollment as snapshot: %v", err)
	}
	if _, err := ReceiptSigner(enr); !errors.Is(err, ErrWrongKind) {
		t.Errorf("enrollment as receipt: %v", err)
	}
	if err := CheckBundleFile(snap); !errors.Is(err, ErrWrongKind) {
		t.Errorf("snapshot as bundle: %v", err)
	}
	if err := CheckBundleFile([]byte("age-encryption.org/v1\n")); err != nil {
		t.Errorf("age file: %v", err)
	}
	// A snapshot with its body changed is still tampering.
	bad := bytes.Clone(snap)
	bad[len(bad)-70] ^= 1
	if _, err := ParseSnapshot(bad, f.signKey.Public().(ed25519.PublicKey)); errors.Is(err, ErrWrongKind) {
		t.Errorf("a changed snapshot is called a wrong file: %v", err)
	}
}
