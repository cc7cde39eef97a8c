package hwdouble

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"filippo.io/edwards25519"
)

// Hardened is the first hardened BIP32 index (written NH: N + Hardened).
const Hardened = 1 << 31

// XPrv is a BIP32-Ed25519 extended private key: the scalar half kL, the
// nonce half kR and the chain code.
type XPrv struct {
	kL, kR, cc [32]byte
}

// Bytes is kL ‖ kR ‖ chain code, the 96-byte form CIP-3's vectors print.
func (k XPrv) Bytes() []byte {
	return append(append(append([]byte{}, k.kL[:]...), k.kR[:]...), k.cc[:]...)
}

// Entropy decodes a BIP-39 English mnemonic to its entropy and checks its
// checksum (BIP-39: 11 bits a word; the last ENT/32 bits are the first
// bits of SHA-256 of the entropy).
func Entropy(mnemonic string) ([]byte, error) {
	words := strings.Fields(mnemonic)
	if n := len(words); n < 12 || n > 24 || n%3 != 0 {
		return nil, fmt.Errorf("a mnemonic of %d words: BIP-39 has 12, 15, 18, 21 or 24", n)
	}
	index := make(map[string]int, len(wordlist))
	for i, w := range wordlist {
		index[w] = i
	}
	bits := make([]bool, 0, 11*len(words))
	for _, w := range words {
		i, ok := index[w]
		if !ok {
			return nil, fmt.Errorf("%q is not a BIP-39 English word", w)
		}
		for b := 10; b >= 0; b-- {
			bits = append(bits, i>>b&1 == 1)
		}
	}
	ent := len(bits) * 32 / 33
	entropy := make([]byte, ent/8)
	for i := range ent {
		if bits[i] {
			entropy[i/8] |= 0x80 >> (i % 8)
		}
	}
	sum := sha256.Sum256(entropy)
	for i := range len(bits) - ent {
		if bits[ent+i] != (sum[i/8]&(0x80>>(i%8)) != 0) {
			return nil, errors.New("the mnemonic's checksum is wrong")
		}
	}
	return entropy, nil
}

// IcarusMaster is the root key of CIP-3's Icarus scheme (Yoroi, Daedalus,
// Trezor with fewer than 24 words): PBKDF2-HMAC-SHA512 of the passphrase,
// salted with the BIP-39 entropy, 4096 rounds, 96 bytes, then the scalar
// tweak (lowest 3 bits and highest 3 bits cleared, second highest set).
func IcarusMaster(entropy, passphrase []byte) XPrv {
	data, err := pbkdf2.Key(sha512.New, string(passphrase), entropy, 4096, 96)
	if err != nil {
		panic("hwdouble: pbkdf2 with fixed valid parameters: " + err.Error())
	}
	data[0] &= 0b1111_1000
	data[31] &= 0b0001_1111
	data[31] |= 0b0100_0000
	var k XPrv
	copy(k.kL[:], data[:32])
	copy(k.kR[:], data[32:64])
	copy(k.cc[:], data[64:])
	return k
}

// LedgerMaster is the root key of CIP-3's Ledger scheme: the BIP-39 seed
// (PBKDF2-HMAC-SHA512 of the mnemonic, salt "mnemonic" ‖ passphrase, 2048
// rounds), then SLIP-10's HMAC-SHA512 keyed "ed25519 seed", repeated on
// its own output while the third highest bit of kL is set, the scalar
// tweak, and a chain code HMAC-SHA256("ed25519 seed", 0x01 ‖ seed).
// mnemonic and passphrase must be in NFKD form (ASCII is).
func LedgerMaster(mnemonic, passphrase string) XPrv {
	seed, err := pbkdf2.Key(sha512.New, mnemonic, []byte("mnemonic"+passphrase), 2048, 64)
	if err != nil {
		panic("hwdouble: pbkdf2 with fixed valid parameters: " + err.Error())
	}
	key := []byte("ed25519 seed")
	m := hmac.New(sha256.New, key)
	m.Write([]byte{1})
	m.Write(seed)
	cc := m.Sum(nil)
	i := seed
	for {
		h := hmac.New(sha512.New, key)
		h.Write(i)
		i = h.Sum(nil)
		if i[31]&0b0010_0000 == 0 {
			break
		}
	}
	i[0] &= 0b1111_1000
	i[31] &= 0b0111_1111
	i[31] |= 0b0100_0000
	var k XPrv
	copy(k.kL[:], i[:32])
	copy(k.kR[:], i[32:])
	copy(k.cc[:], cc)
	return k
}

// scalar is kL reduced modulo the group order: BIP32-Ed25519 scalars are
// not clamped after derivation and may exceed it.
func (k XPrv) scalar() *edwards25519.Scalar {
	var wide [64]byte
	copy(wide[:], k.kL[:])
	s, err := edwards25519.NewScalar().SetUniformBytes(wide[:])
	if err != nil {
		panic("hwdouble: 64-byte input to SetUniformBytes: " + err.Error())
	}
	return s
}

