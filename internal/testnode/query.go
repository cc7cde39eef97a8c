package testnode

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"net"
	"os"
	"sync"
	"time"

	"github.com/blinklabs-io/gouroboros"
	"github.com/blinklabs-io/gouroboros/cbor"
	lcommon "github.com/blinklabs-io/gouroboros/ledger/common"
	pcommon "github.com/blinklabs-io/gouroboros/protocol/common"
	"github.com/blinklabs-io/gouroboros/protocol/localstatequery"

	"github.com/kesrotate/kesrotate/keys"
)

// The node-to-client local state queries the test node answers (with
// gouroboros' localstatequery.Server). It is the subset that
// `cardano-cli query kes-period-info` and kesrotate-agent need:
//
//   - acquire (volatile tip, immutable tip or a point: all acquire the
//     current tip), reacquire, release, done;
//   - GetSystemStart: the network's system start as [year, day of year,
//     picoseconds of day];
//   - GetChainPoint: the tip as [slot, hash] (the hash is a made-up 32
//     bytes derived from the slot); GetChainBlockNo: [1, slot/20];
//   - HardFork GetCurrentEra: 6 (Conway);
//   - Shelley GetEpochNo (slot / epoch length, Shelley arithmetic only);
//   - Shelley GetGenesisConfig: magic, KES parameters (slotsPerKESPeriod,
//     maxKESEvolutions), slot length in microseconds, the rest plausible
//     filler;
//   - Shelley DebugChainDepState (what gouroboros' GetOpCertCounters reads),
//     plain or wrapped in GetCBOR as cardano-cli sends it: Praos layout
//     with the configured op cert counters and neutral nonces.
//
// Any other query (GetEraHistory among them) is answered with a protocol
// error, which closes the connection. Era-specific queries for any era but
// Conway are refused the same way (the real node answers EraMismatch).
const (
	eraConway   = 6
	epochLength = 432000
)

func (n *Node) listenSocket(ctx context.Context) error {
	if fi, err := os.Lstat(n.cfg.SocketPath); err == nil && fi.Mode()&os.ModeSocket != 0 {
		// A stale socket from an earlier run, as cardano-node removes.
		_ = os.Remove(n.cfg.SocketPath)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", n.cfg.SocketPath)
	if err != nil {
		return fmt.Errorf("node socket: %w", err)
	}
	n.sock = ln
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				n.serveConn(c)
			}()
		}
	}()
	return nil
}

// snapshot is the ledger state a client acquired.
type snapshot struct {
	slot    uint64
	onchain map[keys.PoolID]uint64
}

func (n *Node) snapshot() snapshot {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := snapshot{slot: n.tipLocked(), onchain: make(map[keys.PoolID]uint64, len(n.onchain))}
	for id, c := range n.onchain {
		s.onchain[id] = c
	}
	return s
}

func (n *Node) serveConn(c net.Conn) {
	var (
		mu       sync.Mutex
		acquired *snapshot
	)
	cfg := localstatequery.NewConfig(
		localstatequery.WithAcquireFunc(func(cc localstatequery.CallbackContext, _ localstatequery.AcquireTarget, reacquire bool) error {
			s := n.snapshot()
			mu.Lock()
			acquired = &s
			mu.Unlock()
			if reacquire {
				// gouroboros v0.199.0's server answers an acquire with
				// MsgAcquired but sends nothing after a reacquire.
				return cc.Server.SendMessage(localstatequery.NewMsgAcquired())
			}
			return nil
		}),
		localstatequery.WithReleaseFunc(func(localstatequery.CallbackContext) error {
			mu.Lock()
			acquired = nil
			mu.Unlock()
			return nil
		}),
		localstatequery.WithQueryFunc(func(_ localstatequery.CallbackContext, q localstatequery.QueryWrapper) (any, error) {
			mu.Lock()
			s := acquired
			mu.Unlock()
			if s == nil {
				return nil, fmt.Errorf("query before acquire")
			}
			return n.answer(*s, q.Query)
		}),
	)
	if !n.track(c, nil) {
		_ = c.Close()
		return
	}
	defer n.untrack(c)
	oc, err := ouroboros.NewConnection(
		ouroboros.WithConnection(c),
		ouroboros.WithServer(true),
		ouroboros.WithNodeToNode(false),
		ouroboros.WithNetworkMagic(n.cfg.Network.Magic),
		ouroboros.WithLocalStateQueryConfig(cfg),
	)
	if err != nil {
		_ = c.Close()
		return
	}
	if !n.track(c, oc) {
		_ = oc.Close()
	}
	for range oc.ErrorChan() {
		// A client going away or a refused query ends the connection;
		// the channel closes once it is shut down.
		_ = oc.Close()
	}
}

// track records a client connection (and its ouroboros connection once the
// handshake is done) so that Close can end it. It reports false once the
// node is closing.
func (n *Node) track(c net.Conn, oc *ouroboros.Connection) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	select {
	case <-n.closed:
		return false
	default:
	}
	n.conns[c] = oc
	return true
}

