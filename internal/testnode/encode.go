package testnode

// Encoders of the local state query results the test node serves. Each
// writes exactly what the node's own encoder writes at the modelled tags;
// the golden files in ../shared/testvectors/node-to-client/ prove it
// (encode_test.go).

import (
	"bytes"
	"slices"
	"time"
)

// nonce is a Praos nonce: nil is NeutralNonce, else the 32-byte hash.
type nonce []byte

// encodeNonce writes a Nonce as cardano-ledger does (EncCBOR Nonce):
// NeutralNonce as [0], Nonce h as [1, h].
func encodeNonce(e *enc, n nonce) {
	if n == nil {
		e.array(1)
		e.uint(0)
		return
	}
	e.array(2)
	e.uint(1)
	e.bytes(n)
}

// encodeWithOrigin writes a WithOrigin value as cardano-slotting does:
// Origin as [0], At x as [1, x].
func encodeWithOrigin(e *enc, v *uint64) {
	if v == nil {
		e.array(1)
		e.uint(0)
		return
	}
	e.array(2)
	e.uint(1)
	e.uint(*v)
}

// praosState is the Praos chain-dependent state (ouroboros-consensus-protocol,
// Ouroboros/Consensus/Protocol/Praos.hs, data PraosState).
type praosState struct {
	lastSlot *uint64             // nil: Origin
	counters map[[28]byte]uint64 // op-cert counters by pool (KeyHash 'BlockIssuer)
	evolving, candidate, epoch,
	previousEpoch, // only in the 8-field layout
	lab, lastEpochBlock nonce
}

// encodePraosState writes PraosState's Serialise encoding: encodeVersion 0
// around a list of 7 fields (consensus-cardano 0.25 and 0.26: last slot,
// op-cert counters, evolving, candidate, epoch, LAB and last-epoch-block
// nonces) or 8 fields (consensus 3.0: praosStatePreviousEpochNonce after
// the epoch nonce). The counters map is written in key order, as Data.Map's
// toCBOR does.
func encodePraosState(e *enc, s praosState, fields int) {
	e.array(2)
	e.uint(0) // encodeVersion 0
	e.array(fields)
	encodeWithOrigin(e, s.lastSlot)
	keys := make([][28]byte, 0, len(s.counters))
	for k := range s.counters {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [28]byte) int { return bytes.Compare(a[:], b[:]) })
	e.mapHead(len(keys))
	for _, k := range keys {
		e.bytes(k[:])
		e.uint(s.counters[k])
	}
	encodeNonce(e, s.evolving)
	encodeNonce(e, s.candidate)
	encodeNonce(e, s.epoch)
	if fields == 8 {
		encodeNonce(e, s.previousEpoch)
	}
	encodeNonce(e, s.lab)
	encodeNonce(e, s.lastEpochBlock)
}

// encodeUTCTime writes a UTCTime as cardano-binary does: [year, day of the
// year (1-based), picoseconds of the day]. GetSystemStart answers this, and
// it is the genesis' system start.
func encodeUTCTime(e *enc, t time.Time) {
	t = t.UTC()
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	e.array(3)
	e.int(int64(t.Year()))
	e.int(int64(t.YearDay()))
	e.uint(uint64(t.Sub(midnight).Nanoseconds()) * 1000)
}

// rational is a ratio written as cardano-ledger writes BoundedRational
// values (UnitInterval, NonNegativeInterval: tag 30 around [num, den]) or,
// for the active slot coefficient, untagged.
type rational struct{ num, den uint64 }

func encodeTaggedRational(e *enc, r rational) {
	e.tag(30)
	e.array(2)
	e.uint(r.num)
	e.uint(r.den)
}

// shelleyPParams are the Shelley genesis protocol parameters inside
// CompactGenesis.
type shelleyPParams struct {
	minFeeA, minFeeB, maxBBSize, maxTxSize, maxBHSize uint64
	keyDeposit, poolDeposit, eMax, nOpt               uint64
	a0, rho, tau, d                                   rational
	extraEntropy                                      nonce
	protMajor, protMinor                              uint64
	minUTxOValue, minPoolCost                         uint64
}

