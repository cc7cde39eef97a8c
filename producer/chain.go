package producer

import (
	"context"
	"fmt"
	"time"

	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

// Where a ChainView's tip comes from.
const (
	SourceSocket = "socket" // the node, over its socket
	SourceGiven  = "given"  // --tip-slot (and --onchain-counter) by hand
	SourceClock  = "clock"  // the slot of the clock; no on-chain counter
)

// Purpose is the operation a chain view is read for: each operation
// states through it what it needs of the chain, so that no caller decides
// for it whether a syncing node will do.
type Purpose int

// What the chain is read for.
const (
	// ForSnapshot: a snapshot for the cold side, which picks the next
	// counter and KES period from it: a synced node, and the on-chain
	// counter known (a tip given by hand must come with it).
	ForSnapshot Purpose = iota + 1
	// ForInstall: the cert is checked against the chain's KES period and
	// counter: a synced node.
	ForInstall
	// ForPromote: as an install, for the staged set: a synced node.
	ForPromote
	// ForDemote: the slot the receipt names; a node still syncing must be
	// able to stop forging.
	ForDemote
	// ForRollback: the slot of the confirmation; the previous set's files
	// are the node's own again, syncing or not.
	ForRollback
	// ForStatus and ForCheck report what the node shows, syncing or not.
	ForStatus
	ForCheck
)

// RequiresSynced says whether the operation refuses a node whose tip
// trails the clock by more than the allowed lag (nodequery.ErrSyncing).
// An unnamed purpose requires it.
func (p Purpose) RequiresSynced() bool {
	switch p {
	case ForDemote, ForRollback, ForStatus, ForCheck:
		return false
	}
	return true
}

// NeedsCounter says whether the operation needs the pool's on-chain
// counter, so that a tip given by hand must come with one.
func (p Purpose) NeedsCounter() bool { return p == ForSnapshot }

// ChainOptions say how to learn the chain: a tip given by hand (for
// rehearsals and disconnected use), else the node socket when one is
// configured, else the clock.
type ChainOptions struct {
	TipSlot *uint64
	OnChain *opcert.OnChain // with TipSlot only
	Now     time.Time
	// For is the operation the chain is read for: when it RequiresSynced,
	// a node whose tip trails Now by more than MaxTipLag
	// (nodequery.MaxTipLag when 0) is refused (nodequery.ErrSyncing).
	For       Purpose
	MaxTipLag time.Duration
	Timeout   time.Duration // for the socket; 30 s when 0
}

// ChainView is the chain as the agent uses it for checks and snapshots.
type ChainView struct {
	ChainState
	Source string
	// Lag is how far the tip trails the clock (socket only).
	Lag time.Duration
	// Syncing: the tip trails the clock by more than the allowed lag.
	Syncing bool
	// Node is the socket's full answer (socket only).
	Node *nodequery.ChainState
}

// Chain reads the chain from the source the options and the configuration
// name. A node on another network, or still syncing when o.For requires a
// synced one, is an error.
func (a *Agent) Chain(ctx context.Context, o ChainOptions) (*ChainView, error) {
	switch {
	case o.TipSlot != nil:
		v := &ChainView{ChainState: ChainState{TipSlot: *o.TipSlot, OnChain: opcert.None()}, Source: SourceGiven}
		if o.OnChain != nil {
			v.OnChain, v.OnChainKnown = *o.OnChain, true
		}
		return v, nil
	case a.Config.Socket != "":
		timeout := o.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		q, err := nodequery.Query(cctx, a.Config.Socket, a.Network.Magic, a.ColdVKey().PoolID())
		if err != nil {
			return nil, fmt.Errorf("querying the node at %s: %w", a.Config.Socket, err)
		}
		if err := q.CheckNetwork(a.Network); err != nil {
			return nil, err
		}
		v := &ChainView{ChainState: ChainState{TipSlot: q.TipSlot, OnChain: q.OnChain, OnChainKnown: true}, Source: SourceSocket,
			Node: q, Lag: q.Lag(a.Network, o.Now)}
		maxLag := o.MaxTipLag
		if maxLag <= 0 {
			maxLag = nodequery.MaxTipLag
		}
		if err := q.CheckSynced(a.Network, o.Now, maxLag); err != nil {
			v.Syncing = true
			if o.For.RequiresSynced() {
				return v, err
			}
		}
		return v, nil
	}
	s, err := a.Network.SlotAt(o.Now)
	if err != nil {
		return nil, err
	}
	return &ChainView{ChainState: ChainState{TipSlot: s, OnChain: opcert.None()}, Source: SourceClock}, nil
}
