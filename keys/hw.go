package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcutil/bech32"

	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// A pool cold key on a hardware wallet (a Ledger with the Cardano app)
// never leaves the device. cardano-hw-cli stands for it with a signing
// file: JSON with the key's derivation path and extended public key,
// which its node commands take with --hw-signing-file.
//
// The types cardano-hw-cli has written for pool cold keys
// (vacuumlabs/cardano-hw-cli src/fileWriter.ts over its history; its
// reader takes any type that starts with "StakePool" for a pool cold key
// path, src/command-parser/parsers.ts).
const (
	// TypeHWSigningFile: since the Conway-era releases.
	TypeHWSigningFile = "StakePoolHWSigningFile_ed25519"
	// TypeHWSigningFileShelley: March 2021 until then.
	TypeHWSigningFileShelley = "StakePoolHWSigningFileShelley_ed25519"
	// TypeHWSigningFilePoolCold: the first release with op certs (March
	// 2021); later cardano-hw-cli releases refuse it.
	TypeHWSigningFilePoolCold = "PoolColdHWSigningFileShelley_ed25519"
	// DescriptionHWSigningFile is the description cardano-hw-cli writes.
	DescriptionHWSigningFile = "Stake Pool Hardware Signing File"
)

// HardenedIndex is the first hardened BIP32 index: NH is N + HardenedIndex.
const HardenedIndex = 1 << 31

// hwKeys are the keys of a signing file.
var hwKeys = []string{"type", "description", "path", "cborXPubKeyHex"}

// HWSigningFile is cardano-hw-cli's signing file of a pool cold key held
// on a hardware wallet: where the key is (a CIP-1853 path) and its
// extended public key (public key ‖ chain code). It holds nothing secret.
type HWSigningFile struct {
	Path []uint32 // 1853H/1815H/0H/NH, hardened indexes with HardenedIndex added
	XPub [ColdExtendedVKeySize]byte
}

// ParseHWSigningFile reads a pool cold key's signing file as cardano-hw-cli
// writes it ("type", "description", "path", "cborXPubKeyHex"), with
// ParseEnvelope's JSON rules. The type must be one cardano-hw-cli writes
// for pool cold keys, the path a pool cold key path (ErrHWPath otherwise,
// naming it), cborXPubKeyHex the canonical CBOR of 64 bytes, and its
// first 32 a usable Ed25519 public key.
func ParseHWSigningFile(data []byte) (*HWSigningFile, error) {
	got, err := readStringObject(data, hwKeys, ErrHWSigningFile)
	if err != nil {
		return nil, err
	}
	if got["type"] == nil || got["path"] == nil || got["cborXPubKeyHex"] == nil {
		return nil, fmt.Errorf("%w: missing \"type\", \"path\" or \"cborXPubKeyHex\"", ErrHWSigningFile)
	}
	switch t := *got["type"]; t {
	case TypeHWSigningFile, TypeHWSigningFileShelley, TypeHWSigningFilePoolCold:
	default:
		return nil, fmt.Errorf("%w: got %q, want %q (a pool cold key's signing file, from 'cardano-hw-cli node key-gen')", ErrType, textsafe.Cut(t, 32), TypeHWSigningFile)
	}
	path, err := ParseHWPath(*got["path"])
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(*got["cborXPubKeyHex"])
	if err != nil {
		return nil, fmt.Errorf("%w: cborXPubKeyHex is not hex", ErrHWSigningFile)
	}
	xpub, err := decodeByteString(b)
	if err != nil {
		return nil, err
	}
	if len(xpub) != ColdExtendedVKeySize {
		return nil, fmt.Errorf("%w: cborXPubKeyHex holds %d bytes, want %d (public key ‖ chain code)", ErrSize, len(xpub), ColdExtendedVKeySize)
	}
	if err := CheckEd25519PublicKey(xpub[:ColdVKeySize]); err != nil {
		return nil, fmt.Errorf("signing file's public key: %w", err)
	}
	f := &HWSigningFile{Path: path}
	copy(f.XPub[:], xpub)
	return f, nil
}

