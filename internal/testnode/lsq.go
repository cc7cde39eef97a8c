package testnode

// The local state query mini-protocol (7) and the queries the test node
// answers.
//
// Messages (ouroboros-network/protocols/lib/Ouroboros/Network/Protocol/
// LocalStateQuery/Codec.hs, codecLocalStateQuery): MsgAcquire [0, point] |
// [8] (volatile tip) | [10] (immutable tip), MsgAcquired [1], MsgFailure
// [2, 0 too old | 1 not on chain], MsgQuery [3, query], MsgResult
// [4, result], MsgRelease [5], MsgReAcquire [6, point] | [9] | [11],
// MsgDone [7]. A message that does not decode, or arrives in a state that
// does not expect it, fails the codec and the node tears the connection
// down.
//
// Queries (ouroboros-consensus, Ouroboros/Consensus/Ledger/Query.hs,
// queryDecodeNodeToClient): [0, block query] | [1] GetSystemStart |
// [2] GetChainBlockNo | [3] GetChainPoint | [4] DebugLedgerConfig (from
// NtC 20). Block queries of the hard-fork block
// (HardFork/Combinator/Serialisation/SerialiseNodeToClient.hs):
// [0, [era, era query]] QueryIfCurrent | [1, query, era] QueryAnytime |
// [2, [0]] GetInterpreter | [2, [1]] GetCurrentEra. Shelley-based era
// queries (ouroboros-consensus-cardano, Shelley/Ledger/Query.hs,
// decodeShelleyQuery): [1] GetEpochNo, [2, [9, q]] GetCBOR q,
// [11] GetGenesisConfig, [13] DebugChainDepState, and 30-odd more; Byron's
// only query is the bare word 0 (GetUpdateInterfaceState).

import (
	"errors"
	"fmt"
)

var errNotModelled = errors.New("query not modelled by the test node")

// LSQ message tags.
const (
	lsqAcquirePoint       = 0
	lsqAcquired           = 1
	lsqFailure            = 2
	lsqQuery              = 3
	lsqResult             = 4
	lsqRelease            = 5
	lsqReAcquirePoint     = 6
	lsqDone               = 7
	lsqAcquireVolatile    = 8
	lsqReAcquireVolatile  = 9
	lsqAcquireImmutable   = 10
	lsqReAcquireImmutable = 11
)

// Acquire failures (AcquireFailure).
const (
	acquireFailurePointTooOld     = 0
	acquireFailurePointNotOnChain = 1
)

type lsqState int

const (
	lsqIdle lsqState = iota
	lsqAcquiredState
	lsqDoneState
)

// lsqSession is one client's local state query protocol.
type lsqSession struct {
	n        *Node
	ntc      uint16
	state    lsqState
	acquired ledgerView
}

// target of an acquire.
type acquireTarget struct {
	kind int // 0 point, 1 volatile tip, 2 immutable tip
	slot uint64
	hash []byte
	orig bool // the point is Origin
}

// handle processes one complete message and returns the reply (nil for
// none) or an error that ends the connection.
func (s *lsqSession) handle(msg []byte) ([]byte, error) {
	d := dec{b: msg}
	n, err := d.listLen()
	if err != nil {
		return nil, err
	}
	key, err := d.word()
	if err != nil {
		return nil, err
	}
	unexpected := fmt.Errorf("codecLocalStateQuery unexpected key (%d, %d) in state %d", key, n, s.state)
	switch s.state {
	case lsqIdle:
		switch {
		case key == lsqAcquirePoint && n == 2, key == lsqAcquireVolatile && n == 1, key == lsqAcquireImmutable && n == 1:
			t, err := decodeAcquire(&d, key)
			if err != nil {
				return nil, err
			}
			if err := end(&d); err != nil {
				return nil, err
			}
			return s.acquire(t), nil
		case key == lsqDone && n == 1:
			if err := end(&d); err != nil {
				return nil, err
			}
			s.state = lsqDoneState
			return nil, nil
		}
	case lsqAcquiredState:
		switch {
		case key == lsqQuery && n == 2:
			q, err := s.n.ver.decodeQuery(&d, s.ntc)
			if err != nil {
				return nil, err
			}
			if err := end(&d); err != nil {
				return nil, err
			}
			result, err := s.n.answer(s.acquired, s.ntc, q)
			if err != nil {
				return nil, err
			}
			e := enc{}
			e.array(2)
			e.uint(lsqResult)
			e.raw(result)
			return e.b, nil
		case key == lsqRelease && n == 1:
			if err := end(&d); err != nil {
				return nil, err
			}
			s.state = lsqIdle
			return nil, nil
		case key == lsqReAcquirePoint && n == 2, key == lsqReAcquireVolatile && n == 1, key == lsqReAcquireImmutable && n == 1:
			t, err := decodeAcquire(&d, key)
			if err != nil {
				return nil, err
			}
			if err := end(&d); err != nil {
				return nil, err
			}
			return s.acquire(t), nil
		}
	}
	return nil, unexpected
}

