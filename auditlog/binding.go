package auditlog

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// PoolIDSize is the size of a pool id: blake2b-224 of the cold vkey.
const PoolIDSize = 28

// BindingPrefix starts every binding message. Being ASCII text, it cannot
// be the start of an op-cert signable (a raw 32-byte KES vkey followed by
// two big-endian u64), and every binding message is longer than 48 bytes.
const BindingPrefix = "kesrotate audit-key binding v1\n"

// PoolID returns blake2b-224 of a cold Ed25519 public key.
func PoolID(coldVKey ed25519.PublicKey) [PoolIDSize]byte {
	h, err := blake2b.New(PoolIDSize, nil)
	if err != nil {
		panic(err) // unreachable: fixed valid size, no key
	}
	h.Write(coldVKey)
	var id [PoolIDSize]byte
	copy(id[:], h.Sum(nil))
	return id
}

// BindingMessage returns the message a pool's cold key signs to bind the
// vault's audit key to the pool:
//
//	"kesrotate audit-key binding v1\n" vault id "\n" pool id hex "\n" audit key text "\n"
func BindingMessage(vaultID string, poolID [PoolIDSize]byte, auditKey string) []byte {
	return []byte(BindingPrefix + vaultID + "\n" + hex.EncodeToString(poolID[:]) + "\n" + auditKey + "\n")
}

// Binding is the record of one audit-key binding, stored in an
// audit-binding entry (with the pool id in Entry.Pool).
type Binding struct {
	VaultID   string `json:"vault_id"`  // vault the audit key belongs to
	AuditKey  string `json:"audit_key"` // note verifier key text of the audit key
	ColdVKey  string `json:"cold_vkey"` // hex of the pool's raw 32-byte cold vkey
	Signature string `json:"signature"` // hex of the cold key's Ed25519 signature over BindingMessage
}

// Bind signs the binding of auditKey (verifier key text) in vault vaultID
// to the pool of coldPriv.
func Bind(coldPriv ed25519.PrivateKey, vaultID, auditKey string) (Binding, error) {
	if len(coldPriv) != ed25519.PrivateKeySize {
		return Binding{}, fmt.Errorf("bind audit key: cold key is %d bytes, want %d", len(coldPriv), ed25519.PrivateKeySize)
	}
	if err := CheckVaultID(vaultID); err != nil {
		return Binding{}, fmt.Errorf("bind audit key: %w", err)
	}
	if _, id, err := parseVerifierKey(auditKey); err != nil || id != vaultID {
		return Binding{}, errors.New("bind audit key: audit key is not this vault's")
	}
	vk := coldPriv.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(coldPriv, BindingMessage(vaultID, PoolID(vk), auditKey))
	return Binding{
		VaultID:   vaultID,
		AuditKey:  auditKey,
		ColdVKey:  hex.EncodeToString(vk),
		Signature: hex.EncodeToString(sig),
	}, nil
}

// Pool returns the pool id hex of the binding's cold vkey.
func (b Binding) Pool() (string, error) {
	vk, err := b.coldVKey()
	if err != nil {
		return "", err
	}
	id := PoolID(vk)
	return hex.EncodeToString(id[:]), nil
}

// Entry returns an audit-binding entry for b; the caller fills in Time,
// BinarySHA256, Version and the operator fields before appending.
func (b Binding) Entry() (Entry, error) {
	pool, err := b.Pool()
	if err != nil {
		return Entry{}, err
	}
	bb := b
	return Entry{Kind: KindAuditBinding, Pool: pool, Binding: &bb}, nil
}

func (b Binding) coldVKey() (ed25519.PublicKey, error) {
	vk, err := hex.DecodeString(b.ColdVKey)
	if err != nil || len(vk) != ed25519.PublicKeySize {
		return nil, errors.New("binding cold vkey is not 32 bytes of hex")
	}
	return vk, nil
}

func (b *Binding) validate() error {
	if err := CheckVaultID(b.VaultID); err != nil {
		return fmt.Errorf("binding: %w", err)
	}
	if _, _, err := parseVerifierKey(b.AuditKey); err != nil {
		return fmt.Errorf("binding audit key: %w", err)
	}
	if err := checkHex("binding cold_vkey", b.ColdVKey, ed25519.PublicKeySize, false); err != nil {
		return err
	}
	return checkHex("binding signature", b.Signature, ed25519.SignatureSize, false)
}

// VerifyBinding checks b's signature and, when coldVKey is not nil, that b
// binds that cold vkey. It does not check which vault or audit key the
// caller expects: compare b.VaultID and b.AuditKey for that (Verify does).
func VerifyBinding(b Binding, coldVKey ed25519.PublicKey) error {
	if err := b.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBinding, err)
	}
	vk, _ := b.coldVKey()
	if err := checkColdVKey(vk); err != nil {
		return fmt.Errorf("%w: %w", ErrBinding, err)
	}
	if coldVKey != nil && !vk.Equal(coldVKey) {
		return fmt.Errorf("%w: binding is for another cold key", ErrBinding)
	}
	sig, _ := hex.DecodeString(b.Signature)
	if !ed25519.Verify(vk, BindingMessage(b.VaultID, PoolID(vk), b.AuditKey), sig) {
		return fmt.Errorf("%w: cold key signature does not verify", ErrBinding)
	}
	return nil
}
