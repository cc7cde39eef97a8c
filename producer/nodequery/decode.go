package nodequery

import (
	"fmt"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Decoders for the answers of a real cardano-node, written from
// ouroboros-consensus and checked against its golden files
// (../shared/testvectors/node-to-client, read in place by the tests).

// Era indexes of the Cardano hard-fork block (ouroboros-consensus-cardano
// Ouroboros/Consensus/Cardano/Block.hs CardanoEras).
var eraNames = []string{"Byron", "Shelley", "Allegra", "Mary", "Alonzo", "Babbage", "Conway", "Dijkstra"}

// Eras from Babbage on run Praos, whose chain-dependent state holds the
// op-cert counters as its field 1; Shelley to Alonzo ran TPraos.
const firstPraosEra = 5

// EraName names era index i.
func EraName(i int) string {
	if i >= 0 && i < len(eraNames) {
		return eraNames[i]
	}
	return fmt.Sprintf("era %d", i)
}

// decodePoint reads a Point: [] for the origin, else [slot, hash]
// (ouroboros-network Block.hs encodePoint).
func decodePoint(raw cbor.RawMessage) (slot uint64, hash []byte, origin bool, err error) {
	var f []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &f); err != nil {
		return 0, nil, false, fmt.Errorf("chain point: %w", err)
	}
	switch len(f) {
	case 0:
		return 0, nil, true, nil
	case 2:
		if err := decMode.Unmarshal(f[0], &slot); err != nil {
			return 0, nil, false, fmt.Errorf("chain point slot: %w", err)
		}
		if err := decMode.Unmarshal(f[1], &hash); err != nil || len(hash) != 32 {
			return 0, nil, false, fmt.Errorf("chain point hash is not 32 bytes")
		}
		return slot, hash, false, nil
	}
	return 0, nil, false, fmt.Errorf("chain point has %d fields", len(f))
}

// decodeSystemStart reads the node's UTCTime: [year, day of year from 1,
// picoseconds into the day] (cardano-slotting SystemStart, as in the
// genesis config goldens' first field [2020, 135, 0]).
func decodeSystemStart(raw cbor.RawMessage) (time.Time, error) {
	var f []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &f); err != nil || len(f) != 3 {
		return time.Time{}, fmt.Errorf("system start is not [year, day, picoseconds]")
	}
	var year, day uint64
	var ps big.Int
	if decMode.Unmarshal(f[0], &year) != nil || decMode.Unmarshal(f[1], &day) != nil || decMode.Unmarshal(f[2], &ps) != nil {
		return time.Time{}, fmt.Errorf("system start is not [year, day, picoseconds]")
	}
	if year < 1 || year > 9999 || day < 1 || day > 366 || ps.Sign() < 0 || ps.Cmp(big.NewInt(86401e12)) >= 0 {
		return time.Time{}, fmt.Errorf("system start %d day %d +%sps is out of range", year, day, ps.String())
	}
	ns := new(big.Int).Quo(&ps, big.NewInt(1000)).Int64()
	return time.Date(int(year), 1, int(day), 0, 0, 0, 0, time.UTC).Add(time.Duration(ns)), nil
}

// decodeEra reads GetCurrentEra's answer, a bare era index.
func decodeEra(raw cbor.RawMessage) (int, error) {
	var i uint64
	if err := decMode.Unmarshal(raw, &i); err != nil || i > 63 {
		return 0, fmt.Errorf("current era is not an era index")
	}
	return int(i), nil
}

// EraMismatchError is the node's answer to a query for another era than
// its ledger's: the query was for Query, the ledger is in Ledger.
type EraMismatchError struct {
	Ledger, Query string
}

func (e *EraMismatchError) Error() string {
	return fmt.Sprintf("%s: the node's ledger is in the %s era, the query was for %s", ErrEraMismatch, e.Ledger, e.Query)
}

func (e *EraMismatchError) Unwrap() error { return ErrEraMismatch }

// unwrapIfCurrent takes a QueryIfCurrent answer apart: [result], or the
// era mismatch [[queryEra, "Name"], [ledgerEra, "Name"]] — the query's era
// (SingleEraInfo) first, the ledger's (LedgerEraInfo) second
// (HardFork/Combinator/Serialisation/Common.hs encodeEitherMismatch;
// head-vNN-Result_EraMismatchShelley, a Byron query answered by a Shelley
// ledger: [[0, "Byron"], [1, "Shelley"]]).
func unwrapIfCurrent(raw cbor.RawMessage) (cbor.RawMessage, error) {
	var f []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("query result: %w", err)
	}
	switch len(f) {
	case 1:
		return f[0], nil
	case 2:
		names := [2]string{}
		for i, x := range f {
			var info []cbor.RawMessage
			if decMode.Unmarshal(x, &info) != nil || len(info) != 2 || decMode.Unmarshal(info[1], &names[i]) != nil {
				return nil, fmt.Errorf("query result is neither a result nor an era mismatch")
			}
		}
		return nil, &EraMismatchError{Query: sanitize(names[0]), Ledger: sanitize(names[1])}
	}
	return nil, fmt.Errorf("query result has %d fields", len(f))
}