// compactGenesis is the Shelley genesis as GetGenesisConfig answers it
// (ouroboros-consensus-cardano, Shelley/Ledger/Query.hs: GetGenesisConfig
// answers shelleyLedgerCompactGenesis, a ShelleyGenesis without its
// initial funds and staking, which it keeps as empty maps).
type compactGenesis struct {
	systemStart       time.Time
	networkMagic      uint32
	networkID         uint64 // 0 testnet, 1 mainnet
	activeSlotsCoeff  rational
	securityParam     uint64
	epochLength       uint64
	slotsPerKESPeriod uint64
	maxKESEvolutions  uint64
	slotLengthMicros  uint64
	updateQuorum      uint64
	maxLovelaceSupply uint64
	pparams           shelleyPParams
	// genDelegs, initialFunds and staking, already encoded.
	genDelegs, initialFunds, staking []byte
}

// genesisLayout selects the protocol-parameter layout inside
// GetGenesisConfig's answer.
type genesisLayout int

const (
	// genesisPP18 is the layout of every node-to-client version on node
	// 10.5 (the ledger's encoding at consensus-cardano 0.25) and of NtC 20
	// and older on 10.6 and 11.0 (LegacyShelleyGenesis/LegacyPParams,
	// consensus Shelley/Ledger/Query/LegacyShelleyGenesis.hs): 15 genesis
	// fields, the protocol version as two fields, 18 parameters.
	genesisPP18 genesisLayout = iota
	// genesisPP17 is the layout of NtC 21 and later on 10.6 and 11.0
	// (genesisConfigEnDecoding, ShelleyNodeToClientVersion13+): the
	// protocol version as one [major, minor] field, 17 parameters.
	genesisPP17
)

func (v nodeVersion) genesisLayoutFor(ntc uint16) genesisLayout {
	if ntc <= v.legacyGenesisUpTo {
		return genesisPP18
	}
	return genesisPP17
}

// encodeCompactGenesis writes the GetGenesisConfig result.
func encodeCompactGenesis(e *enc, g compactGenesis, layout genesisLayout) {
	e.array(15)
	encodeUTCTime(e, g.systemStart)
	e.uint(uint64(g.networkMagic))
	e.uint(g.networkID)
	// activeSlotsCoeffEncCBOR: the unbounded rational at the Shelley
	// protocol version, a plain [num, den].
	e.array(2)
	e.uint(g.activeSlotsCoeff.num)
	e.uint(g.activeSlotsCoeff.den)
	e.uint(g.securityParam)
	e.uint(g.epochLength)
	e.uint(g.slotsPerKESPeriod)
	e.uint(g.maxKESEvolutions)
	e.uint(g.slotLengthMicros)
	e.uint(g.updateQuorum)
	e.uint(g.maxLovelaceSupply)
	p := g.pparams
	if layout == genesisPP18 {
		e.array(18)
	} else {
		e.array(17)
	}
	for _, v := range []uint64{p.minFeeA, p.minFeeB, p.maxBBSize, p.maxTxSize, p.maxBHSize, p.keyDeposit, p.poolDeposit, p.eMax, p.nOpt} {
		e.uint(v)
	}
	for _, r := range []rational{p.a0, p.rho, p.tau, p.d} {
		encodeTaggedRational(e, r)
	}
	encodeNonce(e, p.extraEntropy)
	if layout == genesisPP18 {
		e.uint(p.protMajor)
		e.uint(p.protMinor)
	} else {
		e.array(2)
		e.uint(p.protMajor)
		e.uint(p.protMinor)
	}
	e.uint(p.minUTxOValue)
	e.uint(p.minPoolCost)
	e.raw(g.genDelegs)
	e.raw(g.initialFunds)
	e.raw(g.staking)
}

// encodeEraMismatch writes the Left of a QueryIfCurrent answer
// (ouroboros-consensus, HardFork/Combinator/Serialisation/Common.hs,
// encodeEitherMismatch): a list of two NS values, the era the query named
// first and the ledger's era second, each [era index, era name].
func encodeEraMismatch(e *enc, queryEra int, queryName string, ledgerEra int, ledgerName string) {
	e.array(2)
	e.array(2)
	e.uint(uint64(queryEra))
	e.text(queryName)
	e.array(2)
	e.uint(uint64(ledgerEra))
	e.text(ledgerName)
}

// encodePoint writes a chain point as the hard-fork block's encodePoint
// does: Origin as [], a block point as [slot, hash].
func encodePoint(e *enc, slot uint64, hash []byte, origin bool) {
	if origin {
		e.array(0)
		return
	}
	e.array(2)
	e.uint(slot)
	e.bytes(hash)
}
