package ceremony

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestCheckNewPassphrase(t *testing.T) {
	for _, p := range []string{"", "short", "elevenchars", "aaaaaaaaaaaaaaaaaaaa", "abcabcabcabcabc", "12121212121212"} {
		if err := CheckNewPassphrase([]byte(p)); !errors.Is(err, ErrWeakPassphrase) {
			t.Errorf("%q: got %v, want ErrWeakPassphrase", p, err)
		}
	}
	for _, p := range []string{"correct horse battery staple", "hostile passphrase", "Tr0ub4dor&3xy", "ünïcödé-pässwörd"} {
		if err := CheckNewPassphrase([]byte(p)); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}
}

func TestNewPassphrase(t *testing.T) {
	// A made passphrase passes the check, has its form, and is not repeated.
	form := regexp.MustCompile(`^[a-z2-7]{5}(-[a-z2-7]{5}){4}$`)
	seen := map[string]bool{}
	for range 100 {
		p, err := NewPassphrase(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !form.Match(p) || CheckNewPassphrase(p) != nil || seen[string(p)] {
			t.Fatalf("made passphrase %q", p)
		}
		seen[string(p)] = true
	}
	// It comes from the source given: the same bytes, the same passphrase.
	src := bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 3)
	a, err := NewPassphrase(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewPassphrase(bytes.NewReader(src))
	if string(a) != "abcde-fghij-abcde-fghij-abcde" || !bytes.Equal(a, b) {
		t.Errorf("from a fixed source: got %q and %q, want abcde-fghij-abcde-fghij-abcde twice", a, b)
	}
	if _, err := NewPassphrase(bytes.NewReader(make([]byte, 25))); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("a source of zeros: got %v, want an error (ErrWeakPassphrase)", err)
	}
	if _, err := NewPassphrase(bytes.NewReader(src[:10])); err == nil {
		t.Error("a short source: no error")
	}
}

// TestNewPassphrasesAreChecked: a vault, an encryption and a backup copy
// refuse a weak new passphrase; a vault made with a weak one before the
// rule still opens with it.
func TestNewPassphrasesAreChecked(t *testing.T) {
	weak := &Encryption{Passphrase: []byte("pw"), WorkFactor: testWorkFactor}
	dir := filepath.Join(t.TempDir(), "vault")
	if _, err := Init(dir, InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{}, Encryption: weak}); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("Init: got %v, want ErrWeakPassphrase", err)
	}
	if _, err := os.Stat(filepath.Join(dir, VaultFile)); err == nil {
		t.Error("a refused Init left a vault")
	}
	v := newVault(t)
	if _, err := v.Encrypt(*weak, t0); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("Encrypt: got %v, want ErrWeakPassphrase", err)
	}
	if v.Encrypted() {
		t.Error("a refused Encrypt changed the vault's mode")
	}
	if _, _, _, err := v.CopyEncryption(weak); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("CopyEncryption: got %v, want ErrWeakPassphrase", err)
	}
}

// TestWeakOldPassphraseStillOpens: a vault encrypted with a passphrase
// the rule would refuse today (made before it) opens with that passphrase.
func TestWeakOldPassphraseStillOpens(t *testing.T) {
	v := newEncryptedVault(t, testPass)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	legacyVault(t, v, "pw", 0) // every secret file and the unlock file to "pw", as an old version made them
	w, err := Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Unlock(passAccess("pw"))
	q, err := w.Pool(p.Meta.Name)
	if err != nil {
		t.Fatal(err)
	}
	cold, err := q.ColdKey()
	if err != nil {
		t.Fatalf("the old weak passphrase no longer opens the vault: %v", err)
	}
	cold.Wipe()
}

// The rule for when a vault copy needs an encryption of its own is the
// one CopyEncryption applies.
func TestCopyNeedsEncryption(t *testing.T) {
	plain := newVault(t)
	if !plain.CopyNeedsEncryption() {
		t.Error("a plaintext vault: got no encryption needed")
	}
	if _, _, _, err := plain.CopyEncryption(nil); err == nil {
		t.Error("CopyEncryption(nil) of a plaintext vault: got no error")
	}
	enc := newEncryptedVault(t, testPass)
	if enc.CopyNeedsEncryption() {
		t.Error("an encrypted vault: got an encryption needed")
	}
	if _, _, mode, err := enc.CopyEncryption(nil); err != nil || mode != SecretsPassphrase {
		t.Errorf("CopyEncryption(nil) of an encrypted vault: got %q, %v", mode, err)
	}
}
