package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
)

// signerTimeoutFlag is the bounded wait for the Mithril signer to
// register after its restart.
func signerTimeoutFlag(f *pflag.FlagSet, d *time.Duration) {
	cli.DurationVar(f, d, "signer-timeout", 5*time.Minute, "how long to wait for the Mithril signer to register after its restart (it registers at its first cycle: RUN_INTERVAL, 60s by default)")
}

func newMithrilCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "mithril",
		Short: "The Mithril signer that reads this producer's KES key and cert",
	}
	var timeout time.Duration
	r := &cobra.Command{
		Use:   "restart [--signer-timeout 5m]",
		Short: "Restart the Mithril signer and wait for it to register",
		Long: `Keep the signer's environment file on the node's credential paths
(--mithril-env-file), restart its systemd unit (systemctl restart), and wait
for the new process to register: from its metrics (--mithril-metrics), else
from its journal. install does this after every install the node took;
run it by hand after fixing what made it fail, or after an install with
--no-signal once the node reads the new set.

Exit codes: 0 the signer registered, 1 it did not (or could not be
restarted), 2 usage.`,
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
			res, err := a.RestartSigner(context.Background(), producer.SignerOptions{Now: now, Timeout: timeout})
			if errors.Is(err, producer.ErrNoSigner) {
				return cli.Hint(err, "kesrotate-agent config --mithril-signer UNIT [--mithril-metrics URL] [--mithril-env-file F]")
			}
			if g.env.JSON && res != nil {
				if jerr := g.env.PrintJSON(res); jerr != nil {
					return jerr
				}
			} else if res != nil {
				printSigner(g.env.Stdout, res)
			}
			if err != nil {
				return signerHint(err, a)
			}
			return nil
		},
	}
	signerTimeoutFlag(r.Flags(), &timeout)
	c.AddCommand(r)
	return c
}

// printSigner says what became of the Mithril signer.
func printSigner(w io.Writer, r *producer.SignerResult) {
	for _, ch := range r.EnvChanged {
		from := ch.From
		if from == "" {
			from = "(not set)"
		}
		fmt.Fprintf(w, "  the signer's environment file: %s %s → %s\n", ch.Setting, from, ch.To)
	}
	switch {
	case r.Registered:
		epoch := ""
		if r.Epoch != nil {
			epoch = fmt.Sprintf(" in epoch %d", *r.Epoch)
		}
		fmt.Fprintf(w, "the Mithril signer (%s) was restarted (pid %d → %d) and registered%s (confirmed by its %s)\n", r.Unit, r.PIDBefore, r.PIDAfter, epoch, r.Source)
	case r.Restarted:
		fmt.Fprintf(w, "the Mithril signer (%s) was restarted (pid %d → %d) but did not register: %s\n", r.Unit, r.PIDBefore, r.PIDAfter, r.Detail)
	default:
		fmt.Fprintf(w, "the Mithril signer (%s): %s\n", r.Unit, r.Detail)
	}
}

// signerHint turns the signer's failure into one line and hints. The
// node's side is never undone for it.
func signerHint(err error, a *producer.Agent) error {
	unit := a.Config.MithrilSigner
	stays := "the node's install stands; it is not rolled back for the signer"
	again := "then 'kesrotate-agent mithril restart'"
	switch {
	case errors.Is(err, producer.ErrSignerEnv):
		return cli.Hint(err, "let the agent's user replace the signer's environment file (or set KES_SECRET_KEY_PATH and OPERATIONAL_CERTIFICATE_PATH to the node's paths yourself), "+again, stays)
	case errors.Is(err, producer.ErrSignerRestart):
		return cli.Hint(err, fmt.Sprintf("the agent's user must be allowed to restart %s: run it as root, or add a polkit rule for that unit (docs/producer.md), %s", unit, again), stays)
	case errors.Is(err, producer.ErrSignerNotRegistered):
		return cli.Hint(err, fmt.Sprintf("read the signer's log (journalctl -u %s): it must read the node's KES key and cert and reach its aggregator; %s", unit, again), stays)
	}
	return cli.Hint(err, stays)
}
