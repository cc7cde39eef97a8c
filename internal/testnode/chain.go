package testnode

// The test node's made-up chain and ledger: what the queries read.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// genesisParams are the Shelley genesis values beyond opcert.Network.
type genesisParams struct {
	networkID         uint64
	activeSlotsCoeff  rational
	securityParam     uint64
	epochLength       uint64
	updateQuorum      uint64
	maxLovelaceSupply uint64
	pparams           shelleyPParams
	genDelegs         []byte // encoded map
}

// mainnetPParams are the protocol parameters of mainnet-shelley-genesis.json
// (cardano-node configuration/cardano/). The test node uses them for every
// built-in network; a --genesis file brings its own.
var mainnetPParams = shelleyPParams{
	minFeeA: 44, minFeeB: 155381, maxBBSize: 65536, maxTxSize: 16384, maxBHSize: 1100,
	keyDeposit: 2000000, poolDeposit: 500000000, eMax: 18, nOpt: 150,
	a0: rational{3, 10}, rho: rational{3, 1000}, tau: rational{1, 5}, d: rational{1, 1},
	protMajor: 2, protMinor: 0, minUTxOValue: 1000000, minPoolCost: 340000000,
}

var emptyMap = []byte{0xa0}

// defaultGenesis gives the public networks' values by magic: mainnet
// (k 2160, 432000-slot epochs, network id Mainnet), preprod (k 2160,
// 432000) and preview (k 432, 86400-slot epochs). Their genDelegs are left
// empty.
func defaultGenesis(magic uint32) genesisParams {
	g := genesisParams{
		activeSlotsCoeff: rational{1, 20}, securityParam: 2160, epochLength: 432000,
		updateQuorum: 5, maxLovelaceSupply: 45000000000000000, pparams: mainnetPParams, genDelegs: emptyMap,
	}
	switch magic {
	case 764824073:
		g.networkID = 1
	case 2:
		g.securityParam, g.epochLength = 432, 86400
	}
	return g
}

// parseGenesisParams reads the values the test node needs from a Shelley
// genesis JSON file.
func parseGenesisParams(data []byte) (genesisParams, error) {
	var raw struct {
		NetworkID         string                                    `json:"networkId"`
		ActiveSlotsCoeff  json.Number                               `json:"activeSlotsCoeff"`
		SecurityParam     uint64                                    `json:"securityParam"`
		EpochLength       uint64                                    `json:"epochLength"`
		UpdateQuorum      uint64                                    `json:"updateQuorum"`
		MaxLovelaceSupply uint64                                    `json:"maxLovelaceSupply"`
		GenDelegs         map[string]struct{ Delegate, VRF string } `json:"genDelegs"`
		PP                struct {
			MinFeeA, MinFeeB                    uint64
			MaxBlockBodySize, MaxTxSize         uint64
			MaxBlockHeaderSize, KeyDeposit      uint64
			PoolDeposit, EMax, NOpt             uint64
			A0, Rho, Tau, DecentralisationParam json.Number
			MinUTxOValue, MinPoolCost           uint64
			ProtocolVersion                     struct{ Major, Minor uint64 }
			ExtraEntropy                        struct{ Tag, Contents string }
		} `json:"protocolParams"`
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return genesisParams{}, fmt.Errorf("%w: genesis: %v", ErrConfig, err)
	}
	ratio := func(n json.Number) (rational, error) {
		if n == "" {
			return rational{0, 1}, nil
		}
		r, ok := new(big.Rat).SetString(n.String())
		if !ok || r.Sign() < 0 || !r.Num().IsUint64() || !r.Denom().IsUint64() {
			return rational{}, fmt.Errorf("%w: genesis: bad ratio %q", ErrConfig, n)
		}
		return rational{r.Num().Uint64(), r.Denom().Uint64()}, nil
	}
	g := genesisParams{securityParam: raw.SecurityParam, epochLength: raw.EpochLength,
		updateQuorum: raw.UpdateQuorum, maxLovelaceSupply: raw.MaxLovelaceSupply}
	if strings.EqualFold(raw.NetworkID, "Mainnet") {
		g.networkID = 1
	}
	var err error
	if g.activeSlotsCoeff, err = ratio(raw.ActiveSlotsCoeff); err != nil {
		return genesisParams{}, err
	}
	pp := raw.PP
	g.pparams = shelleyPParams{minFeeA: pp.MinFeeA, minFeeB: pp.MinFeeB, maxBBSize: pp.MaxBlockBodySize,
		maxTxSize: pp.MaxTxSize, maxBHSize: pp.MaxBlockHeaderSize, keyDeposit: pp.KeyDeposit,
		poolDeposit: pp.PoolDeposit, eMax: pp.EMax, nOpt: pp.NOpt, protMajor: pp.ProtocolVersion.Major,
		protMinor: pp.ProtocolVersion.Minor, minUTxOValue: pp.MinUTxOValue, minPoolCost: pp.MinPoolCost}
	for _, f := range []struct {
		dst *rational
		n   json.Number
	}{{&g.pparams.a0, pp.A0}, {&g.pparams.rho, pp.Rho}, {&g.pparams.tau, pp.Tau}, {&g.pparams.d, pp.DecentralisationParam}} {
		if *f.dst, err = ratio(f.n); err != nil {
			return genesisParams{}, err
		}
	}
	if pp.ExtraEntropy.Tag == "Nonce" {
		if g.pparams.extraEntropy, err = hex.DecodeString(pp.ExtraEntropy.Contents); err != nil {
			return genesisParams{}, fmt.Errorf("%w: genesis: extraEntropy: %v", ErrConfig, err)
		}
	}
	// genDelegs: {genesis key hash: [delegate key hash, VRF key hash]}, in
	// key order as Data.Map writes it.
	type pair struct{ k, d, v []byte }
	pairs := make([]pair, 0, len(raw.GenDelegs))
	for k, v := range raw.GenDelegs {
		kb, err1 := hex.DecodeString(k)
		db, err2 := hex.DecodeString(v.Delegate)
		vb, err3 := hex.DecodeString(v.VRF)
		if err1 != nil || err2 != nil || err3 != nil {
			return genesisParams{}, fmt.Errorf("%w: genesis: bad genDelegs entry %q", ErrConfig, k)
		}
		pairs = append(pairs, pair{kb, db, vb})
	}
	sortPairs := func(a, b pair) int { return bytes.Compare(a.k, b.k) }
	slices.SortFunc(pairs, sortPairs)
	e := enc{}
	e.mapHead(len(pairs))
	for _, p := range pairs {
		e.bytes(p.k)
		e.array(2)
		e.bytes(p.d)
		e.bytes(p.v)
	}
	g.genDelegs = e.b
	if g.securityParam == 0 || g.epochLength == 0 || g.activeSlotsCoeff.num == 0 {
		return genesisParams{}, fmt.Errorf("%w: genesis lacks securityParam, epochLength or activeSlotsCoeff", ErrConfig)
	}
	return g, nil
}

