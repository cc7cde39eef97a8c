package cold

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
)

type initOptions struct {
	network string
	genesis string

	encrypt       bool // secrets.go
	requireAirgap bool // airgap.go
	networked     bool
	enc           encryptionFlags // --recipient, --scrypt-work-factor
}

func newInitCmd(g *globals) *cobra.Command {
	o := &initOptions{}
	c := &cobra.Command{
		Use:   "init --network mainnet|preprod|preview | --genesis FILE",
		Short: "Create a vault: the state folder on the USB stick",
		Args:  cli.Args(cobra.NoArgs),
		RunE:  func(c *cobra.Command, _ []string) error { return runInit(g, o) },
	}
	c.Flags().StringVar(&o.genesis, "genesis", "", "shelley genesis file of a custom network")
	cli.NetworkFlags(c, &o.network, "mainnet, preprod or preview")
	c.Flags().BoolVar(&o.encrypt, "encrypt", false, "encrypt the secret keys at rest with a passphrase (terminal or --passphrase-file)")
	c.Flags().BoolVar(&o.requireAirgap, "require-airgap", false, "refuse to open secret keys on a machine with network unless --allow-network (logged)")
	c.Flags().BoolVar(&o.networked, "networked", false, "a rehearsal or test vault on a networked machine: no air-gap warnings (never for a real pool's keys)")
	c.MarkFlagsMutuallyExclusive("require-airgap", "networked")
	o.enc.register(c)
	return c
}

func runInit(g *globals, o *initOptions) error {
	dir, err := g.vaultDir()
	if err != nil {
		return err
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	if o.network == "" && o.genesis == "" {
		return cli.Usage(errors.New("init needs a network"), "pass --network mainnet|preprod|preview or --genesis FILE")
	}
	audit, err := g.auditContext()
	if err != nil {
		return err
	}
	opts := ceremony.InitOptions{Network: o.network, Now: now, Rand: g.env.Rand, Audit: audit, Networked: o.networked}
	if o.genesis != "" {
		if opts.Genesis, err = cli.ReadInput(o.genesis, "--genesis", "--genesis takes the network's shelley-genesis.json"); err != nil {
			return err
		}
	}
	wipe, err := g.initEncryption(o.encrypt, o.requireAirgap, o.enc, &opts)
	if err != nil {
		return err
	}
	defer wipe()
	v, err := ceremony.Init(dir, opts)
	switch {
	case errors.Is(err, ceremony.ErrVaultExists):
		return cli.Hint(err, "a vault is never re-initialised; use another folder")
	case err != nil:
		return cli.Hint(err, "nothing was created")
	}
	if g.env.JSON {
		return g.env.PrintJSON(initOutput{Vault: dir, VaultID: v.Meta.ID, Network: v.Network.Name, Magic: v.Network.Magic})
	}
	fmt.Fprintf(g.env.Stdout, "vault %s created for %s (magic %d)\n", dir, v.Network.Name, v.Network.Magic)
	if o.networked {
		fmt.Fprintf(g.env.Stdout, "  networked   a rehearsal or test vault: no air-gap warnings; keep a real pool's keys out of it\n")
	}
	fmt.Fprintf(g.env.Stdout, "next: 'kesrotate pool new NAME', or 'kesrotate pool import NAME --cold-skey F --counter F --vrf-skey F' for a running pool\n")
	return nil
}
