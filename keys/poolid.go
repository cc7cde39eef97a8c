package keys

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/bech32"
	"golang.org/x/crypto/blake2b"
)

// PoolIDSize is the length of a pool id: blake2b-224 of the cold vkey.
const PoolIDSize = 28

// PoolID identifies a stake pool.
type PoolID [PoolIDSize]byte

func poolIDOf(vk []byte) PoolID {
	h, _ := blake2b.New(PoolIDSize, nil)
	h.Write(vk)
	var id PoolID
	copy(id[:], h.Sum(nil))
	return id
}

// Hex is the 56-digit lower-case hex form cardano-cli prints.
func (id PoolID) Hex() string { return hex.EncodeToString(id[:]) }

// Bech32 is the pool1… form.
func (id PoolID) Bech32() string {
	conv, err := bech32.ConvertBits(id[:], 8, 5, true)
	if err != nil {
		panic("keys: converting 28 bytes to base32 cannot fail")
	}
	s, err := bech32.Encode("pool", conv)
	if err != nil {
		panic("keys: bech32 encoding of a pool id cannot fail")
	}
	return s
}

// String is the bech32 form.
func (id PoolID) String() string { return id.Bech32() }

// ParsePoolID accepts a pool id as 56 hex digits or as pool1… bech32.
func ParsePoolID(s string) (PoolID, error) {
	var id PoolID
	s = strings.TrimSpace(s)
	if len(s) == 2*PoolIDSize {
		if b, err := hex.DecodeString(s); err == nil {
			copy(id[:], b)
			return id, nil
		}
	}
	hrp, data, err := bech32.Decode(s)
	if err != nil || hrp != "pool" {
		return id, fmt.Errorf("%w: %q", ErrPoolID, s)
	}
	b, err := bech32.ConvertBits(data, 5, 8, false)
	if err != nil || len(b) != PoolIDSize {
		return id, fmt.Errorf("%w: %q", ErrPoolID, s)
	}
	copy(id[:], b)
	return id, nil
}