// compactGenesis is the GetGenesisConfig answer.
func (n *Node) compactGenesis() compactGenesis {
	net := n.cfg.Network
	g := n.genesis
	return compactGenesis{
		systemStart: net.SystemStart, networkMagic: net.Magic, networkID: g.networkID,
		activeSlotsCoeff: g.activeSlotsCoeff, securityParam: g.securityParam, epochLength: g.epochLength,
		slotsPerKESPeriod: net.SlotsPerKESPeriod, maxKESEvolutions: net.MaxKESEvolutions,
		slotLengthMicros: uint64(net.SlotLength / time.Microsecond), updateQuorum: g.updateQuorum,
		maxLovelaceSupply: g.maxLovelaceSupply, pparams: g.pparams,
		genDelegs: g.genDelegs, initialFunds: emptyMap, staking: []byte{0x82, 0xa0, 0xa0},
	}
}

// epochOf is the epoch of a slot: Byron epochs of 10k slots up to the
// Shelley era, then the genesis epoch length.
func (n *Node) epochOf(slot uint64) uint64 {
	byronEpoch := 10 * n.genesis.securityParam
	bs := n.cfg.Network.ByronSlots
	if slot < bs {
		return slot / byronEpoch
	}
	return bs/byronEpoch + (slot-bs)/n.genesis.epochLength
}

// ledgerView is the ledger state a client acquired.
type ledgerView struct {
	slot      uint64
	era       int
	counters  map[[28]byte]uint64
	stability uint64 // slots from the immutable tip to the tip: k/f
	epoch     uint64
}

func (v ledgerView) blockNo() uint64 { return v.slot / 20 }

func (v ledgerView) immutableSlot() uint64 {
	if v.slot < v.stability {
		return 0
	}
	return v.slot - v.stability
}

// at is the same ledger at an earlier point (the counters do not change:
// the test node keeps no history).
func (v ledgerView) at(slot uint64) ledgerView {
	v.slot = slot
	return v
}

func (v ledgerView) praosState() praosState {
	h := func(tag string, x uint64) nonce {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], x)
		s := sha256.Sum256(append([]byte("kesrotate test node nonce "+tag), b[:]...))
		return s[:]
	}
	last := v.slot
	return praosState{
		lastSlot: &last, counters: v.counters,
		evolving: h("evolving", v.slot), candidate: h("candidate", v.epoch), epoch: h("epoch", v.epoch),
		previousEpoch: h("epoch", v.epoch-min(v.epoch, 1)), lab: tipHash(v.slot - min(v.slot, 1)),
		lastEpochBlock: h("last epoch block", v.epoch),
	}
}

// view snapshots the ledger at the tip.
func (n *Node) view() ledgerView {
	n.mu.Lock()
	defer n.mu.Unlock()
	slot := n.tipLocked()
	c := make(map[[28]byte]uint64, len(n.fillers)+len(n.onchain))
	for k, v := range n.fillers {
		c[k] = v
	}
	for k, v := range n.onchain {
		c[k] = v
	}
	g := n.genesis
	return ledgerView{slot: slot, era: n.era, counters: c, epoch: n.epochOf(slot),
		stability: g.securityParam * g.activeSlotsCoeff.den / g.activeSlotsCoeff.num}
}

func (n *Node) blockNoLocked(slot uint64) uint64 { return slot / 20 }

// fillerPools makes count pool ids with small counters, standing in for the
// thousands of pools a mainnet ledger holds.
func fillerPools(count int) map[[28]byte]uint64 {
	m := make(map[[28]byte]uint64, count)
	for i := range count {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(i))
		m[blake2b224(append([]byte("kesrotate test node filler pool "), b[:]...))] = uint64(i % 13)
	}
	return m
}

// tipHash is the made-up hash of the block at a slot.
func tipHash(slot uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], slot)
	h := sha256.Sum256(append([]byte("kesrotate test node block "), b[:]...))
	return h[:]
}
