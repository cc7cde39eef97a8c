// Package nodequery reads what kesrotate-agent needs to know from a running
// cardano-node: the chain state over the node-to-client local state query
// protocol (everything `cardano-cli query kes-period-info` uses) and the
// node's Prometheus metrics. It is part of the online side and must never
// be imported by cmd/kesrotate.
//
// The node-to-client client is this package's own: the multiplexer,
// handshake and local-state-query messages are written from
// ouroboros-network and the answers decoded from ouroboros-consensus,
// checked against the node's golden files for every layout from node 10.5
// on (Praos state with 7 or 8 fields, three GetGenesisConfig layouts).
package nodequery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/kesrotate/kesrotate/internal/durfmt"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// DialTimeout bounds connecting to the socket and the handshake when the
// context has no deadline; the context's deadline, when set, bounds the
// whole exchange.
const DialTimeout = 10 * time.Second

// ChainState is the node's view of the chain at its tip, as far as KES
// rotation cares.
type ChainState struct {
	TipSlot           uint64
	TipHash           []byte
	SystemStart       time.Time
	NetworkMagic      uint32
	SlotsPerKESPeriod uint64
	MaxKESEvolutions  uint64
	SlotLength        time.Duration
	Era               int
	EraName           string
	// NodeToClientVersion is the version the handshake agreed on.
	NodeToClientVersion uint16
	// GenesisLayout and PraosFields say which encodings the node used
	// (see Genesis.Layout and PraosState.Fields).
	GenesisLayout string
	PraosFields   int
	// OnChain is the pool's op-cert counter in the node's chain-dependent
	// state: None when the pool has no entry (never minted).
	OnChain opcert.OnChain
}

// KESPeriod is the KES period of the tip slot.
func (s *ChainState) KESPeriod() uint64 {
	if s.SlotsPerKESPeriod == 0 {
		return 0
	}
	return s.TipSlot / s.SlotsPerKESPeriod
}

// CheckNetwork reports (ErrNetworkMismatch) whether the node runs another
// network than n: a different magic, system start or KES parameters.
func (s *ChainState) CheckNetwork(n opcert.Network) error {
	switch {
	case s.NetworkMagic != n.Magic:
		return fmt.Errorf("%w: the node's network magic is %d, %s's is %d", ErrNetworkMismatch, s.NetworkMagic, n.Name, n.Magic)
	case !s.SystemStart.Equal(n.SystemStart):
		return fmt.Errorf("%w: the node's system start is %s, %s's is %s", ErrNetworkMismatch,
			s.SystemStart.Format(time.RFC3339), n.Name, n.SystemStart.Format(time.RFC3339))
	case s.SlotsPerKESPeriod != n.SlotsPerKESPeriod || s.MaxKESEvolutions != n.MaxKESEvolutions:
		return fmt.Errorf("%w: the node has %d slots per KES period and %d evolutions, %s has %d and %d", ErrNetworkMismatch,
			s.SlotsPerKESPeriod, s.MaxKESEvolutions, n.Name, n.SlotsPerKESPeriod, n.MaxKESEvolutions)
	case s.SlotLength != 0 && n.SlotLength != 0 && s.SlotLength != n.SlotLength:
		return fmt.Errorf("%w: the node's slots last %s, %s's %s", ErrNetworkMismatch, s.SlotLength, n.Name, n.SlotLength)
	}
	return nil
}

// MaxTipLag is how far the tip may trail the clock before the node counts
// as syncing. A Cardano chain with active slot coefficient 0.05 goes five
// minutes without a block with probability about 2·10⁻⁷ (0.95^300).
const MaxTipLag = 5 * time.Minute

// Lag is how far the tip's time trails now on network n (negative when the
// tip is ahead of the clock).
func (s *ChainState) Lag(n opcert.Network, now time.Time) time.Duration {
	return now.Sub(n.SlotTime(s.TipSlot))
}

// CheckSynced reports ErrSyncing when the tip trails now by more than
// maxLag (MaxTipLag when 0): the node is still catching up, and its
// counters and KES period are old.
func (s *ChainState) CheckSynced(n opcert.Network, now time.Time, maxLag time.Duration) error {
	if maxLag <= 0 {
		maxLag = MaxTipLag
	}
	if lag := s.Lag(n, now); lag > maxLag {
		return fmt.Errorf("%w: its tip (slot %d, %s) is %s behind the clock", ErrSyncing, s.TipSlot,
			n.SlotTime(s.TipSlot).UTC().Format(time.RFC3339), roundLag(lag))
	}
	return nil
}

func roundLag(d time.Duration) string {
	if d > time.Hour {
		return durfmt.Format(d.Round(time.Minute))
	}
	return durfmt.Format(d.Round(time.Second))
}