// Genesis is what the agent reads from GetGenesisConfig.
type Genesis struct {
	SystemStart       time.Time
	NetworkMagic      uint32
	SlotsPerKESPeriod uint64
	MaxKESEvolutions  uint64
	SlotLength        time.Duration
	// Layout names the encoding the node used: "15+18" (node-to-client
	// 20 and older), "15+17" (21–23 on 10.6–11.0), "16+17" (consensus
	// HEAD).
	Layout string
}

// decodeGenesis reads CompactGenesis (the Shelley genesis without initial
// funds and staking detail): 15 fields — systemStart, networkMagic,
// networkId, activeSlotsCoeff, securityParam, epochLength,
// slotsPerKESPeriod, maxKESEvolutions, slotLength (µs), updateQuorum,
// maxLovelaceSupply, protocolParams, genDelegs, initialFunds, staking —
// and a 16th at consensus HEAD; the protocol parameters have 18 fields up
// to node-to-client 20 and 17 from 21 (the protocol version became one
// field). Goldens: cX-vNN-Result_Conway_GenesisConfig.
func decodeGenesis(raw cbor.RawMessage) (Genesis, error) {
	var g Genesis
	var f []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &f); err != nil {
		return g, fmt.Errorf("genesis config: %w", err)
	}
	if len(f) != 15 && len(f) != 16 {
		return g, fmt.Errorf("genesis config has %d fields, want 15 or 16", len(f))
	}
	var pp []cbor.RawMessage
	if err := decMode.Unmarshal(f[11], &pp); err != nil || (len(pp) != 17 && len(pp) != 18) {
		return g, fmt.Errorf("genesis config's protocol parameters have %d fields, want 17 or 18", len(pp))
	}
	g.Layout = fmt.Sprintf("%d+%d", len(f), len(pp))
	start, err := decodeSystemStart(f[0])
	if err != nil {
		return g, fmt.Errorf("genesis config: %w", err)
	}
	g.SystemStart = start
	var magic, slotLen uint64
	if decMode.Unmarshal(f[1], &magic) != nil || magic > 1<<32-1 {
		return g, fmt.Errorf("genesis config: network magic is not a 32-bit number")
	}
	if decMode.Unmarshal(f[6], &g.SlotsPerKESPeriod) != nil || decMode.Unmarshal(f[7], &g.MaxKESEvolutions) != nil {
		return g, fmt.Errorf("genesis config: KES parameters are not numbers")
	}
	if decMode.Unmarshal(f[8], &slotLen) != nil || slotLen == 0 || slotLen > uint64(time.Hour/time.Microsecond) {
		return g, fmt.Errorf("genesis config: slot length is not a number of microseconds")
	}
	g.NetworkMagic = uint32(magic)
	g.SlotLength = time.Duration(slotLen) * time.Microsecond
	return g, nil
}

// PraosState is the part of the Praos chain-dependent state the agent
// reads: the op-cert counter of each pool that has minted (by pool key
// hash).
type PraosState struct {
	Counters map[cbor.ByteString]uint64
	Fields   int // 7 (node 10.5, 10.6) or 8 (10.7 on)
}

// decodePraosState reads DebugChainDepState's answer in a Praos era:
// [0, [lastSlot, {pool: counter}, nonces…]] — the version word 0, then 7
// fields (consensus-cardano 0.25/0.26, node 10.5/10.6) or 8 (consensus
// 1.0+, node 10.7 on). Field 1 is the counters map cardano-cli query
// kes-period-info reads. Goldens: cX-disk-ChainDepState_Conway (the last
// telescope element holds the same state).
func decodePraosState(raw cbor.RawMessage) (PraosState, error) {
	var st PraosState
	var outer []cbor.RawMessage
	var version uint64
	if err := decMode.Unmarshal(raw, &outer); err != nil || len(outer) != 2 || decMode.Unmarshal(outer[0], &version) != nil {
		return st, fmt.Errorf("chain-dependent state is not a versioned Praos state")
	}
	if version != 0 {
		return st, fmt.Errorf("chain-dependent state has encoding version %d, want 0", version)
	}
	var fields []cbor.RawMessage
	if err := decMode.Unmarshal(outer[1], &fields); err != nil {
		return st, fmt.Errorf("chain-dependent state: %w", err)
	}
	if len(fields) != 7 && len(fields) != 8 {
		return st, fmt.Errorf("the Praos state has %d fields, want 7 (node 10.5, 10.6) or 8 (10.7 on)", len(fields))
	}
	st.Fields = len(fields)
	if err := decMode.Unmarshal(fields[1], &st.Counters); err != nil {
		return st, fmt.Errorf("the Praos state's op-cert counters: %w", err)
	}
	for k := range st.Counters {
		if len(k) != 28 {
			return st, fmt.Errorf("the Praos state's op-cert counters have a %d-byte pool key hash", len(k))
		}
	}
	return st, nil
}