// ParseHWPath reads a derivation path as cardano-hw-cli writes it
// (indexes in decimal separated by '/', 'H' after a hardened one) and
// requires a pool cold key path, 1853H/1815H/0H/NH: an op cert signed
// with any other key is worthless, and the Cardano app refuses to sign
// one.
func ParseHWPath(s string) ([]uint32, error) {
	bad := func() error {
		return fmt.Errorf("%w: %q; a pool's cold key on a hardware wallet is at 1853H/1815H/0H/NH (CIP-1853), e.g. 1853H/1815H/0H/0H", ErrHWPath, textsafe.Cut(s, 32))
	}
	parts := strings.Split(s, "/")
	path := make([]uint32, len(parts))
	for i, part := range parts {
		num, hard := strings.CutSuffix(part, "H")
		n, err := strconv.ParseUint(num, 10, 31)
		if err != nil || strconv.FormatUint(n, 10) != num {
			return nil, bad()
		}
		path[i] = uint32(n)
		if hard {
			path[i] += HardenedIndex
		}
	}
	if len(path) != 4 || path[0] != HardenedIndex+1853 || path[1] != HardenedIndex+1815 || path[2] != HardenedIndex || path[3] < HardenedIndex {
		return nil, bad()
	}
	return path, nil
}

// ColdKeyPath is the derivation path of a pool's cold key number index
// on a hardware wallet (CIP-1853): 1853H/1815H/0H/indexH, the only paths
// ParseHWPath takes. index is below HardenedIndex.
func ColdKeyPath(index uint32) []uint32 {
	return []uint32{HardenedIndex + 1853, HardenedIndex + 1815, HardenedIndex, HardenedIndex + index%HardenedIndex}
}

// HWKeyGenCommand is the cardano-hw-cli command, one argument an element,
// that makes the pool cold key at path on a hardware wallet and writes
// what a hardware pool is imported from: the signing file cold.hwsfile
// (ParseHWSigningFile), cold.vkey and the counter file cold.counter.
func HWKeyGenCommand(path []uint32) []string {
	return []string{"cardano-hw-cli", "node", "key-gen", "--path", FormatHWPath(path),
		"--hw-signing-file", "cold.hwsfile", "--cold-verification-key-file", "cold.vkey",
		"--operational-certificate-issue-counter-file", "cold.counter"}
}

// PathString writes the path as cardano-hw-cli does: 1853H/1815H/0H/0H.
func (f *HWSigningFile) PathString() string { return FormatHWPath(f.Path) }

// FormatHWPath writes a path as cardano-hw-cli does.
func FormatHWPath(path []uint32) string {
	parts := make([]string, len(path))
	for i, v := range path {
		if v >= HardenedIndex {
			parts[i] = strconv.FormatUint(uint64(v-HardenedIndex), 10) + "H"
		} else {
			parts[i] = strconv.FormatUint(uint64(v), 10)
		}
	}
	return strings.Join(parts, "/")
}

// DevicePath is the path as the Cardano app shows it on the device's
// screen: m/1853'/1815'/0'/0'.
func (f *HWSigningFile) DevicePath() string {
	return "m/" + strings.ReplaceAll(f.PathString(), "H", "'")
}

// ColdVKey is the pool's cold verification key: the first 32 bytes of the
// extended public key (the pool id hashes those).
func (f *HWSigningFile) ColdVKey() ColdVKey {
	var vk ColdVKey
	copy(vk[:], f.XPub[:ColdVKeySize])
	return vk
}

// Marshal writes the signing file as cardano-hw-cli writes it today
// (TypeHWSigningFile; JSON.stringify with a 4-space indent, no final
// newline), whatever type it was read with: cardano-hw-cli releases since
// 2021 refuse the first type.
func (f *HWSigningFile) Marshal() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(struct {
		Type        string `json:"type"`
		Description string `json:"description"`
		Path        string `json:"path"`
		XPub        string `json:"cborXPubKeyHex"`
	}{TypeHWSigningFile, DescriptionHWSigningFile, f.PathString(), hex.EncodeToString(encodeByteString(f.XPub[:]))}); err != nil {
		panic("keys: encoding a signing file cannot fail: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Bech32 is the kes_vk1… form a Ledger shows when it signs an op cert.
func (vk KESVKey) Bech32() string {
	conv, err := bech32.ConvertBits(vk[:], 8, 5, true)
	if err != nil {
		panic("keys: converting 32 bytes to base32 cannot fail")
	}
	s, err := bech32.Encode("kes_vk", conv)
	if err != nil {
		panic("keys: bech32 encoding of a KES vkey cannot fail")
	}
	return s
}