func (n *Node) untrack(c net.Conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.conns, c)
}

func (n *Node) answer(s snapshot, q any) (any, error) {
	switch q := q.(type) {
	case *localstatequery.SystemStartQuery:
		return systemStart(n.cfg.Network.SystemStart), nil
	case *localstatequery.ChainPointQuery:
		return &pcommon.Point{Slot: s.slot, Hash: tipHash(s.slot)}, nil
	case *localstatequery.ChainBlockNoQuery:
		return []any{1, s.slot / 20}, nil
	case *localstatequery.BlockQuery:
		switch bq := q.Query.(type) {
		case *localstatequery.HardForkQuery:
			if _, ok := bq.Query.(*localstatequery.HardForkCurrentEraQuery); ok {
				return eraConway, nil
			}
			return nil, fmt.Errorf("hard fork query %T is not served by the test node", bq.Query)
		case *localstatequery.ShelleyQuery:
			if bq.Era != eraConway {
				return nil, fmt.Errorf("era mismatch: query for era %d, the test node is in era %d", bq.Era, eraConway)
			}
			r, err := n.answerShelley(s, bq.Query)
			if err != nil {
				return nil, err
			}
			// QueryIfCurrent answers a one-element array around the result.
			return []any{r}, nil
		}
	}
	return nil, fmt.Errorf("query %T is not served by the test node", q)
}

func (n *Node) answerShelley(s snapshot, q any) (any, error) {
	switch q := q.(type) {
	case *localstatequery.ShelleyEpochNoQuery:
		return s.slot / epochLength, nil
	case *localstatequery.ShelleyGenesisConfigQuery:
		return n.genesisConfig(), nil
	case *localstatequery.ShelleyDebugChainDepStateQuery:
		return chainDepState(s)
	case *localstatequery.ShelleyCborQuery:
		if _, ok := q.Query.(*localstatequery.ShelleyDebugChainDepStateQuery); !ok {
			return nil, fmt.Errorf("GetCBOR of %T is not served by the test node", q.Query)
		}
		raw, err := chainDepState(s)
		if err != nil {
			return nil, err
		}
		return cbor.Tag{Number: 24, Content: []byte(raw)}, nil
	}
	return nil, fmt.Errorf("shelley query %T is not served by the test node", q)
}

// chainDepState encodes the Praos chain-dependent state:
// [0, [lastSlot, {pool key hash: counter}, six nonces]].
func chainDepState(s snapshot) (cbor.RawMessage, error) {
	counters := make(map[lcommon.Blake2b224]uint64, len(s.onchain))
	for id, c := range s.onchain {
		counters[lcommon.Blake2b224(id)] = c
	}
	neutral := []any{0}
	b, err := cbor.Encode([]any{0, []any{
		[]any{1, s.slot}, counters,
		neutral, neutral, neutral, neutral, neutral, neutral,
	}})
	if err != nil {
		return nil, fmt.Errorf("encoding chain dep state: %w", err)
	}
	return cbor.RawMessage(b), nil
}

func (n *Node) genesisConfig() localstatequery.GenesisConfigResult {
	net := n.cfg.Network
	networkID := uint8(0)
	if net.Magic == 764824073 {
		networkID = 1
	}
	empty := cbor.RawMessage{0xa0} // {}
	return localstatequery.GenesisConfigResult{
		Start:             systemStart(net.SystemStart),
		NetworkMagic:      int(net.Magic),
		NetworkId:         networkID,
		ActiveSlotsCoeff:  []any{1, 20},
		SecurityParam:     2160,
		EpochLength:       epochLength,
		SlotsPerKESPeriod: int(net.SlotsPerKESPeriod),
		MaxKESEvolutions:  int(net.MaxKESEvolutions),
		SlotLength:        int(net.SlotLength / time.Microsecond),
		UpdateQuorum:      5,
		MaxLovelaceSupply: 45000000000000000,
		ProtocolParams: localstatequery.GenesisConfigResultProtocolParameters{
			A0: []int{3, 10}, Rho: []int{3, 1000}, Tau: []int{1, 5}, DecentralizationParam: []int{1, 1},
			ExtraEntropy: []any{0}, ProtocolVersionMajor: 2,
		},
		GenDelegs:    empty,
		InitialFunds: empty,
		Staking:      cbor.RawMessage{0x82, 0xa0, 0xa0}, // [{}, {}]
	}
}

// systemStart is the node's UTCTime encoding: year, day of the year
// (1-based) and picoseconds into the day.
func systemStart(t time.Time) localstatequery.SystemStartResult {
	t = t.UTC()
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	ps := new(big.Int).Mul(big.NewInt(int64(t.Sub(midnight))), big.NewInt(1000))
	r := localstatequery.SystemStartResult{Day: t.YearDay()}
	r.Year.SetInt64(int64(t.Year()))
	r.Picoseconds.Set(ps)
	return r
}

func tipHash(slot uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], slot)
	h := sha256.Sum256(append([]byte("kesrotate test node block "), b[:]...))
	return h[:]
}
