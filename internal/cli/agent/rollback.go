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
before), send SIGHUP to cardano-node and confirm. Run it again to go back
further; the first set the agent adopted is as far as it goes.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			from, _ := a.InstalledCert()
			rb, err := a.Rollback(producer.RollbackOptions{})
			switch {
			case errors.Is(err, producer.ErrNoPrevious):
				return cli.Hint(err, "nothing was changed")
			case errors.Is(err, producer.ErrKESAgentMode):
				return cli.Hint(err, "to replace the key kes-agent serves, rotate: 'kesrotate-agent kes new', a snapshot, 'kesrotate rotate' on the cold machine, 'kesrotate-agent install'", "nothing was changed")
			case errors.Is(err, producer.ErrLocked):
				return cli.Hint(err, "wait for the other install or rollback to finish")
			case err != nil:
				return err
			}
			who, state := "", "not signalled"
			var conf producer.Confirmation
			if !noSignal && a.Config.Signal.Mode != "none" {
				v, cerr := chain.chain(g, a, false, false)
				if cerr != nil {
					return cli.Hint(fmt.Errorf("rolled back to set %s, but the node was not signalled: %w", rb.To, cerr), "send cardano-node SIGHUP yourself")
				}
				conf, who, err = a.Reload(context.Background(), v.TipSlot, from, producer.InstallOptions{ConfirmTimeout: confirmTimeout})
				if err != nil {
					return cli.Hint(fmt.Errorf("rolled back to set %s, but: %w", rb.To, err), "check the node; send it SIGHUP yourself if it was not signalled")
				}
				state = "confirmed"
				if !conf.Confirmed {
					state = "signalled, not confirmed"
					g.env.Warn("signalled, not confirmed: %s", conf.Detail)
				}
			}
			// The signer must read the set that is active again, once the
			// node reads it.
			var signer *producer.SignerResult
			var serr error
			if who != "" {
				now, err := g.env.Now()
				if err != nil {
					return err
				}
				signer, serr = a.RestartSigner(context.Background(), producer.SignerOptions{Now: now, Timeout: signerTimeout})
			}
			if g.env.JSON {
				if err := g.env.PrintJSON(rollbackOutput{From: rb.From, To: rb.To, Signalled: who, State: state, MithrilSigner: signer}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(g.env.Stdout, "rolled back from set %s to set %s (%s)\n", rb.From, rb.To, state)
				if signer != nil {
					printSigner(g.env.Stdout, signer)
				}
			}
			if serr != nil {
				return signerHint(serr, a)
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