func end(d *dec) error {
	if d.off != len(d.b) {
		return errors.New("trailing bytes after a local state query message")
	}
	return nil
}

func decodeAcquire(d *dec, key uint64) (acquireTarget, error) {
	switch key {
	case lsqAcquireVolatile, lsqReAcquireVolatile:
		return acquireTarget{kind: 1}, nil
	case lsqAcquireImmutable, lsqReAcquireImmutable:
		return acquireTarget{kind: 2}, nil
	}
	// The hard-fork block's point: [] for Origin, [slot, hash].
	n, err := d.listLen()
	if err != nil {
		return acquireTarget{}, err
	}
	switch n {
	case 0:
		return acquireTarget{orig: true}, nil
	case 2:
		slot, err := d.word()
		if err != nil {
			return acquireTarget{}, err
		}
		// OneEraHash decodes any byte string; one of another length is
		// simply not on the chain.
		hash, err := d.byteString()
		if err != nil {
			return acquireTarget{}, err
		}
		return acquireTarget{slot: slot, hash: hash}, nil
	}
	return acquireTarget{}, fmt.Errorf("point of %d elements", n)
}

// acquire answers MsgAcquired with the ledger state at the target, or
// MsgFailure (back to idle). As the LedgerDB's rollbackTo does
// (ouroboros-consensus, Storage/LedgerDB/V1.hs and V2), a point whose slot
// is before the immutable tip's (Origin included) is PointTooOld, else one
// the volatile chain lacks is PointNotOnChain. The test node's chain has a
// made-up block at every slot, whose hash is tipHash(slot).
func (s *lsqSession) acquire(t acquireTarget) []byte {
	v := s.n.view()
	e := enc{}
	switch t.kind {
	case 1:
		// volatile tip: v as it is
	case 2:
		v = v.at(v.immutableSlot())
	default:
		if t.orig || t.slot < v.immutableSlot() {
			s.state = lsqIdle
			e.array(2)
			e.uint(lsqFailure)
			e.uint(acquireFailurePointTooOld)
			return e.b
		}
		if t.slot > v.slot || string(t.hash) != string(tipHash(t.slot)) {
			s.state = lsqIdle
			e.array(2)
			e.uint(lsqFailure)
			e.uint(acquireFailurePointNotOnChain)
			return e.b
		}
		v = v.at(t.slot)
	}
	s.acquired = v
	s.state = lsqAcquiredState
	e.array(1)
	e.uint(lsqAcquired)
	return e.b
}

// query is a decoded local state query.
type query struct {
	top int // 0 block query, 1 GetSystemStart, 2 GetChainBlockNo, 3 GetChainPoint, 4 DebugLedgerConfig

	block int // 0 QueryIfCurrent, 1 QueryAnytime, 2 QueryHardFork
	era   int // QueryIfCurrent's era
	hf    int // QueryHardFork: 0 GetInterpreter, 1 GetCurrentEra
	era0  int // era query: Byron's tag, or a Shelley query's tag
	inner *query
}

// Shelley-based era query tags the test node answers.
const (
	shelleyGetEpochNo         = 1
	shelleyGetCBOR            = 9
	shelleyGetGenesisConfig   = 11
	shelleyDebugChainDepState = 13
	shelleyLastKnownQueryTag  = 39 // decodeShelleyQuery's tags run 0..35 (0.25) and a few more later
)

func (v nodeVersion) decodeQuery(d *dec, ntc uint16) (query, error) {
	n, err := d.listLen()
	if err != nil {
		return query{}, err
	}
	tag, err := d.word8()
	if err != nil {
		return query{}, err
	}
	switch {
	case n == 2 && tag == 0:
		q, err := v.decodeBlockQuery(d)
		if err != nil {
			return query{}, err
		}
		q.top = 0
		return q, nil
	case n == 1 && tag == 1:
		return query{top: 1}, nil
	case n == 1 && tag == 2:
		return query{top: 2}, nil
	case n == 1 && tag == 3:
		return query{top: 3}, nil
	case n == 1 && tag == 4:
		if ntc < 20 { // requireVersion QueryVersion3
			return query{}, errors.New("query: DebugLedgerConfig requires at least QueryVersion3")
		}
		return query{top: 4}, nil
	}
	return query{}, fmt.Errorf("query: invalid size and tag(%d,%d)", n, tag)
}

