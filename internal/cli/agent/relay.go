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

func newRelayCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "relay",
		Short: "On a relay: follow the pool's producer after a failover",
	}
	var topology, address, replace, metricsURL, nodeLog string
	var sig signalFlags
	var confirmTimeout time.Duration
	point := &cobra.Command{
		Use:   "point-to NAME --topology F --address HOST:PORT [--replace HOST:PORT] [--pid-file F | --systemd-unit U | --no-signal] [--node-log F] [--metrics-url URL]",
		Short: "Point this relay's producer entry (localRoots) at producer NAME and signal the relay's node",
		Long: `Rewrite the producer's access point in the relay's P2P topology file — the
localRoots entry the relay keeps a hot connection to — so that it names
HOST:PORT, atomically and changing nothing else in the file. Then send the
relay's node SIGHUP: it re-reads its topology and resolves its root peers
again. The relay's log (--node-log: a file, or journald[:UNIT]) confirms
that it re-read the topology without an error; on an error the file is
put back as it was.

The first time, when the topology has more than one local root, name the
producer's current entry with --replace HOST:PORT; it is remembered in
TOPOLOGY.kesrotate. This command needs no agent folder.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			if topology == "" || address == "" {
				return cli.Usage(errors.New("point-to needs --topology and --address"))
			}
			s := sig.signal()
			if s == nil {
				return cli.Usage(errors.New("say how to signal the relay's node"), "pass --pid-file F, --systemd-unit U or --no-signal")
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			res, err := producer.PointRelay(context.Background(), producer.RelayOptions{Topology: topology, Name: args[0], Address: address,
				Replace: replace, Signal: *s, NodeLog: nodeLog, ConfirmTimeout: confirmTimeout, Now: now, MetricsURL: metricsURL})
			switch {
			case errors.Is(err, producer.ErrProducerUnnamed):
				return cli.Hint(err, "name the producer's entry with --replace HOST:PORT (as it stands in the topology now)", "nothing was changed")
			case errors.Is(err, producer.ErrTopology), errors.Is(err, producer.ErrConfig):
				return cli.Hint(err, "nothing was changed")
			case errors.Is(err, producer.ErrRelayNotConfirmed):
				return cli.Hint(err, "fix what the relay reports, then run the command again")
			case err != nil && res != nil && res.Changed:
				return cli.Hint(fmt.Errorf("the topology now points at %s, but: %w", address, err), "send the relay's node SIGHUP yourself")
			case err != nil:
				return cli.Hint(err, "nothing was changed")
			}
			alive := res.Metrics
			if g.env.JSON {
				return g.env.PrintJSON(relayOutput{Producer: args[0], From: res.From, To: res.To, Changed: res.Changed,
					Signalled: res.Signalled, ConfirmedBy: nonNil(res.Confirmation.Sources), Metrics: alive})
			}
			w := g.env.Stdout
			switch {
			case !res.Changed:
				fmt.Fprintf(w, "the relay already points at %s (%s); nothing to do\n", args[0], res.To)
				return nil
			case res.Signalled == "":
				fmt.Fprintf(w, "topology points at %s (%s, was %s); the relay's node was not signalled: send it SIGHUP\n", args[0], res.To, res.From)
			case res.Confirmation.Confirmed:
				fmt.Fprintf(w, "topology points at %s (%s, was %s); signalled %s, the relay re-read it (confirmed by %s)\n",
					args[0], res.To, res.From, res.Signalled, joinAnd(res.Confirmation.Sources))
			default:
				fmt.Fprintf(w, "topology points at %s (%s, was %s); signalled %s, not confirmed: %s\n", args[0], res.To, res.From, res.Signalled, res.Confirmation.Detail)
			}
			if alive != "" {
				fmt.Fprintf(w, "  %s\n", alive)
			}
			return nil
		},
	}
	f := point.Flags()
	f.StringVar(&topology, "topology", "", "the relay's P2P topology file (cardano-node --topology)")
	f.StringVar(&address, "address", "", "the producer's HOST:PORT to point at")
	f.StringVar(&replace, "replace", "", "the first time: the producer entry (HOST:PORT) to replace")
	f.StringVar(&nodeLog, "node-log", "", "the relay's log file, or journald[:UNIT], to confirm")
	f.StringVar(&metricsURL, "metrics-url", "", "the relay's metrics URL, to check it still answers")
	cli.DurationVar(f, &confirmTimeout, "confirm-timeout", 30*time.Second, "how long to wait for the relay")
	sig.add(point)
	point.Flags().MarkHidden("match-process")
	c.AddCommand(point)
	return c
}
