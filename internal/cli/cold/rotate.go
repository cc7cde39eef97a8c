package cold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/opcert"
)

type rotateOptions struct {
	kesPeriod    string
	onchain      string
	out          string
	forceCounter string
	ignoreClock  bool
}

func newRotateCmd(g *globals) *cobra.Command {
	o := &rotateOptions{}
	c := &cobra.Command{
		Use:   "rotate POOL --kes-period P --onchain-counter N|none --out DIR",
		Short: "Issue the next op cert with a fresh KES key",
		Long: `Issue the next operational certificate for POOL with a fresh KES key.

The counter is chosen by the Praos rule from the on-chain counter and the
vault's journal: on-chain + 1 (the same number again when the last cert
never minted), 0 for a pool that never minted. kesrotate refuses when the
chain is ahead of every cert the vault issued or has gone backwards.

Without a producer the cert and plaintext KES keys are written into --out in
cardano-cli format: they are hot keys leaving the vault unencrypted.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error { return runRotatePlain(g, o, args[0]) },
	}
	f := c.Flags()
	f.StringVar(&o.kesPeriod, "kes-period", "", "KES period the cert starts in (from the producer's chain tip)")
	f.StringVar(&o.onchain, "onchain-counter", "", `the pool's op-cert counter on chain, or "none" if it never minted`)
	f.StringVar(&o.out, "out", "", "folder for node.cert, kes.skey and kes.vkey")
	f.StringVar(&o.forceCounter, "force-counter", "", "issue with this counter regardless of the rules (journaled; dangerous)")
	f.BoolVar(&o.ignoreClock, "ignore-clock", false, "accept a --kes-period more than one period away from this machine's clock")
	return c
}

func runRotatePlain(g *globals, o *rotateOptions, name string) error {
	if o.kesPeriod == "" || o.onchain == "" || o.out == "" {
		return cli.Usage(errors.New("rotate needs --kes-period, --onchain-counter and --out"),
			"get both numbers from the producer: 'cardano-cli query kes-period-info' or 'kesrotate-agent status'")
	}
	period, err := strconv.ParseUint(o.kesPeriod, 10, 64)
	if err != nil {
		return cli.Usage(fmt.Errorf("--kes-period %q is not a number", o.kesPeriod), "give the current KES period, e.g. --kes-period 1012")
	}
	onchain, err := ceremony.ParseOnChain(o.onchain)
	if err != nil {
		return cli.Usage(fmt.Errorf("--onchain-counter: %w", err), `give the pool's counter from the chain, or "none" if it never minted`)
	}
	var force *uint64
	if o.forceCounter != "" {
		n, err := strconv.ParseUint(o.forceCounter, 10, 64)
		if err != nil {
			return cli.Usage(fmt.Errorf("--force-counter %q is not a number", o.forceCounter))
		}
		force = &n
	}
	v, err := g.openVault()
	if err != nil {
		return err
	}
	p, err := g.openPool(v, name)
	if err != nil {
		return err
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	if err := checkClock(v.Network, period, now, o.ignoreClock); err != nil {
		return err
	}
	files := []string{"node.cert", "kes.skey", "kes.vkey"}
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(o.out, f)); err == nil {
			return cli.Hint(fmt.Errorf("%s already exists", filepath.Join(o.out, f)), "hot keys are never overwritten: use an empty --out folder")
		}
	}
	res, err := p.Issue(ceremony.IssueRequest{KESPeriod: period, TipSlot: v.Network.PeriodStartSlot(period), OnChain: onchain, ForceCounter: force, Now: now})
	if err != nil {
		return counterError(err)
	}
	defer res.KES.Wipe()
	if err := os.MkdirAll(o.out, 0o700); err != nil {
		return cli.Hint(err, "the cert is journaled; run rotate again with a folder this user can create: it re-issues the same counter")
	}
	if res.Forced {
		g.env.Warn("counter forced to %d (the rules chose %s); this is journaled", res.Cert.Counter, chosenText(res))
	}
	g.env.Warn("writing plaintext hot keys to %s: move them to the producer and delete them here (the encrypted path is 'rotate --producer')", o.out)
	kvk := res.KES.Public()
	out := []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{"node.cert", res.Cert.MarshalEnvelope(), 0o600},
		{"kes.skey", res.KES.MarshalEnvelope(), safefile.SecretMode},
		{"kes.vkey", kvk.MarshalEnvelope(), 0o600},
	}
	for _, f := range out {
		if err := safefile.Create(filepath.Join(o.out, f.name), f.data, f.mode); err != nil {
			return cli.Hint(err, "the cert is journaled; run rotate again into an empty folder: it re-issues the same counter")
		}
	}
	return printIssued(g, v, p, res, o.out)
}

func chosenText(res *ceremony.IssueResult) string {
	if res.Chosen == res.Cert.Counter && !res.Forced {
		return strconv.FormatUint(res.Chosen, 10)
	}
	if _, err := opcert.NextCounter(opcert.None(), res.History); err != nil {
		return "none (they refused)"
	}
	return strconv.FormatUint(res.Chosen, 10)
}

// checkClock refuses a KES period more than one period away from the one
// this machine's clock gives: a wrong clock or a typo gives a cert the node
// rejects (KESBeforeStart) or one that expires early.
func checkClock(n opcert.Network, period uint64, now time.Time, ignore bool) error {
	clock, err := n.KESPeriodAt(now)
	if err != nil {
		return err
	}
	diff := int64(period) - int64(clock)
	if diff >= -1 && diff <= 1 {
		return nil
	}
	if ignore {
		return nil
	}
	return cli.Hint(fmt.Errorf("KES period %d is %d periods from this machine's clock (%s gives period %d)", period, diff, now.Format(time.RFC3339), clock),
		"check the period on the producer and this machine's date; if the clock is wrong and the period right, add --ignore-clock")
}

func counterError(err error) error {
	switch {
	case errors.Is(err, opcert.ErrOnChainAhead):
		return cli.Hint(err,
			"another copy of this cold key may be issuing certs: find it before going on",
			"if you know why (certs issued with cardano-cli before import), --force-counter N issues N anyway")
	case errors.Is(err, opcert.ErrOnChainBackwards):
		return cli.Hint(err,
			"the on-chain counter is older than one already seen: take it again from a synced node",
			"--force-counter N overrides the rules (journaled)")
	}
	return err
}

func printIssued(g *globals, v *ceremony.Vault, p *ceremony.Pool, res *ceremony.IssueResult, where string) error {
	c := res.Cert
	expiry := c.Expiry(v.Network)
	if g.env.JSON {
		return g.env.PrintJSON(map[string]any{
			"pool": p.Meta.Name, "pool_id": c.PoolID().Hex(), "pool_id_bech32": c.PoolID().Bech32(),
			"counter": c.Counter, "kes_period": c.KESPeriod, "cert_hash": c.Hash(),
			"kes_vkey_hash": res.Entry.KESVKeyHash, "expiry": expiry.Format(time.RFC3339), "forced": res.Forced,
			"out": where,
		})
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "issued op cert #%d for pool %s\n", c.Counter, p.Meta.Name)
	fmt.Fprintf(w, "  pool id     %s\n", c.PoolID().Bech32())
	fmt.Fprintf(w, "  KES period  %d (valid through period %d)\n", c.KESPeriod, c.KESPeriod+v.Network.MaxKESEvolutions-1)
	fmt.Fprintf(w, "  expires     %s\n", expiry.Format(time.RFC3339))
	fmt.Fprintf(w, "  cert hash   %s\n", c.Hash())
	fmt.Fprintf(w, "  written to  %s\n", where)
	return nil
}
