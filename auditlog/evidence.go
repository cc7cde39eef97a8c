package auditlog

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Log format 2 makes every entry that a ceremony rule or a later rotation
// depends on checkable with the pool's cold vkey, not only with the audit
// key that signs the checkpoints (which sits on the vault stick): a
// cert-issued entry carries the op cert itself (signed by the cold key),
// and a producer-add entry carries a pin signed by the cold key. Someone
// who holds the audit key but not the cold key can still append entries
// that verify as a log, but not entries that pass these checks.

// LogFormat is the log format Create writes (in the init entry's detail
// DetailFormat). Logs without it are format 1: their cert-issued and
// producer-add entries carry no cold-key evidence until the first one that
// does, after which every one must.
const LogFormat = "2"

// Detail keys this package reads.
const (
	DetailFormat      = "log_format"  // init: the log format
	DetailProducer    = "producer"    // producer-add: the name the producer is pinned under
	DetailFingerprint = "fingerprint" // producer-add: the enrollment's fingerprint
	// DetailCompared on a producer-add entry is "true" when the operator's
	// fingerprint, read on the producer, was compared with the
	// enrollment's and matched, "false" when the producer was pinned
	// without comparing. Entries before it existed, and those that sign an
	// older pin or were recorded after a crash, have none: not known.
	DetailCompared = "fingerprint_compared"
	// DetailOverrides on a cert-issued entry lists, space-separated, the
	// overrides the rotation used (the Override… names). A cert issued
	// with an override of the clock or of the snapshot's age does not move
	// the pool's KES period forward for the rule that periods never go
	// back: an override cannot block later normal rotations.
	DetailOverrides = "overrides"
)

// Override names: how a log records an operator's override of a check, as
// detail keys of override entries and in DetailOverrides. They are stable
// names, not the spelling of a flag. (Format 1 logs keyed override entries
// by flag spelling, e.g. "--ignore-clock"; nothing reads those keys.)
const (
	OverrideAllowStale   = "allow_stale"   // a snapshot older than the maximum age was accepted
	OverrideMaxAge       = "max_age"       // a maximum snapshot age other than the default
	OverrideIgnoreClock  = "ignore_clock"  // a KES period beyond the clock's tolerance was accepted
	OverrideNow          = "now"           // the operator set the clock
	OverrideForceCounter = "force_counter" // the operator forced the counter
	OverridePlaintext    = "plaintext"     // secret keys exported in plaintext
	OverrideAllowNetwork = "allow_network" // secrets opened on a machine with a network
)

// clockOverrides are the overrides after which a cert's KES period does
// not count for the period rule.
var clockOverrides = map[string]bool{OverrideAllowStale: true, OverrideMaxAge: true, OverrideIgnoreClock: true, OverrideNow: true}

// maxCertHex bounds the hex of an op cert in an entry (a cert's CBOR is
// about 150 bytes).
const maxCertHex = 1024

// KESVKeyHash is the hex blake2b-256 of a 32-byte KES verification key:
// the KESVKeyHash of cert-issued entries.
func KESVKeyHash(vk []byte) string {
	h := blake2b.Sum256(vk)
	return hex.EncodeToString(h[:])
}

// cert parses the entry's Cert and checks it against the entry's fields:
// counter, KES period, cert hash (SHA-256 of the CBOR), KES vkey hash and
// pool. Whether the pool's cold key signed it is a ceremony rule (it needs
// the pool's binding): see semState.
func (e *Entry) cert() (*opcert.Certificate, error) {
	if len(e.Cert) > maxCertHex {
		return nil, fmt.Errorf("cert longer than %d hex digits", maxCertHex)
	}
	b, err := hex.DecodeString(e.Cert)
	if err != nil || hex.EncodeToString(b) != e.Cert {
		return nil, errors.New("cert is not lowercase hex")
	}
	c, err := opcert.ParseCBOR(b)
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	id := c.PoolID()
	switch {
	case e.Counter == nil || e.KESPeriod == nil || c.Counter != *e.Counter || c.KESPeriod != *e.KESPeriod:
		return nil, errors.New("cert's counter or KES period differs from the entry's")
	case c.Hash() != e.CertHash:
		return nil, errors.New("cert does not have the entry's cert hash")
	case KESVKeyHash(c.KESVKey[:]) != e.KESVKeyHash:
		return nil, errors.New("cert certifies another KES key than the entry's")
	case hex.EncodeToString(id[:]) != e.Pool:
		return nil, errors.New("cert is for another pool than the entry's")
	}
	return c, nil
}