func (v nodeVersion) decodeBlockQuery(d *dec) (query, error) {
	n, err := d.listLen()
	if err != nil {
		return query{}, err
	}
	tag, err := d.word8()
	if err != nil {
		return query{}, err
	}
	switch {
	case n == 2 && tag == 0:
		// decodeNS: [era index, era query]
		if m, err := d.listLen(); err != nil || m != 2 {
			return query{}, fmt.Errorf("decodeNS: expected a list of 2: %v", err)
		}
		era, err := d.word8()
		if err != nil {
			return query{}, err
		}
		if int(era) >= len(v.eras) {
			return query{}, fmt.Errorf("decodeNS: invalid index %d", era)
		}
		q := query{block: 0, era: int(era)}
		if era == eraByron {
			t, err := d.word8()
			if err != nil {
				return query{}, err
			}
			if t != 0 {
				return query{}, fmt.Errorf("decodeByronQuery: invalid tag %d", t)
			}
			q.era0 = 0
			return q, nil
		}
		sq, err := decodeShelleyQuery(d, 0)
		if err != nil {
			return query{}, err
		}
		q.era0, q.inner = sq.era0, sq.inner
		return q, nil
	case n == 3 && tag == 1:
		return query{}, fmt.Errorf("%w: QueryAnytime", errNotModelled)
	case n == 2 && tag == 2:
		if m, err := d.listLen(); err != nil || m != 1 {
			return query{}, fmt.Errorf("QueryHardFork: expected a list of 1: %v", err)
		}
		t, err := d.word8()
		if err != nil {
			return query{}, err
		}
		if t > 1 {
			return query{}, fmt.Errorf("QueryHardFork: invalid tag %d", t)
		}
		return query{block: 2, hf: int(t)}, nil
	}
	return query{}, fmt.Errorf("HardForkQuery: invalid size and tag(%d,%d)", n, tag)
}

// decodeShelleyQuery decodes the Shelley-based queries the test node
// answers. Any other (valid) query of decodeShelleyQuery's table is one the
// model does not hold: the connection closes where the real node would
// answer.
func decodeShelleyQuery(d *dec, depth int) (query, error) {
	if depth > 4 {
		return query{}, errors.New("GetCBOR nested too deeply")
	}
	n, err := d.listLen()
	if err != nil {
		return query{}, err
	}
	tag, err := d.word8()
	if err != nil {
		return query{}, err
	}
	switch {
	case n == 1 && tag == shelleyGetEpochNo, n == 1 && tag == shelleyGetGenesisConfig, n == 1 && tag == shelleyDebugChainDepState:
		return query{era0: int(tag)}, nil
	case n == 2 && tag == shelleyGetCBOR:
		inner, err := decodeShelleyQuery(d, depth+1)
		if err != nil {
			return query{}, err
		}
		return query{era0: shelleyGetCBOR, inner: &inner}, nil
	case tag <= shelleyLastKnownQueryTag:
		return query{}, fmt.Errorf("%w: Shelley query (%d, %d)", errNotModelled, n, tag)
	}
	return query{}, fmt.Errorf("decodeShelleyQuery: invalid (len, tag) = (%d, %d)", n, tag)
}

// answer encodes the result of q against the acquired ledger view.
func (n *Node) answer(v ledgerView, ntc uint16, q query) ([]byte, error) {
	e := enc{}
	switch q.top {
	case 1:
		encodeUTCTime(&e, n.cfg.Network.SystemStart)
	case 2:
		b := v.blockNo()
		encodeWithOrigin(&e, &b)
	case 3:
		encodePoint(&e, v.slot, tipHash(v.slot), false)
	case 4:
		return nil, fmt.Errorf("%w: DebugLedgerConfig", errNotModelled)
	default:
		switch q.block {
		case 2:
			if q.hf == 0 {
				return nil, fmt.Errorf("%w: GetInterpreter", errNotModelled)
			}
			e.uint(uint64(v.era)) // EraIndex: its int
		default:
			if q.era != v.era {
				encodeEraMismatch(&e, q.era, n.ver.eras[q.era], v.era, n.ver.eras[v.era])
				return e.b, nil
			}
			if q.era == eraByron {
				return nil, fmt.Errorf("%w: Byron GetUpdateInterfaceState", errNotModelled)
			}
			r, err := n.answerShelley(v, ntc, q)
			if err != nil {
				return nil, err
			}
			e.array(1) // Right result
			e.raw(r)
		}
	}
	return e.b, nil
}

func (n *Node) answerShelley(v ledgerView, ntc uint16, q query) ([]byte, error) {
	e := enc{}
	switch q.era0 {
	case shelleyGetEpochNo:
		e.uint(n.epochOf(v.slot))
	case shelleyGetGenesisConfig:
		encodeCompactGenesis(&e, n.compactGenesis(), n.ver.genesisLayoutFor(ntc))
	case shelleyDebugChainDepState:
		if v.era < eraBabbage {
			return nil, fmt.Errorf("%w: TPraos chain-dependent state", errNotModelled)
		}
		encodePraosState(&e, v.praosState(), n.ver.praosFields)
	case shelleyGetCBOR:
		inner, err := n.answerShelley(v, ntc, *q.inner)
		if err != nil {
			return nil, err
		}
		// Serialised: tag 24 around the inner result's bytes.
		e.tag(24)
		e.bytes(inner)
	default:
		return nil, fmt.Errorf("%w: Shelley query %d", errNotModelled, q.era0)
	}
	return e.b, nil
}