// Query connects to the node's unix socket with network magic magic,
// acquires the volatile tip and reads the tip, system start, current era,
// genesis KES parameters and the pool's on-chain op-cert counter, all from
// the same acquired state. Cancelling ctx closes the connection.
func Query(ctx context.Context, socketPath string, magic uint32, poolID keys.PoolID) (*ChainState, error) {
	raw, err := dialUnix(ctx, socketPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	defer func() { _ = raw.Close() }()
	deadline, hasDeadline := ctx.Deadline()
	if !hasDeadline {
		deadline = time.Now().Add(DialTimeout)
	}
	_ = raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stop()

	m := newMux(raw)
	version, err := handshake(m, magic)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if !hasDeadline {
		_ = raw.SetDeadline(time.Now().Add(2 * DialTimeout))
	}
	s, err := query(lsq{m}, poolID)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	s.NodeToClientVersion = version
	if s.NetworkMagic != magic {
		return nil, fmt.Errorf("%w: the node's genesis has magic %d, want %d", ErrNetworkMismatch, s.NetworkMagic, magic)
	}
	return s, nil
}

// ctxErr prefers the context's error when it ended the exchange.
func ctxErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() == nil, errors.Is(err, ErrNetworkMismatch), errors.Is(err, ErrVersion):
	case errors.Is(err, ErrConnect):
		return fmt.Errorf("%w: no handshake: %w", ErrConnect, ctx.Err())
	default:
		return fmt.Errorf("%w: %w", ErrQuery, ctx.Err())
	}
	return err
}

func query(q lsq, poolID keys.PoolID) (*ChainState, error) {
	fail := func(what string, err error) error {
		if errors.Is(err, ErrEraMismatch) || errors.Is(err, ErrSyncing) {
			return err
		}
		return fmt.Errorf("%w: %s: %w", ErrQuery, what, err)
	}
	if err := q.acquire(); err != nil {
		return nil, fail("acquiring the tip", err)
	}
	s := &ChainState{OnChain: opcert.None()}
	raw, err := q.query(queryGetChainPoint)
	if err != nil {
		return nil, fail("GetChainPoint", err)
	}
	slot, hash, origin, err := decodePoint(raw)
	if err != nil {
		return nil, fail("GetChainPoint", err)
	}
	if origin {
		return nil, fmt.Errorf("%w: it has no blocks yet", ErrSyncing)
	}
	s.TipSlot, s.TipHash = slot, hash
	if raw, err = q.query(queryGetSystemStart); err != nil {
		return nil, fail("GetSystemStart", err)
	}
	if s.SystemStart, err = decodeSystemStart(raw); err != nil {
		return nil, fail("GetSystemStart", err)
	}
	if raw, err = q.query(queryGetCurrentEra); err != nil {
		return nil, fail("GetCurrentEra", err)
	}
	if s.Era, err = decodeEra(raw); err != nil {
		return nil, fail("GetCurrentEra", err)
	}
	s.EraName = EraName(s.Era)
	if s.Era < firstPraosEra {
		return nil, fmt.Errorf("%w: its ledger is still in the %s era (op-cert counters are read from Babbage on)", ErrSyncing, s.EraName)
	}
	if raw, err = ifCurrent(q, s.Era, shelleyGetGenesisConfig); err != nil {
		return nil, fail("GetGenesisConfig", err)
	}
	g, err := decodeGenesis(raw)
	if err != nil {
		return nil, fail("GetGenesisConfig", err)
	}
	if g.SlotsPerKESPeriod == 0 || g.MaxKESEvolutions == 0 {
		return nil, fail("GetGenesisConfig", fmt.Errorf("%d slots per KES period, %d evolutions", g.SlotsPerKESPeriod, g.MaxKESEvolutions))
	}
	s.NetworkMagic, s.SlotsPerKESPeriod, s.MaxKESEvolutions, s.SlotLength, s.GenesisLayout =
		g.NetworkMagic, g.SlotsPerKESPeriod, g.MaxKESEvolutions, g.SlotLength, g.Layout
	if !g.SystemStart.Equal(s.SystemStart) {
		return nil, fail("GetGenesisConfig", fmt.Errorf("its system start %s is not GetSystemStart's %s", g.SystemStart, s.SystemStart))
	}
	if raw, err = ifCurrent(q, s.Era, shelleyDebugChainDepState); err != nil {
		return nil, fail("DebugChainDepState", err)
	}
	st, err := decodePraosState(raw)
	if err != nil {
		return nil, fail("DebugChainDepState", err)
	}
	s.PraosFields = st.Fields
	if n, ok := st.Counters[cbor.ByteString(poolID[:])]; ok {
		s.OnChain = opcert.Recorded(n)
	}
	q.done()
	return s, nil
}

func ifCurrent(q lsq, era, shelleyQuery int) (cbor.RawMessage, error) {
	raw, err := q.query(queryIfCurrent(era, shelleyQuery))
	if err != nil {
		return nil, err
	}
	return unwrapIfCurrent(raw)
}

// maxSunPath is the longest unix socket path connect(2) takes on Linux
// (sun_path is 108 bytes with its NUL).
const maxSunPath = 107

// dialUnix connects to the unix socket at path. A path too long for
// sun_path (an agent folder deep in a file system, kept absolute so that
// cron and systemd find it) is reached through its folder's descriptor:
// /proc/self/fd/N/NAME names the same socket in a few bytes.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	d := net.Dialer{Timeout: DialTimeout}
	if len(path) <= maxSunPath {
		return d.DialContext(ctx, "unix", path)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	short := fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path))
	if len(short) > maxSunPath {
		return nil, fmt.Errorf("socket path %s is too long to connect to (%d bytes)", path, len(path))
	}
	c, err := d.DialContext(ctx, "unix", short)
	if err != nil {
		return nil, fmt.Errorf("dial unix %s: %w", path, errors.Unwrap(err))
	}
	return c, nil
}
