package agent

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/producer"
	"github.com/kesrotate/kesrotate/transfer"
)

func newEnrollmentCmd(g *globals) *cobra.Command {
	var out, qrOut string
	c := &cobra.Command{
		Use:   "enrollment --out FILE [--qr FILE.png]",
		Short: "Write the producer's public identity for 'kesrotate producer add'",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			e, data, err := a.Enrollment()
			if err != nil {
				return err
			}
			if out == "" && qrOut == "" {
				return cli.Usage(errors.New("enrollment needs --out and/or --qr"))
			}
			if err := writeTransfer(out, qrOut, transfer.UREnrollment, data); err != nil {
				return err
			}
			if g.env.JSON {
				return g.env.PrintJSON(enrollmentOutput{Fingerprint: e.Fingerprint(), Recipient: e.Recipient, Enrollment: out, EnrollmentQR: qrOut})
			}
			fmt.Fprintf(g.env.Stdout, "enrollment of producer %s for pool %s\n  fingerprint  %s\n", e.Name, e.PoolID.Bech32(), e.Fingerprint())
			from := "--enrollment " + out
			if out == "" {
				from = "--scan " + qrOut
			}
			fmt.Fprintf(g.env.Stdout, "on the cold machine: kesrotate producer add %s %s --fingerprint %s\n", e.Name, from, e.Fingerprint())
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "file to write the enrollment to")
	c.Flags().StringVar(&qrOut, "qr", "", "also write it as one QR code PNG")
	return c
}

type snapshotOptions struct {
	out, qrOut string
	chain      chainFlags
}

func newSnapshotCmd(g *globals) *cobra.Command {
	o := &snapshotOptions{}
	c := &cobra.Command{
		Use:   "snapshot --out FILE [--qr FILE.png] [--tip-slot S --onchain-counter N|none]",
		Short: "Write a signed chain snapshot for 'kesrotate rotate'",
		Long: `Write the chain as this producer sees it — tip slot and time, network, KES
parameters, the pool's on-chain op-cert counter, the installed cert and a
pending KES vkey — signed by the producer key, for 'kesrotate rotate
--snapshot'. The chain comes from the node socket; --tip-slot and
--onchain-counter replace the query for disconnected use. A node whose tip
trails the clock by more than --max-tip-lag is still syncing: its counter
and KES period are old, and the snapshot is refused.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error { return runSnapshot(g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.out, "out", "", "file to write the snapshot to")
	f.StringVar(&o.qrOut, "qr", "", "also write it as one QR code PNG")
	o.chain.add(f)
	return c
}

func runSnapshot(g *globals, o *snapshotOptions) error {
	if o.out == "" && o.qrOut == "" {
		return cli.Usage(errors.New("snapshot needs --out and/or --qr"))
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	v, err := o.chain.chain(g, a, producer.ForSnapshot)
	if err != nil {
		return err
	}
	s, data, err := a.Snapshot(v.ChainState, now)
	switch {
	case errors.Is(err, producer.ErrOnChainUnknown):
		return cli.Hint(err, "no node socket is configured: set one with 'kesrotate-agent config --socket PATH', or give --tip-slot S --onchain-counter N|none", "nothing was written")
	case errors.Is(err, producer.ErrNoPendingKES):
		return cli.Hint(err, "run 'kesrotate-agent kes new' first: kes-agent makes the key, and the snapshot carries its vkey", "nothing was written")
	case errors.Is(err, producer.ErrKESAgentStaged):
		return cli.Hint(err, "the cold machine would certify a key nobody holds: 'kesrotate-agent kes new' has kes-agent stage a new one, then take the snapshot again", "nothing was written")
	case errors.Is(err, producer.ErrKESAgent):
		return cli.Hint(err, "is kes-agent running, and kes-agent-control on PATH? ('kesrotate-agent check')", "nothing was written")
	case err != nil:
		return err
	}
	if err := writeTransfer(o.out, o.qrOut, transfer.URSnapshot, data); err != nil {
		return err
	}
	period := v.KESPeriod(a.Network)
	if g.env.JSON {
		return g.env.PrintJSON(snapshotOutput{TipSlot: s.TipSlot, TipTime: s.TipTime, KESPeriod: period,
			OnChainCounter: s.OnChain.Text(), KESOnProducer: s.KESVKey != nil, Snapshot: o.out, SnapshotQR: o.qrOut})
	}
	fmt.Fprintf(g.env.Stdout, "snapshot for pool %s\n  tip slot    %d (%s)\n  KES period  %d\n  on chain    %s\n",
		s.PoolID.Bech32(), s.TipSlot, s.TipTime.Format(time.RFC3339), period, s.OnChain)
	if s.Installed != nil {
		fmt.Fprintf(g.env.Stdout, "  installed   #%d from period %d\n", s.Installed.Counter, s.Installed.KESPeriod)
	}
	switch {
	case s.KESVKey != nil && a.KESAgentMode():
		fmt.Fprintf(g.env.Stdout, "  KES key     staged in kes-agent; only its vkey travels\n")
	case s.KESVKey != nil:
		fmt.Fprintf(g.env.Stdout, "  KES key     generated on this producer; only its vkey travels\n")
	}
	return nil
}

// writeTransfer writes data to out and as a QR code to qrOut (either may be
// empty). When the QR code cannot be written the file just written is
// removed again: a failed command leaves nothing behind.
func writeTransfer(out, qrOut, urType string, data []byte) error {
	if out != "" {
		if err := safefile.Create(out, data, 0o644); err != nil {
			return cli.Hint(err, "choose a file that does not exist yet")
		}
	}
	if qrOut != "" {
		if err := transfer.WriteSingleQR(qrOut, urType, data); err != nil {
			if out != "" {
				_ = os.Remove(out)
			}
			return cli.Hint(err, "choose a file that does not exist yet")
		}
	}
	return nil
}
