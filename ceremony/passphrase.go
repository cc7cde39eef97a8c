package ceremony

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"
)

// The rule for a new passphrase: at least MinPassphraseChars characters,
// of which at least MinPassphraseDistinct differ. scrypt slows guessing;
// it does not make "short" or "aaaaaaaaaaaa" safe for a vault that can be
// copied and attacked offline.
const (
	MinPassphraseChars    = 12
	MinPassphraseDistinct = 6
)

// CheckNewPassphrase refuses a new passphrase that breaks the rule above,
// with an error wrapping ErrWeakPassphrase. Init, Encrypt and
// CopyEncryption apply it to the passphrase they encrypt to; a passphrase
// that already protects a vault is never checked, so it still opens.
func CheckNewPassphrase(p []byte) error {
	n := utf8.RuneCount(p)
	if n < MinPassphraseChars {
		return fmt.Errorf("%w: %d characters", ErrWeakPassphrase, n)
	}
	distinct := map[rune]bool{}
	for _, r := range string(p) {
		distinct[r] = true
	}
	if len(distinct) < MinPassphraseDistinct {
		return fmt.Errorf("%w: only %d different characters", ErrWeakPassphrase, len(distinct))
	}
	return nil
}

// passphraseAlphabet is the fingerprint alphabet: 32 letters and digits
// that cannot be mistaken for each other when written down.
const passphraseAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// NewPassphrase makes a passphrase from rand: 25 characters of a-z and
// 2-7 in groups of five (xxxxx-xxxxx-xxxxx-xxxxx-xxxxx), 125 bits. It
// passes CheckNewPassphrase. The caller wipes it.
func NewPassphrase(rand io.Reader) ([]byte, error) {
	r := make([]byte, 25)
	defer wipeBytes(r)
	if _, err := io.ReadFull(rand, r); err != nil {
		return nil, fmt.Errorf("making a passphrase: %w", err)
	}
	var b bytes.Buffer
	b.Grow(29)
	for i, x := range r {
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(passphraseAlphabet[x&31])
	}
	p := b.Bytes()
	if err := CheckNewPassphrase(p); err != nil {
		// Under 5 different letters in 25 draws of 32: not a random source.
		wipeBytes(p)
		return nil, fmt.Errorf("making a passphrase: the random source looks broken: %w", err)
	}
	return p, nil
}
