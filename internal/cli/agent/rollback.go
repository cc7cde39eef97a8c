package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
)

func newRollbackCmd(g *globals) *cobra.Command {
	var noSignal bool
	var confirmTimeout, signerTimeout time.Duration
	var chain chainFlags
	c := &cobra.Command{
		Use:   "rollback [--no-signal]",
		Short: "Make the previous credential set active again and signal the node",
		Long: `Point DIR/current back at the set that was active before the current one
(its files were never changed, so the node reads them bit for bit as
before), check that the node can see that set in its own file system
view (if not, the current set is made active again), send SIGHUP to
cardano-node and confirm. With a Mithril signer the signer is restarted
once the node took the set, and must register within --signer-timeout.
Run it again to go back further; the first set the agent adopted is as far
as it goes.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			res, err := a.Rollback(context.Background(), producer.RollbackOptions{
				NoSignal: noSignal, ConfirmTimeout: confirmTimeout,
				Chain: func() (uint64, error) {
					v, err := chain.chain(g, a, producer.ForRollback)
					if err != nil {
						return 0, err
					}
					return v.TipSlot, nil
				},
				Signer: producer.SignerOptions{Now: now, Timeout: signerTimeout},
			})
			switch {
			case errors.Is(err, producer.ErrNoPrevious):
				return cli.Hint(err, "nothing was changed")
			case errors.Is(err, producer.ErrKESAgentMode):
				return cli.Hint(err, "to replace the key kes-agent serves, rotate: 'kesrotate-agent kes new', a snapshot, 'kesrotate rotate' on the cold machine, 'kesrotate-agent install'", "nothing was changed")
			case errors.Is(err, producer.ErrLocked):
				return cli.Hint(err, "wait for the other install or rollback to finish")
			case res == nil && errors.As(err, new(*cli.Error)):
				return err // the chain, explained by chainHint
			case res == nil && err != nil:
				return cli.Hint(err, "nothing was changed")
			case errors.Is(err, producer.ErrNodeCannotSee):
				return cli.Hint(err, cannotSeeHint, "the node was not signalled")
			case err != nil && res.SignerErr == nil:
				return cli.Hint(fmt.Errorf("rolled back to set %s, but: %w", res.To, err), "check the node; send it SIGHUP yourself if it was not signalled")
			}
			state := res.State()
			if state == producer.StateUnconfirmed {
				g.env.Warn("signalled, not confirmed: %s", res.Confirmation.Detail)
			}
			if g.env.JSON {
				if jerr := g.env.PrintJSON(rollbackOutput{From: res.From, To: res.To, Signalled: res.Signalled, State: state, MithrilSigner: res.Signer, MithrilNote: res.SignerNote}); jerr != nil {
					return jerr
				}
			} else {
				fmt.Fprintf(g.env.Stdout, "rolled back from set %s to set %s (%s)\n", res.From, res.To, state)
				if res.Signer != nil {
					printSigner(g.env.Stdout, res.Signer)
				}
				if res.SignerNote != "" {
					fmt.Fprintf(g.env.Stdout, "the Mithril signer was not restarted: %s\n", res.SignerNote)
				}
			}
			if err != nil {
				return signerHint(err, a)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&noSignal, "no-signal", false, "do not signal the node")
	cli.DurationVar(c.Flags(), &confirmTimeout, "confirm-timeout", 60*time.Second, "how long to wait for the node to take the set")
	signerTimeoutFlag(c.Flags(), &signerTimeout)
	chain.add(c.Flags())
	return c
}
