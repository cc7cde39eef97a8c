package agent

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
)

func newKESCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "kes",
		Short: "KES-on-producer mode: the KES key is made here and never leaves",
	}
	var replace bool
	n := &cobra.Command{
		Use:   "new [--replace]",
		Short: "Generate a KES key on the producer; its vkey rides in the next snapshot",
		Long: `Generate a KES key into DIR/kes/pending.skey (0600; it never leaves this
machine) and DIR/kes/pending.vkey. The next 'kesrotate-agent snapshot'
carries the vkey to the cold machine, which certifies it; 'install' then
takes the bundle that holds only the cert and activates this key.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			vk, err := a.NewPendingKES(g.env.Rand, replace)
			switch {
			case errors.Is(err, producer.ErrPendingExists):
				return cli.Hint(err, "take a snapshot and rotate with it, or pass --replace to discard the pending key")
			case err != nil:
				return cli.Hint(err, "nothing was changed")
			}
			if g.env.JSON {
				return g.env.PrintJSON(map[string]any{"kes_vkey": fmt.Sprintf("%x", vk[:])})
			}
			fmt.Fprintf(g.env.Stdout, "KES key generated on this producer\n  vkey  %x\nnext: 'kesrotate-agent snapshot' carries the vkey to the cold machine\n", vk[:])
			return nil
		},
	}
	n.Flags().BoolVar(&replace, "replace", false, "discard a pending key that was never certified")
	c.AddCommand(n)
	return c
}
