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
takes the bundle that holds only the cert and activates this key.

With kes-agent (init --kes-agent-socket), kes-agent generates the key and
keeps it staged in its memory (kes-agent-control gen-staged-key); only
DIR/kes/pending.vkey is written. A staged key kes-agent holds that this
command did not make is replaced only with --replace.`,
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
			case errors.Is(err, producer.ErrKESAgent):
				return cli.Hint(err, "is kes-agent running with --control-address on the socket given to 'kesrotate-agent init --kes-agent-socket', and kes-agent-control on PATH?", "nothing was changed")
			case errors.Is(err, producer.ErrPendingDropped):
				return cli.Hint(err, "there is no pending KES key now: fix what failed, then 'kesrotate-agent kes new' again")
			case err != nil:
				return cli.Hint(err, "nothing was changed")
			}
			if g.env.JSON {
				return g.env.PrintJSON(kesNewOutput{KESVKey: fmt.Sprintf("%x", vk[:])})
			}
			if a.KESAgentMode() {
				fmt.Fprintf(g.env.Stdout, "KES key generated in kes-agent, staged in its memory (no key file here)\n  vkey  %x\nnext: 'kesrotate-agent snapshot' carries the vkey to the cold machine\n", vk[:])
				return nil
			}
			fmt.Fprintf(g.env.Stdout, "KES key generated on this producer\n  vkey  %x\nnext: 'kesrotate-agent snapshot' carries the vkey to the cold machine\n", vk[:])
			return nil
		},
	}
	n.Flags().BoolVar(&replace, "replace", false, "discard a pending key that was never certified (with kes-agent: its staged key)")
	c.AddCommand(n)
	return c
}
