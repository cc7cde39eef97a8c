// Package nodequery reads what kesrotate-agent needs to know from a running
// cardano-node: the chain state over the node-to-client local state query
// protocol (everything `cardano-cli query kes-period-info` uses) and the
// node's Prometheus metrics. It is part of the online side and must never
// be imported by cmd/kesrotate.
package nodequery

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/blinklabs-io/gouroboros"
	"github.com/blinklabs-io/gouroboros/ledger"
	"github.com/blinklabs-io/gouroboros/protocol/localstatequery"

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
	Era               int
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
	}
	return nil
}

// Query connects to the node's unix socket with network magic magic,
// acquires the volatile tip and reads the tip, system start, genesis KES
// parameters and the pool's on-chain op-cert counter, all from the same
// acquired state. Cancelling ctx closes the connection.
func Query(ctx context.Context, socketPath string, magic uint32, poolID keys.PoolID) (*ChainState, error) {
	type result struct {
		s   *ChainState
		err error
	}
	d := net.Dialer{Timeout: DialTimeout}
	raw, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	// The deadline bounds the handshake; a context without one gets
	// DialTimeout for it. Cancelling ctx closes the socket, which ends
	// every pending read.
	deadline, hasDeadline := ctx.Deadline()
	if !hasDeadline {
		deadline = time.Now().Add(DialTimeout)
	}
	_ = raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stop()
	conn, err := ouroboros.NewConnection(
		ouroboros.WithConnection(raw),
		ouroboros.WithNetworkMagic(magic),
		ouroboros.WithNodeToNode(false),
		ouroboros.WithKeepAlive(false),
	)
	if err != nil {
		_ = raw.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, socketPath, err)
	}
	defer func() { _ = conn.Close() }()
	if !hasDeadline {
		_ = raw.SetDeadline(time.Time{})
	}

	done := make(chan result, 1)
	go func() {
		s, err := query(conn, poolID)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, r.err
		}
		if r.s.NetworkMagic != magic {
			return nil, fmt.Errorf("%w: the node's genesis has magic %d, want %d", ErrNetworkMismatch, r.s.NetworkMagic, magic)
		}
		return r.s, nil
	case err, ok := <-conn.ErrorChan():
		if !ok {
			err = fmt.Errorf("connection closed")
		}
		return nil, fmt.Errorf("%w: %w", ErrQuery, err)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrQuery, ctx.Err())
	}
}

func query(conn *ouroboros.Connection, poolID keys.PoolID) (*ChainState, error) {
	lsq := conn.LocalStateQuery()
	if lsq == nil || lsq.Client == nil {
		return nil, fmt.Errorf("%w: the node did not offer local state queries", ErrQuery)
	}
	c := lsq.Client
	if err := c.AcquireVolatileTip(); err != nil {
		return nil, fmt.Errorf("%w: acquiring the tip: %w", ErrQuery, err)
	}
	tip, err := c.GetChainPoint()
	if err != nil {
		return nil, fmt.Errorf("%w: GetChainPoint: %w", ErrQuery, err)
	}
	start, err := c.GetSystemStart()
	if err != nil {
		return nil, fmt.Errorf("%w: GetSystemStart: %w", ErrQuery, err)
	}
	era, err := c.GetCurrentEra()
	if err != nil {
		return nil, fmt.Errorf("%w: GetCurrentEra: %w", ErrQuery, err)
	}
	gen, err := c.GetGenesisConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: GetGenesisConfig: %w", ErrQuery, err)
	}
	counters, err := c.GetOpCertCounters()
	if err != nil {
		return nil, fmt.Errorf("%w: GetOpCertCounters: %w", ErrQuery, err)
	}
	_ = c.Release()

	st, err := startTime(start)
	if err != nil {
		return nil, err
	}
	if gen.SlotsPerKESPeriod <= 0 || gen.MaxKESEvolutions <= 0 || gen.NetworkMagic <= 0 || gen.NetworkMagic > 1<<32-1 {
		return nil, fmt.Errorf("%w: genesis config has magic %d, %d slots per KES period, %d evolutions",
			ErrQuery, gen.NetworkMagic, gen.SlotsPerKESPeriod, gen.MaxKESEvolutions)
	}
	s := &ChainState{
		TipSlot:           tip.Slot,
		TipHash:           tip.Hash,
		SystemStart:       st,
		NetworkMagic:      uint32(gen.NetworkMagic),
		SlotsPerKESPeriod: uint64(gen.SlotsPerKESPeriod),
		MaxKESEvolutions:  uint64(gen.MaxKESEvolutions),
		Era:               era,
		OnChain:           opcert.None(),
	}
	if n, ok := counters[ledger.Blake2b224(poolID)]; ok {
		s.OnChain = opcert.Recorded(n)
	}
	return s, nil
}

// startTime converts the node's UTCTime (year, day of year from 1,
// picoseconds into the day).
func startTime(r *localstatequery.SystemStartResult) (time.Time, error) {
	if !r.Year.IsInt64() || r.Year.Int64() < 1 || r.Year.Int64() > 9999 || r.Day < 1 || r.Day > 366 ||
		r.Picoseconds.Sign() < 0 || r.Picoseconds.Cmp(big.NewInt(86401*1e12)) >= 0 {
		return time.Time{}, fmt.Errorf("%w: system start %s is out of range", ErrQuery, r.String())
	}
	ns := new(big.Int).Quo(&r.Picoseconds, big.NewInt(1000)).Int64()
	return time.Date(int(r.Year.Int64()), 1, r.Day, 0, 0, 0, 0, time.UTC).Add(time.Duration(ns)), nil
}
