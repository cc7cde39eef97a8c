package transfer

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/keys"
)

// Enrollment is the public half of a producer identity: the age recipient
// bundles are encrypted to, the Ed25519 key that signs its snapshots, and
// what it serves (network, pool). It is self-signed by the snapshot key.
type Enrollment struct {
	Name      string // the producer's own name for itself (informative)
	Magic     uint32
	PoolID    keys.PoolID
	Recipient string // age1… X25519 recipient
	SignKey   ed25519.PublicKey
	Created   time.Time
}

type wireEnrollmentBody struct {
	_         struct{} `cbor:",toarray"`
	Magic     string
	Version   uint64
	Name      string
	Network   uint32
	PoolID    []byte
	Recipient string
	SignKey   []byte
	Created   int64
}

type wireSigned struct {
	_    struct{} `cbor:",toarray"`
	Body []byte
	Sig  []byte
}

const enrollmentDomain = "kesrotate enrollment v1"

func (e *Enrollment) body() []byte {
	return encode(wireEnrollmentBody{
		Magic: MagicEnrollment, Version: Version, Name: e.Name, Network: e.Magic, PoolID: e.PoolID[:],
		Recipient: e.Recipient, SignKey: e.SignKey, Created: e.Created.Unix(),
	})
}

// Fingerprint is a short, case-insensitive digest of the enrollment that
// the operator compares on the producer's and the cold machine's screens.
func (e *Enrollment) Fingerprint() string { return fingerprint(e.body()) }

// CheckFingerprint reports whether s has the form Fingerprint writes: four
// groups of four RFC 4648 base32 characters (upper case), joined by '-'.
func CheckFingerprint(s string) error {
	ok := len(s) == 19
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		if i%5 == 4 {
			ok = c == '-'
		} else {
			ok = (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')
		}
	}
	if !ok {
		return fmt.Errorf("%w: %q is not a producer fingerprint (XXXX-XXXX-XXXX-XXXX)", ErrFormat, s)
	}
	return nil
}

// NormalizeFingerprint reads a fingerprint as a person types it from a
// screen: any case, with or without the dashes or with spaces, and with
// the digits base32 does not use read as the letters they are mistaken
// for (0 as O, 1 as I, 8 as B). It returns the fingerprint in the form
// Fingerprint writes, or an error if it cannot be one.
func NormalizeFingerprint(s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case '-', ' ', '\t':
			continue
		case '0':
			r = 'O'
		case '1':
			r = 'I'
		case '8':
			r = 'B'
		}
		if b.Len() > 0 && b.Len()%5 == 4 {
			b.WriteByte('-')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if err := CheckFingerprint(out); err != nil {
		return "", fmt.Errorf("%w: %q is not a producer fingerprint (XXXX-XXXX-XXXX-XXXX: letters and the digits 2 to 7)", ErrFormat, s)
	}
	return out, nil
}

func fingerprint(body []byte) string {
	h := sha256.Sum256(body)
	s := base32.StdEncoding.EncodeToString(h[:10]) // 16 characters
	return strings.Join([]string{s[0:4], s[4:8], s[8:12], s[12:16]}, "-")
}

// Marshal signs the enrollment with the producer's snapshot key.
func (e *Enrollment) Marshal(signer ed25519.PrivateKey) ([]byte, error) {
	if !signer.Public().(ed25519.PublicKey).Equal(e.SignKey) {
		return nil, fmt.Errorf("enrollment must be signed by its own snapshot key")
	}
	body := e.body()
	return encode(wireSigned{Body: body, Sig: ed25519.Sign(signer, signedMessage(enrollmentDomain, body))}), nil
}

// ParseEnrollment reads and checks an enrollment: shape, self-signature
// and a usable age recipient.
func ParseEnrollment(data []byte) (*Enrollment, error) {
	s, err := decodeSigned("enrollment", MagicEnrollment, data)
	if err != nil {
		return nil, err
	}
	var b wireEnrollmentBody
	if err := decode("enrollment body", s.Body, &b); err != nil {
		return nil, err
	}
	if err := checkHead("enrollment", b.Magic, b.Version, MagicEnrollment); err != nil {
		return nil, err
	}
	if err := fixed("enrollment pool id", b.PoolID, keys.PoolIDSize); err != nil {
		return nil, err
	}
	if err := fixed("enrollment signing key", b.SignKey, ed25519.PublicKeySize); err != nil {
		return nil, err
	}
	if err := keys.CheckEd25519PublicKey(b.SignKey); err != nil {
		return nil, fmt.Errorf("enrollment signing key: %w", err)
	}
	if !ed25519.Verify(b.SignKey, signedMessage(enrollmentDomain, s.Body), s.Sig) {
		return nil, fmt.Errorf("%w: the enrollment is not signed by the key it carries", ErrSignature)
	}
	if _, err := ParseAnyRecipient(b.Recipient); err != nil {
		return nil, err
	}
	if err := checkText("enrollment name", b.Name, MaxName); err != nil {
		return nil, err
	}
	e := &Enrollment{Name: b.Name, Magic: b.Network, Recipient: b.Recipient, SignKey: b.SignKey, Created: time.Unix(b.Created, 0).UTC()}
	copy(e.PoolID[:], b.PoolID)
	return e, nil
}

// MaxName bounds the producer's name for itself in an enrollment.
const MaxName = 64

// checkText refuses producer-written text that could change what the cold
// machine's screen or log shows: invalid UTF-8, control characters,
// bidirectional overrides and other format characters, or more than max
// bytes.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrFormat, what, len(s), max)
	}
	if !textsafe.Clean(s) {
		return fmt.Errorf("%w: %s %+q holds control or formatting characters", ErrFormat, what, s)
	}
	return nil
}

// ParseRecipient accepts an age X25519 recipient (age1…).
func ParseRecipient(s string) (age.Recipient, error) {
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrRecipient, s, err)
	}
	return r, nil
}
