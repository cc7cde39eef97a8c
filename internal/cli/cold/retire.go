package cold

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
)

// addRetireCmd puts 'retire-keys' under the 'pool' command.
func addRetireCmd(g *globals, root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == "pool" {
			c.AddCommand(newRetireKeysCmd(g))
		}
	}
}

func newRetireKeysCmd(g *globals) *cobra.Command {
	var confirm string
	c := &cobra.Command{
		Use:   "retire-keys POOL [--confirm POOL]",
		Short: "Destroy the pool's cold and VRF signing keys (key-destruction ceremony, logged)",
		Long: `Destroy the pool's secret keys in this vault: cold.skey and vrf.skey (or their
.age files) are overwritten, synced and removed, and a keys-destroyed entry
goes into the ceremony log. The pool's public files, journal and certs stay.
Asks for the pool name on standard input, or takes it from --confirm.

Shares and vault backups are not touched: destroy them separately. On flash
media old blocks may survive inside the device.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			_, p, now, err := g.openPoolAt(args[0])
			if err != nil {
				return err
			}
			id, err := p.PoolID()
			if err != nil {
				return err
			}
			o := ceremony.RetireOptions{Name: confirm, How: ceremony.ConfirmPassed}
			if confirm == "" {
				o.How = ceremony.ConfirmTyped
				fmt.Fprintf(g.env.Stderr, "This destroys the signing keys of pool %s (%s) in this vault.\nType the pool name to confirm: ", p.Meta.Name, id.Bech32())
				line, _ := bufio.NewReader(g.env.Stdin).ReadString('\n')
				o.Name = strings.TrimSpace(line)
			}
			r, err := p.RetireKeys(now, o)
			switch {
			case errors.Is(err, ceremony.ErrNotConfirmed):
				return cli.Hint(err, fmt.Sprintf("type the pool name %q exactly (or pass --confirm %s)", p.Meta.Name, p.Meta.Name))
			case errors.Is(err, ceremony.ErrKeysDestroyed):
				return cli.Hint(err, "nothing left to destroy")
			}
			if err != nil {
				return err
			}
			if g.env.JSON {
				return g.env.PrintJSON(retireOutput{Pool: p.Meta.Name, PoolID: id.Hex(), Destroyed: nonNil(r.Destroyed), Time: r.Time})
			}
			fmt.Fprintf(g.env.Stdout, "pool %s: signing keys destroyed (%s)\n", p.Meta.Name, strings.Join(r.Destroyed, ", "))
			g.env.Warn("shares and vault backups of this pool still hold its cold key: destroy them too if the pool is retired")
			return nil
		},
	}
	c.Flags().StringVar(&confirm, "confirm", "", "the pool name, to confirm without a prompt")
	return c
}
