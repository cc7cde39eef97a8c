package opcert

import (
	"fmt"
	"math"
	"strconv"

	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// OnChain is the op-cert counter the chain recorded for a pool. A pool that
// never minted a block has none; if it is in the stake distribution the
// node treats that as 0.
type OnChain struct {
	Known bool
	N     uint64
}

// None is the counter of a pool that never minted.
func None() OnChain { return OnChain{} }

// Recorded is a counter the chain recorded.
func Recorded(n uint64) OnChain { return OnChain{Known: true, N: n} }

// M is the value the header check uses: N, or 0 when none is recorded.
func (o OnChain) M() uint64 {
	if !o.Known {
		return 0
	}
	return o.N
}

// Text is the one text form of an on-chain counter, in the journal, the
// log, status files and flags: "none" for a pool that never minted, else
// the decimal counter.
func (o OnChain) Text() string {
	if !o.Known {
		return "none"
	}
	return strconv.FormatUint(o.N, 10)
}

// ParseOnChain reads the text form Text writes, and nothing else: "none"
// or a decimal number without sign or leading zeros.
func ParseOnChain(s string) (OnChain, error) {
	if s == "none" {
		return None(), nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return OnChain{}, fmt.Errorf("%w %q: want a decimal number or \"none\"", ErrOnChainText, textsafe.Clip(s, 40))
	}
	return Recorded(n), nil
}

func (o OnChain) String() string {
	if !o.Known {
		return "none (never minted)"
	}
	return fmt.Sprint(o.N)
}

// Less orders observations: none < 0 < 1 < …
func (o OnChain) Less(p OnChain) bool {
	if o.Known != p.Known {
		return !o.Known
	}
	return o.N < p.N
}

// MaxCounter is the highest cert number that can be issued: the counter
// file holds the number after it, which must fit a uint64 too.
const MaxCounter = math.MaxUint64 - 1

// CheckCounter applies the Praos (Babbage onwards) header rule m ≤ n ≤ m+1.
func CheckCounter(n uint64, onchain OnChain) error {
	m := onchain.M()
	if n < m {
		return fmt.Errorf("%w: cert has %d, chain has %d", ErrCounterTooSmall, n, m)
	}
	if n-m > 1 { // n ≥ m here: no m+1 to overflow
		return fmt.Errorf("%w: cert has %d, chain has %s, the most it accepts is %d", ErrCounterOverIncremented, n, onchain, m+1)
	}
	return nil
}

// History is what a vault knows about a pool's past certs.
type History struct {
	// Issued reports whether any cert number has been issued for the pool
	// (by this vault, or, for an imported pool, by cardano-cli before:
	// an imported counter file whose next number is k > 0 means 0..k-1
	// may exist). MaxIssued and LastIssued are meaningful only if Issued.
	Issued     bool
	MaxIssued  uint64
	LastIssued uint64
	// Seen is the highest on-chain counter observed so far (None if none).
	Seen OnChain
}

// NextCounter chooses the number of the next cert by the operator rule that
// follows from the header checks: exactly on-chain m+1 (which is the last
// issued number again when that cert never reached the chain, so issuing
// twice without minting never over-increments), 0 for a pool that never
// minted and never issued. It refuses when the chain is ahead of every cert
// the vault knows of (another copy of the cold key is issuing) and when the
// chain information is older than what was already seen.
func NextCounter(onchain OnChain, h History) (uint64, error) {
	if onchain.Less(h.Seen) {
		return 0, fmt.Errorf("%w: offered %s, already seen %s", ErrOnChainBackwards, onchain, h.Seen)
	}
	if !onchain.Known {
		if !h.Issued {
			return 0, nil
		}
		// The chain holds no counter, so m = 0: n may be 0 or 1. Re-issue
		// the last number if it is one of those, else the safe 0.
		if h.LastIssued <= 1 {
			return h.LastIssued, nil
		}
		return 0, nil
	}
	if !h.Issued || onchain.N > h.MaxIssued {
		known := "no cert"
		if h.Issued {
			known = fmt.Sprintf("certs up to %d", h.MaxIssued)
		}
		return 0, fmt.Errorf("%w: the chain has seen counter %d, this vault knows of %s", ErrOnChainAhead, onchain.N, known)
	}
	if onchain.N >= MaxCounter {
		return 0, fmt.Errorf("%w: the chain has seen counter %d", ErrCounterExhausted, onchain.N)
	}
	return onchain.N + 1, nil
}
