package transfer

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"filippo.io/age"
	"filippo.io/hpke"
	"filippo.io/nistec"
	"github.com/btcsuite/btcd/btcutil/bech32"
)

// TagRecipient is an age "p256tag" recipient (age1tag1…): a P-256 key held
// in hardware (a YubiKey or a TPM through an age plugin). Encrypting to it
// needs no plugin; only the producer's decryption does.
//
// It is written from the C2SP age tag specification rather than imported
// from filippo.io/age/tag, because that package pulls in age's plugin
// client and with it os/exec, which the cold binary must not link. The
// test checks it against filippo.io/age/tag stanza for stanza.
type TagRecipient struct {
	compressed []byte // 33-byte SEC 1 compressed point
	pk         hpke.PublicKey
}

const (
	tagHRP   = "age1tag"
	tagLabel = "age-encryption.org/p256tag"
	tagType  = "p256tag"
)

// ParseTagRecipient reads an age1tag1… recipient.
func ParseTagRecipient(s string) (*TagRecipient, error) {
	hrp, data, err := bech32.DecodeNoLimit(s)
	if err != nil || hrp != tagHRP {
		return nil, fmt.Errorf("%w: %q is not an age1tag1 recipient", ErrRecipient, s)
	}
	raw, err := bech32.ConvertBits(data, 5, 8, false)
	if err != nil || len(raw) != 33 {
		return nil, fmt.Errorf("%w: %q: want a 33-byte compressed P-256 key", ErrRecipient, s)
	}
	p, err := nistec.NewP256Point().SetBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a P-256 point", ErrRecipient, s)
	}
	pk, err := hpke.DHKEM(ecdh.P256()).NewPublicKey(p.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrRecipient, s, err)
	}
	return &TagRecipient{compressed: raw, pk: pk}, nil
}

// String is the age1tag1… form.
func (r *TagRecipient) String() string {
	conv, _ := bech32.ConvertBits(r.compressed, 8, 5, true)
	s, _ := bech32.Encode(tagHRP, conv)
	return s
}

// Wrap seals the file key with HPKE (DHKEM P-256, HKDF-SHA256,
// ChaCha20-Poly1305, info = the label) and adds the 4-byte tag that lets
// the hardware holder find its stanza: HKDF-Extract(salt = label,
// ikm = enc ‖ SHA-256(recipient)[:4])[:4].
func (r *TagRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	enc, s, err := hpke.NewSender(r.pk, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte(tagLabel))
	if err != nil {
		return nil, fmt.Errorf("setting up HPKE: %w", err)
	}
	ct, err := s.Seal(nil, fileKey)
	if err != nil {
		return nil, err
	}
	tag, err := r.tag(enc)
	if err != nil {
		return nil, err
	}
	b64 := base64.RawStdEncoding
	return []*age.Stanza{{Type: tagType, Args: []string{b64.EncodeToString(tag), b64.EncodeToString(enc)}, Body: ct}}, nil
}

func (r *TagRecipient) tag(enc []byte) ([]byte, error) {
	rh := sha256.Sum256(r.compressed)
	ikm := append(append([]byte{}, enc...), rh[:4]...)
	prk, err := hkdf.Extract(sha256.New, ikm, []byte(tagLabel))
	if err != nil {
		return nil, err
	}
	return prk[:4], nil
}

// ParseAnyRecipient accepts an X25519 recipient (age1…) or a hardware
// tag recipient (age1tag1…).
func ParseAnyRecipient(s string) (age.Recipient, error) {
	if strings.HasPrefix(s, tagHRP+"1") {
		return ParseTagRecipient(s)
	}
	return ParseRecipient(s)
}
