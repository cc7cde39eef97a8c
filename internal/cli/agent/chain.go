package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/producer"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

// chainFlags are the flags every command that needs the chain shares.
type chainFlags struct {
	tipSlot, onchain string
	timeout          time.Duration
	maxTipLag        time.Duration
}

func (c *chainFlags) add(f *pflag.FlagSet) {
	f.StringVar(&c.tipSlot, "tip-slot", "", "the chain's tip slot (instead of asking the node)")
	f.StringVar(&c.onchain, "onchain-counter", "", `the pool's on-chain counter, or "none" (with --tip-slot)`)
	cli.DurationVar(f, &c.timeout, "timeout", 30*time.Second, "how long to wait for the node socket")
	cli.DurationVar(f, &c.maxTipLag, "max-tip-lag", nodequery.MaxTipLag, "how far the node's tip may trail the clock before it counts as syncing")
}

// options parses the flags for an operation: one that needs the on-chain
// counter takes no tip given by hand without it.
func (c *chainFlags) options(now time.Time, p producer.Purpose) (producer.ChainOptions, error) {
	o := producer.ChainOptions{Now: now, For: p, MaxTipLag: c.maxTipLag, Timeout: c.timeout}
	if c.tipSlot == "" {
		if c.onchain != "" {
			return o, cli.Usage(errors.New("--onchain-counter needs --tip-slot"))
		}
		return o, nil
	}
	s, err := strconv.ParseUint(c.tipSlot, 10, 64)
	if err != nil {
		return o, cli.Usage(fmt.Errorf("--tip-slot %q is not a number", c.tipSlot))
	}
	o.TipSlot = &s
	switch c.onchain {
	case "":
		if p.NeedsCounter() {
			return o, cli.Usage(errors.New("--tip-slot needs --onchain-counter N|none"))
		}
	default:
		n, err := opcert.ParseOnChain(c.onchain)
		if err != nil {
			return o, cli.Usage(fmt.Errorf("--onchain-counter: %w", err), "the pool's op-cert counter as the chain records it, or \"none\" if the pool never minted a block")
		}
		o.OnChain = &n
	}
	return o, nil
}

// chain reads the chain for operation p, with a hint for each way the
// node can fail to answer.
func (c *chainFlags) chain(g *globals, a *producer.Agent, p producer.Purpose) (*producer.ChainView, error) {
	now, err := g.env.Now()
	if err != nil {
		return nil, err
	}
	o, err := c.options(now, p)
	if err != nil {
		return nil, err
	}
	v, err := a.Chain(context.Background(), o)
	if err != nil {
		return nil, chainHint(a, err)
	}
	if v.Syncing {
		g.env.Warn("the node is still syncing: its tip is %s behind the clock", cli.FormatDuration(v.Lag.Round(time.Second)))
	}
	return v, nil
}

// chainHint explains a failed chain query.
func chainHint(a *producer.Agent, err error) error {
	var mm *nodequery.MagicMismatchError
	switch {
	case errors.As(err, &mm):
		return cli.Hint(err, fmt.Sprintf("check that %s is the socket of this pool's node; if the agent's network is wrong, set it up again with the right --network", a.Config.Socket), "nothing was changed")
	case errors.Is(err, nodequery.ErrNetworkMismatch):
		return cli.Hint(err, "the agent was set up for another network than the node runs", "nothing was changed")
	case errors.Is(err, nodequery.ErrSyncing):
		return cli.Hint(err, "wait until the node has caught up (the tip must be within --max-tip-lag of the clock; check the producer's clock too)",
			"a rehearsal can give --tip-slot S --onchain-counter N|none instead", "nothing was changed")
	case errors.Is(err, nodequery.ErrVersion):
		return cli.Hint(err, "kesrotate-agent supports cardano-node 10.5 and later", "nothing was changed")
	case errors.Is(err, nodequery.ErrEraMismatch):
		return cli.Hint(err, "the node's ledger changed era during the query; run the command again", "nothing was changed")
	case errors.Is(err, nodequery.ErrConnect):
		return cli.Hint(err, fmt.Sprintf("is cardano-node running with --socket-path %s, and may this user open it?", a.Config.Socket),
			"--tip-slot S --onchain-counter N|none replace the query", "nothing was changed")
	case errors.Is(err, nodequery.ErrQuery):
		return cli.Hint(err, "the node answered something this agent cannot read; run 'kesrotate-agent check' and report the output", "nothing was changed")
	}
	return err
}
