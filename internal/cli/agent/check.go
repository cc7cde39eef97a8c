package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
)

func newCheckCmd(g *globals) *cobra.Command {
	var nodeConfig string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "check [--node-config F]",
		Short: "Check what install needs of the node: socket, metrics, log, configuration, signal, paths",
		Long: `Check, without changing anything, what install will rely on: the node socket
answers on this agent's network and is synced; the metrics endpoint
answers, and in which format; the node log can be read; the node's
configuration logs and serves what confirmation looks at (with the exact
lines to add where it does not); the node process can be found; and, in
its own file-system view (a container, say), it can see the files the
agent links.

Exit codes: 0 nothing failed (warnings may remain), 1 a check failed,
2 usage.`,
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
			o := producer.InspectOptions{Now: now, Timeout: timeout}
			if nodeConfig != "" {
				if o.NodeConfig, err = cli.ReadInput(nodeConfig, "--node-config", "give the file cardano-node runs with --config"); err != nil {
					return err
				}
			}
			r := a.Inspect(context.Background(), o)
			if g.env.JSON {
				if err := g.env.PrintJSON(r); err != nil {
					return err
				}
			} else {
				printReport(g.env.Stdout, r)
			}
			if r.Failed() {
				return cli.Hint(errors.New("a check failed"), "fix what is marked ✗ above, then run 'kesrotate-agent check' again")
			}
			return nil
		},
	}
	c.Flags().StringVar(&nodeConfig, "node-config", "", "the node's configuration file (default: the one given to init or config)")
	cli.DurationVar(c.Flags(), &timeout, "timeout", 10*time.Second, "how long to wait for each probe")
	return c
}

// marks are how a check or a status verdict reads at a glance.
var marks = map[string]string{producer.LevelOK: "✓", producer.LevelInfo: "·", producer.LevelWarn: "!", producer.LevelFail: "✗", producer.LevelUnknown: "?"}

func printReport(w io.Writer, r *producer.Report) {
	for _, f := range r.Findings {
		fmt.Fprintf(w, "%s %-11s %s\n", marks[f.Level], f.Topic, f.Text)
		for _, fix := range f.Fix {
			fmt.Fprintf(w, "    %s\n", fix)
		}
	}
	fmt.Fprintf(w, "install confirms a reload from: %s\n", r.Confirmation)
	if n := r.Failures(); n > 0 {
		fmt.Fprintf(w, "%d %s marked ✗: install will not work until %s fixed\n", n, plural(n, "check", "checks"), plural(n, "it is", "they are"))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