// PinPrefix starts every pin message (see Pin).
const PinPrefix = "kesrotate producer pin v1\n"

// Pin is a pool's cold key vouching for the enrollment a vault pinned a
// producer to, in a producer-add entry:
//
//	PinPrefix vault id "\n" pool id hex "\n" producer "\n" enrollment SHA-256 hex "\n" fingerprint "\n"
//
// signed with plain Ed25519. A swapped enrollment file no longer matches
// its pin, and a pin for it cannot be made without the cold key.
type Pin struct {
	Producer    string `json:"producer"`    // the name the producer is pinned under
	Fingerprint string `json:"fingerprint"` // the enrollment's fingerprint
	Enrollment  string `json:"enrollment"`  // hex SHA-256 of the enrollment file
	ColdVKey    string `json:"cold_vkey"`   // hex of the pool's 32-byte cold vkey
	Signature   string `json:"signature"`   // hex of its Ed25519 signature over PinMessage
}

// PinMessage is what a pool's cold key signs to pin a producer.
func PinMessage(vaultID string, poolID [PoolIDSize]byte, producer, enrollmentSHA256, fingerprint string) []byte {
	return []byte(PinPrefix + vaultID + "\n" + hex.EncodeToString(poolID[:]) + "\n" + producer + "\n" +
		enrollmentSHA256 + "\n" + fingerprint + "\n")
}

// NewPin makes the pin of producer (enrollment file hash and fingerprint)
// for the pool of coldVKey in vault vaultID; sign is the cold key's
// signature function.
func NewPin(vaultID, producer, fingerprint, enrollmentSHA256 string, coldVKey ed25519.PublicKey, sign func([]byte) []byte) Pin {
	msg := PinMessage(vaultID, PoolID(coldVKey), producer, enrollmentSHA256, fingerprint)
	return Pin{Producer: producer, Fingerprint: fingerprint, Enrollment: enrollmentSHA256,
		ColdVKey: hex.EncodeToString(coldVKey), Signature: hex.EncodeToString(sign(msg))}
}

func (p *Pin) validate() error {
	if err := checkText("pin producer", p.Producer, false, true); err != nil {
		return err
	}
	if !isFingerprint(p.Fingerprint) {
		return errors.New("pin fingerprint is not XXXX-XXXX-XXXX-XXXX")
	}
	if err := checkHex("pin enrollment", p.Enrollment, 32, false); err != nil {
		return err
	}
	if err := checkHex("pin cold_vkey", p.ColdVKey, ed25519.PublicKeySize, false); err != nil {
		return err
	}
	return checkHex("pin signature", p.Signature, ed25519.SignatureSize, false)
}

// verify checks p's signature as the pin of pool in vault vaultID.
func (p *Pin) verify(vaultID string) error {
	vk, _ := hex.DecodeString(p.ColdVKey)
	sig, _ := hex.DecodeString(p.Signature)
	if err := checkColdVKey(vk); err != nil {
		return err
	}
	if !ed25519.Verify(vk, PinMessage(vaultID, PoolID(vk), p.Producer, p.Enrollment, p.Fingerprint), sig) {
		return errors.New("the pin's cold key signature does not verify")
	}
	return nil
}

func isFingerprint(s string) bool {
	if len(s) != 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%5 == 4 {
			if c != '-' {
				return false
			}
		} else if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// PinRecord is a producer pin as the log records it.
type PinRecord struct {
	Producer    string `json:"producer"`
	Pool        string `json:"pool"`
	Fingerprint string `json:"fingerprint"`
	Enrollment  string `json:"enrollment_sha256"` // "" if a format 1 entry did not hash the file
	Seq         int64  `json:"seq"`               // the entry that pinned it (the signed one, once there is one)
	// Signed is true when the pool's cold key signed the pin; format 1
	// pins are only as good as the audit key.
	Signed bool `json:"cold_signed"`
	// Removed is the producer-removed entry that ended the pin (0: the
	// pin holds).
	Removed int64 `json:"removed_seq,omitempty"`
}

// checkColdVKey refuses what cannot be a cold key: with a small-order
// point any signature verifies.
func checkColdVKey(vk []byte) error {
	if err := keys.CheckEd25519PublicKey(vk); err != nil {
		return fmt.Errorf("cold vkey: %w", err)
	}
	return nil
}