// Public is the Ed25519 public key kL·B.
func (k XPrv) Public() [32]byte {
	var pk [32]byte
	copy(pk[:], new(edwards25519.Point).ScalarBaseMult(k.scalar()).Bytes())
	return pk
}

// XPub is the public key ‖ chain code: what a device exports and
// cardano-hw-cli keeps in a signing file.
func (k XPrv) XPub() [64]byte {
	var x [64]byte
	pk := k.Public()
	copy(x[:32], pk[:])
	copy(x[32:], k.cc[:])
	return x
}

// Derive is BIP32-Ed25519 child derivation as Cardano does it (CIP-1852;
// Khovratovich and Law, with cardano-crypto's "V2" arithmetic): for a
// hardened index Z = HMAC-SHA512(cc, 0x00 ‖ kL ‖ kR ‖ LE32(i)) and the
// chain code from the same with 0x01; for a soft one 0x02 and 0x03 over
// the public key instead. kL' = kL + 8·Z[0:28], kR' = kR + Z[32:64] (mod
// 2^256), cc' = the right half of the chain code HMAC.
func (k XPrv) Derive(index uint32) XPrv {
	var idx [4]byte
	binary.LittleEndian.PutUint32(idx[:], index)
	z := hmac.New(sha512.New, k.cc[:])
	c := hmac.New(sha512.New, k.cc[:])
	if index >= Hardened {
		z.Write([]byte{0x00})
		z.Write(k.kL[:])
		z.Write(k.kR[:])
		c.Write([]byte{0x01})
		c.Write(k.kL[:])
		c.Write(k.kR[:])
	} else {
		pk := k.Public()
		z.Write([]byte{0x02})
		z.Write(pk[:])
		c.Write([]byte{0x03})
		c.Write(pk[:])
	}
	z.Write(idx[:])
	c.Write(idx[:])
	zs, cs := z.Sum(nil), c.Sum(nil)
	var child XPrv
	var carry uint16
	for i := range 32 {
		r := uint16(k.kL[i]) + carry
		if i < 28 {
			r += uint16(zs[i]) << 3
		}
		child.kL[i], carry = byte(r), r>>8
	}
	carry = 0
	for i := range 32 {
		r := uint16(k.kR[i]) + uint16(zs[32+i]) + carry
		child.kR[i], carry = byte(r), r>>8
	}
	copy(child.cc[:], cs[32:])
	return child
}

// DerivePath derives along path from k.
func (k XPrv) DerivePath(path []uint32) XPrv {
	for _, i := range path {
		k = k.Derive(i)
	}
	return k
}

// Sign is Ed25519 with an extended key (Ed25519-BIP32): the nonce is
// SHA-512(kR ‖ msg), the scalar kL. It verifies under Public with plain
// RFC 8032 verification.
func (k XPrv) Sign(msg []byte) [64]byte {
	h := sha512.New()
	h.Write(k.kR[:])
	h.Write(msg)
	r, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		panic("hwdouble: 64-byte input to SetUniformBytes: " + err.Error())
	}
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	pk := k.Public()
	h.Reset()
	h.Write(R)
	h.Write(pk[:])
	h.Write(msg)
	c, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		panic("hwdouble: 64-byte input to SetUniformBytes: " + err.Error())
	}
	S := edwards25519.NewScalar().MultiplyAdd(c, k.scalar(), r)
	var sig [64]byte
	copy(sig[:32], R)
	copy(sig[32:], S.Bytes())
	return sig
}

// ParsePath reads a path as cardano-hw-cli writes it: indexes separated by
// '/', an 'H' after a hardened one ("1853H/1815H/0H/0H").
func ParsePath(s string) ([]uint32, error) {
	var out []uint32
	for _, part := range strings.Split(s, "/") {
		hard := strings.HasSuffix(part, "H")
		n, err := strconv.ParseUint(strings.TrimSuffix(part, "H"), 10, 31)
		if err != nil {
			return nil, fmt.Errorf("path %q: %q is not an index", s, part)
		}
		i := uint32(n)
		if hard {
			i += Hardened
		}
		out = append(out, i)
	}
	return out, nil
}

// FormatPath writes a path as cardano-hw-cli does (1853H/1815H/0H/0H).
func FormatPath(path []uint32) string {
	parts := make([]string, len(path))
	for i, v := range path {
		if v >= Hardened {
			parts[i] = strconv.FormatUint(uint64(v-Hardened), 10) + "H"
		} else {
			parts[i] = strconv.FormatUint(uint64(v), 10)
		}
	}
	return strings.Join(parts, "/")
}

// IsPoolColdKeyPath is the Cardano app's bip44_isPoolColdKeyPath (CIP-1853):
// 1853'/1815'/0'/N', nothing else.
func IsPoolColdKeyPath(path []uint32) bool {
	return len(path) == 4 && path[0] == Hardened+1853 && path[1] == Hardened+1815 &&
		path[2] == Hardened && path[3] >= Hardened
}
