package cold

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/plan"
)

type verifyOptions struct {
	cert, coldVKey, kesSkey, vrfSkey string
	network, genesis                 string
	atSlot                           string
	onchain                          string
}

func newVerifyCmd(g *globals) *cobra.Command {
	o := &verifyOptions{}
	c := &cobra.Command{
		Use:   "verify --cert FILE [--cold-vkey F] [--kes-skey F] [--vrf-skey F] [--tip-slot S | --now T]",
		Short: "Check an op cert and its keys the way cardano-node does",
		Long: `Check an operational certificate the way cardano-node does at a slot: the
cold signature, the KES period window, that the KES signing key is fresh and
is the one the cert certifies (with a sign/verify round trip at the
evolution the node would use), the VRF key, and optionally the counter
against the chain. Prints a kes-period-info-like report.

Exits 0 only when every check holds, 1 otherwise.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error { return runVerify(g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.cert, "cert", "", "the op cert (NodeOperationalCertificate)")
	f.StringVar(&o.coldVKey, "cold-vkey", "", "the pool's cold verification key")
	f.StringVar(&o.kesSkey, "kes-skey", "", "the KES signing key the node will use")
	f.StringVar(&o.vrfSkey, "vrf-skey", "", "the VRF signing key the node will use")
	f.StringVar(&o.genesis, "genesis", "", "shelley genesis of a custom network")
	cli.NetworkFlags(c, &o.network, "mainnet, preprod or preview (default: the vault's, else mainnet)")
	f.StringVar(&o.atSlot, "tip-slot", "", "check at this absolute slot instead of the clock")
	f.StringVar(&o.onchain, "onchain-counter", "", `also check the counter against the chain's ("none" if never minted)`)
	_ = c.MarkFlagRequired("cert")
	return c
}

// namedNetwork is the network --network or --genesis names, or nil.
func namedNetwork(name, genesis string) (*opcert.Network, error) {
	switch {
	case genesis != "":
		b, err := cli.ReadInput(genesis, "--genesis", "--genesis takes a shelley-genesis.json")
		if err != nil {
			return nil, err
		}
		n, err := opcert.ParseGenesis(b)
		if err != nil {
			return nil, cli.Hint(err, "--genesis takes a shelley-genesis.json")
		}
		return &n, nil
	case name != "":
		n, err := opcert.NetworkByName(name)
		if err != nil {
			return nil, cli.Usage(err, "use --genesis FILE for other networks")
		}
		return &n, nil
	}
	return nil, nil
}

// vaultNetwork is the network of the vault --vault or $KESROTATE_VAULT
// names, or nil when none is named. A vault named that cannot be opened is
// an error: its network is not silently replaced by mainnet.
func (g *globals) vaultNetwork() (*opcert.Network, error) {
	dir, err := g.vaultDir()
	if err != nil {
		return nil, nil // no vault named
	}
	v, err := ceremony.Open(dir)
	if err != nil {
		return nil, cli.Hint(fmt.Errorf("the vault names the network, but %w", err),
			"fix --vault or $KESROTATE_VAULT, or give --network (or --genesis) and no vault")
	}
	return &v.Network, nil
}

func runVerify(g *globals, o *verifyOptions) error {
	named, err := namedNetwork(o.network, o.genesis)
	if err != nil {
		return err
	}
	choice := plan.NetworkChoice{Named: named}
	if named == nil {
		if choice.Vault, err = g.vaultNetwork(); err != nil {
			return err
		}
	}
	chosen, err := plan.ChooseNetwork(choice)
	if err != nil {
		return err
	}
	n := chosen.Network
	data, err := readInput(o.cert, "--cert")
	if err != nil {
		return err
	}
	cert, err := opcert.Parse(data)
	if err != nil {
		return cli.Hint(fmt.Errorf("--cert: %w", err), "give a cardano-cli NodeOperationalCertificate file")
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	in := opcert.Inputs{Cert: cert, Network: n}
	var at *uint64
	if o.atSlot != "" {
		if in.Slot, err = strconv.ParseUint(o.atSlot, 10, 64); err != nil {
			return cli.Usage(fmt.Errorf("--tip-slot %q is not a number", o.atSlot))
		}
		at = &in.Slot
	} else if in.Slot, err = n.SlotAt(now); err != nil {
		return cli.Hint(err, "check --now and the network")
	}
	if err := otherNetworkError("--cert", o.cert, n, chosen.CheckCert(cert.KESPeriod, now, at)); err != nil {
		return err
	}
	if o.coldVKey != "" {
		b, err := readInput(o.coldVKey, "--cold-vkey")
		if err != nil {
			return err
		}
		vk, err := keys.ParseColdVKey(b)
		if err != nil {
			return cli.Hint(fmt.Errorf("--cold-vkey: %w", err), "give the pool's cold.vkey")
		}
		in.Cold = &vk
	}
	if o.kesSkey != "" {
		b, err := readInput(o.kesSkey, "--kes-skey")
		if err != nil {
			return err
		}
		k, err := keys.ParseKESKey(b)
		if err != nil {
			hint := "give the kes.skey made with this cert"
			if errors.Is(err, keys.ErrEvolvedKES) {
				hint = "the node needs the fresh key it was certified with; an evolved key cannot be used again"
			}
			return cli.Hint(fmt.Errorf("--kes-skey: %w", err), hint)
		}
		defer k.Wipe()
		in.KES = k
	}
	if o.vrfSkey != "" {
		b, err := readInput(o.vrfSkey, "--vrf-skey")
		if err != nil {
			return err
		}
		k, err := keys.ParseVRFKey(b)
		if err != nil {
			return cli.Hint(fmt.Errorf("--vrf-skey: %w", err), "give the pool's vrf.skey")
		}
		defer k.Wipe()
		in.VRF = k
	}
	if o.onchain != "" {
		oc, err := opcert.ParseOnChain(o.onchain)
		if err != nil {
			return cli.Usage(fmt.Errorf("--onchain-counter: %w", err))
		}
		in.OnChain = &oc
	}
	r, verr := opcert.Verify(in)
	if g.env.JSON {
		if err := g.env.PrintJSON(r); err != nil {
			return err
		}
	} else {
		printReport(g, n, r)
	}
	if verr != nil {
		first := verr
		if j, ok := verr.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
			first = j.Unwrap()[0]
		}
		return cli.Hint(fmt.Errorf("the cert does not hold: %w", first), verifyHint(first))
	}
	return nil
}

func verifyHint(err error) string {
	switch {
	case errors.Is(err, opcert.ErrBadSignature):
		return "the cert was not signed over today's signable by this cold key (certs from before July 2020 fail here); issue a new one"
	case errors.Is(err, opcert.ErrKESAfterEnd):
		return "the cert has expired: rotate now ('kesrotate rotate')"
	case errors.Is(err, opcert.ErrKESBeforeStart):
		return "the cert starts in the future: was it issued with a wrong KES period? check the clock"
	case errors.Is(err, opcert.ErrCounterOverIncremented):
		return "issue again with the on-chain counter + 1: 'kesrotate rotate' chooses it"
	}
	return "see the checks above"
}

func printReport(g *globals, n opcert.Network, r *opcert.Report) {
	w := g.env.Stdout
	fmt.Fprintf(w, "op cert #%d for pool %s\n", r.Counter, r.PoolIDBech32)
	fmt.Fprintf(w, "  network            %s\n", n.Name)
	fmt.Fprintf(w, "  slot               %d\n", r.Slot)
	fmt.Fprintf(w, "  current KES period %d\n", r.CurrentPeriod)
	fmt.Fprintf(w, "  cert start period  %d\n", r.StartPeriod)
	fmt.Fprintf(w, "  cert end period    %d (last valid %d)\n", r.EndPeriod, r.EndPeriod-1)
	fmt.Fprintf(w, "  remaining periods  %d\n", r.RemainingPeriods)
	fmt.Fprintf(w, "  expiry             %s\n", r.Expiry.Format(time.RFC3339))
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  [%s] %-15s %s\n", mark, c.Name, c.Detail)
	}
}

// otherNetworkError gives the hint of a cert plan.Chosen.CheckCert
// refused: it plainly belongs to another network than the one assumed.
func otherNetworkError(flag, file string, n opcert.Network, err error) error {
	var oe *opcert.OtherNetworkError
	if errors.As(err, &oe) {
		return cli.Hint(fmt.Errorf("%s %s: %w; no --network was given", flag, file, err),
			fmt.Sprintf("give --network %s (or --network %s if it really is %s's)", oe.Likely.Name, n.Name, n.Name))
	}
	return err
}
