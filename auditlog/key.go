package auditlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// OriginPrefix starts the origin (and audit key name) of every vault log.
const OriginPrefix = "kesrotate.vault/"

// VaultIDSize is the number of random bytes in a vault id; the id is their
// lowercase hex.
const VaultIDSize = 16

// NewVaultID returns a fresh random vault id read from rand.
func NewVaultID(rand io.Reader) (string, error) {
	var b [VaultIDSize]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("read random vault id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// CheckVaultID reports whether id is a well-formed vault id.
func CheckVaultID(id string) error {
	if err := checkHex("vault id", id, VaultIDSize, false); err != nil {
		return err
	}
	return nil
}

// Origin returns the checkpoint origin and audit key name of a vault:
// "kesrotate.vault/<vault id>".
func Origin(vaultID string) string { return OriginPrefix + vaultID }

// vaultIDFromOrigin is the inverse of Origin.
func vaultIDFromOrigin(origin string) (string, error) {
	id, ok := strings.CutPrefix(origin, OriginPrefix)
	if !ok || CheckVaultID(id) != nil {
		return "", fmt.Errorf("origin %q is not a kesrotate vault", textsafe.Cut(origin, 40))
	}
	return id, nil
}

// SignerKey is the secret audit signing key, in note signer key text
// ("PRIVATE+KEY+<name>+<hash>+<key>"). It formats as [REDACTED].
type SignerKey struct {
	text string
}

// String implements fmt.Stringer without revealing the key.
func (SignerKey) String() string { return "[REDACTED]" }

// GoString implements fmt.GoStringer without revealing the key.
func (SignerKey) GoString() string { return "[REDACTED]" }

// Format implements fmt.Formatter without revealing the key.
func (SignerKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[REDACTED]") }

// IsZero reports whether k holds no key.
func (k SignerKey) IsZero() bool { return k.text == "" }

func (k SignerKey) signer() (note.Signer, error) {
	s, err := note.NewSigner(k.text)
	if err != nil {
		// The note error never contains key bytes.
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	return s, nil
}

// VerifierKey returns the public verifier key text of k, or an error if k
// is malformed.
func (k SignerKey) VerifierKey() (string, error) {
	// "PRIVATE+KEY+name+hash+base64(alg‖seed)"
	s, err := k.signer()
	if err != nil {
		return "", err
	}
	// "PRIVATE+KEY+<name>+<hash>+<key>"; the name has no "+".
	rest := k.text
	for range 4 {
		_, rest, _ = strings.Cut(rest, "+")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return "", errors.New("audit signing key: malformed")
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	vkey, err := note.NewEd25519VerifierKey(s.Name(), priv.Public().(ed25519.PublicKey))
	clear(raw)
	return vkey, err
}

// ParseSignerKey wraps signer key text (as written by WriteSignerKey,
// trailing newline allowed) after checking that it is a kesrotate audit key.
func ParseSignerKey(text string) (SignerKey, error) {
	k := SignerKey{text: strings.TrimSuffix(text, "\n")}
	s, err := k.signer()
	if err != nil {
		return SignerKey{}, err
	}
	if _, err := vaultIDFromOrigin(s.Name()); err != nil {
		return SignerKey{}, fmt.Errorf("audit signing key: %w", err)
	}
	return k, nil
}

// GenerateKey creates the audit key of a vault: an Ed25519 note key named
// Origin(vaultID). It returns the secret signer key and the public
// verifier key text.
func GenerateKey(rand io.Reader, vaultID string) (SignerKey, string, error) {
	if err := CheckVaultID(vaultID); err != nil {
		return SignerKey{}, "", err
	}
	skey, vkey, err := note.GenerateKey(rand, Origin(vaultID))
	if err != nil {
		return SignerKey{}, "", fmt.Errorf("generate audit key: %w", err)
	}
	return SignerKey{text: skey}, vkey, nil
}

// WriteSignerKey writes k to a new file at path: O_CREATE|O_EXCL, mode
// 0600, fsync, close. The file is removed if any step fails.
func WriteSignerKey(path string, k SignerKey) error {
	if k.IsZero() {
		return errors.New("write audit signing key: empty key")
	}
	err := safefile.CreateSecret(path, []byte(k.text+"\n"))
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("write audit signing key: %w: %w", ErrExists, err)
	}
	if err != nil {
		return fmt.Errorf("write audit signing key: %w", err)
	}
	return nil
}

// MarshalSecret returns the key as WriteSignerKey writes it, for a caller
// that keeps it encrypted. The caller wipes the result.
func (k SignerKey) MarshalSecret() []byte { return []byte(k.text + "\n") }

// ReadSignerKey reads a key written by WriteSignerKey.
func ReadSignerKey(path string) (SignerKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return SignerKey{}, fmt.Errorf("read audit signing key: %w", err)
	}
	k, err := ParseSignerKey(string(b))
	clear(b)
	return k, err
}

const algEd25519 = 1

// ed25519Signer is a note.Signer over a raw Ed25519 private key.
type ed25519Signer struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
}

func (s *ed25519Signer) Name() string                    { return s.name }
func (s *ed25519Signer) KeyHash() uint32                 { return s.hash }
func (s *ed25519Signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// NewEd25519Signer returns a note signer named name for an existing
// Ed25519 key (for example the producer's snapshot key, to countersign
// checkpoints). Its verifier key is NewEd25519VerifierKey(name, pub).
func NewEd25519Signer(name string, priv ed25519.PrivateKey) (note.Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("ed25519 private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	pub := priv.Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, err
	}
	if _, err := note.NewVerifier(vkey); err != nil { // rejects invalid names
		return nil, fmt.Errorf("note key name %q: %w", textsafe.Cut(name, 40), err)
	}
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algEd25519})
	h.Write(pub)
	return &ed25519Signer{name: name, hash: binary.BigEndian.Uint32(h.Sum(nil)), priv: priv}, nil
}

// NewEd25519VerifierKey returns the note verifier key text for an Ed25519
// public key under name.
func NewEd25519VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	return note.NewEd25519VerifierKey(name, pub)
}

// ParseVerifierKey reads a note verifier key file (an audit.pub, or a
// countersigner.pub 'kesrotate-agent checkpoint countersign' wrote): one
// line of verifier key text, surrounding white space ignored. Anything
// else is an error wrapping ErrVerifierKey.
func ParseVerifierKey(data []byte) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerifierKey, err)
	}
	return v, nil
}

// parseVerifierKey parses audit key text and returns the verifier and the
// vault id from its name.
func parseVerifierKey(text string) (note.Verifier, string, error) {
	v, err := note.NewVerifier(text)
	if err != nil {
		return nil, "", err
	}
	id, err := vaultIDFromOrigin(v.Name())
	if err != nil {
		return nil, "", err
	}
	// The key text must be in its one canonical form.
	_, rest, _ := strings.Cut(text, "+")
	hash16, key64, _ := strings.Cut(rest, "+")
	raw, err := base64.StdEncoding.Strict().DecodeString(key64)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != key64 || hash16 != strings.ToLower(hash16) {
		return nil, "", errors.New("audit key is not in canonical form")
	}
	return v, id, nil
}
