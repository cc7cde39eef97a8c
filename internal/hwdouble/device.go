package hwdouble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/btcsuite/btcd/btcutil/bech32"
	"golang.org/x/crypto/blake2b"
)

// TestMnemonic is the mnemonic the double's device holds unless told
// otherwise: the one cardano-hw-cli's own Ledger tests load into speculos
// (test/integration/ledger/node/signingFiles.ts).
const TestMnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

// Derivation is how a device turns a mnemonic into its root key.
type Derivation int

// The derivations of CIP-3 the double knows.
const (
	Ledger Derivation = iota // Ledger devices
	Icarus                   // Yoroi, Daedalus, Trezor (< 24 words)
)

// ParseDerivation reads the names cardano-hw-cli's --derivation-type uses.
func ParseDerivation(s string) (Derivation, error) {
	switch s {
	case "", "LEDGER":
		return Ledger, nil
	case "ICARUS":
		return Icarus, nil
	}
	return 0, fmt.Errorf("derivation %q: want LEDGER or ICARUS", s)
}

// ErrRejected: the app's security policy refuses the request (the Ledger
// app's ERR_REJECTED_BY_POLICY), e.g. an op cert for a path that is not a
// pool cold key.
var ErrRejected = errors.New("rejected by the app's security policy")

// Device is a Ledger with the Cardano app, as far as pool cold keys go:
// it exports their public keys and signs op certs with them (the app's
// getExtendedPublicKey and signOpCert), and nothing else.
type Device struct {
	root XPrv
}

// NewDevice is a device restored from a BIP-39 mnemonic (checked) and an
// optional passphrase (ASCII here: the double does no NFKD).
func NewDevice(mnemonic, passphrase string, d Derivation) (*Device, error) {
	entropy, err := Entropy(mnemonic)
	if err != nil {
		return nil, err
	}
	for _, r := range passphrase {
		if r > 0x7e || r < 0x20 {
			return nil, errors.New("the double takes printable ASCII passphrases only")
		}
	}
	switch d {
	case Ledger:
		return &Device{root: LedgerMaster(mnemonic, passphrase)}, nil
	case Icarus:
		return &Device{root: IcarusMaster(entropy, []byte(passphrase))}, nil
	}
	return nil, fmt.Errorf("unknown derivation %d", d)
}

// PoolColdXPub exports the extended public key at a pool cold key path.
func (d *Device) PoolColdXPub(path []uint32) ([64]byte, error) {
	if !IsPoolColdKeyPath(path) {
		return [64]byte{}, fmt.Errorf("%w: %s is not a pool cold key path (1853H/1815H/0H/NH)", ErrRejected, FormatPath(path))
	}
	return d.root.DerivePath(path).XPub(), nil
}

// SignOpCert is the app's signOpCert: the 48 bytes KES vkey ‖ u64 BE
// counter ‖ u64 BE period, signed with the key at a pool cold key path
// (policyForSignOpCert denies every other path).
func (d *Device) SignOpCert(path []uint32, kesVK [32]byte, period, counter uint64) ([64]byte, error) {
	if !IsPoolColdKeyPath(path) {
		return [64]byte{}, fmt.Errorf("%w: %s is not a pool cold key path (1853H/1815H/0H/NH)", ErrRejected, FormatPath(path))
	}
	body := make([]byte, 0, 48)
	body = append(body, kesVK[:]...)
	body = binary.BigEndian.AppendUint64(body, counter)
	body = binary.BigEndian.AppendUint64(body, period)
	return d.root.DerivePath(path).Sign(body), nil
}

// Screens are what the device shows for an op cert, in order (signOpCert.c:
// the path as bip44_printToStr prints it, the pool id and the KES key in
// bech32, the numbers in decimal).
func (d *Device) Screens(path []uint32, kesVK [32]byte, period, counter uint64) []string {
	pk := d.root.DerivePath(path).Public()
	id := blake2b224(pk[:])
	printed := "m"
	for _, v := range path {
		if v >= Hardened {
			printed += "/" + strconv.FormatUint(uint64(v-Hardened), 10) + "'"
		} else {
			printed += "/" + strconv.FormatUint(uint64(v), 10)
		}
	}
	return []string{
		"Start new operational certificate?",
		"Pool cold key path: " + printed,
		"Pool ID: " + bech32String("pool", id),
		"KES public key: " + bech32String("kes_vk", kesVK[:]),
		"KES period: " + strconv.FormatUint(period, 10),
		"Issue counter: " + strconv.FormatUint(counter, 10),
		"Confirm operational certificate?",
	}
}

func blake2b224(b []byte) []byte {
	h, err := blake2b.New(28, nil)
	if err != nil {
		panic("hwdouble: blake2b-224: " + err.Error())
	}
	h.Write(b)
	return h.Sum(nil)
}

func bech32String(hrp string, data []byte) string {
	conv, err := bech32.ConvertBits(data, 8, 5, true)
	if err != nil {
		panic("hwdouble: bech32 of bytes: " + err.Error())
	}
	s, err := bech32.Encode(hrp, conv)
	if err != nil {
		panic("hwdouble: bech32: " + err.Error())
	}
	return s
}
