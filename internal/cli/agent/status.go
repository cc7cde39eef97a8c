package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/producer"
)

func newStatusCmd(g *globals) *cobra.Command {
	var prom string
	var chain chainFlags
	c := &cobra.Command{
		Use:     "status [--tip-slot S [--onchain-counter N|none]] [--prometheus FILE]",
		Aliases: []string{"kes-period-info"},
		Short:   "What 'cardano-cli query kes-period-info' reports, plus forging state",
		Long: `Report the installed op cert against the chain: the current KES period,
the cert's window and expiry, the on-chain counter against the cert's with
cardano-cli's verdicts, and, from the node's metrics, whether it forges
with the installed cert. The chain comes from the node socket, else
--tip-slot (and --onchain-counter), else the clock.

--json prints the fields 'kesrotate plan --status' reads; --prometheus
writes them for node_exporter's textfile collector (replaced atomically).

With kes-agent it also reports what kes-agent holds (it loses its key when
it restarts), and with a Mithril signer whether it was restarted after the
last install and registered; both appear in --json (kes_agent,
mithril_signer) and --prometheus.

Exit codes: 0 the installed cert is valid now (KES window, and the counter
when the chain's is known) and the key users agree, 1 it is not, kes-agent
holds no key or another one, the Mithril signer is down, stale or not
registered, or the status could not be taken, 2 usage. For reminders before
expiry use 'kesrotate plan --status'.`,
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
			v, err := chain.chain(g, a, producer.ForStatus)
			if err != nil {
				return err
			}
			s, err := a.Observe(context.Background(), v, now, chain.timeout)
			if err != nil {
				return observeHint(err, a)
			}
			if prom != "" {
				if err := safefile.Replace(prom, s.Prometheus(), 0o644); err != nil {
					return cli.Hint(err, "--prometheus takes a file in node_exporter's textfile folder")
				}
			}
			if g.env.JSON {
				err = g.env.PrintJSON(s)
			} else {
				printStatus(g, s)
			}
			if err != nil {
				return err
			}
			return statusVerdict(s)
		},
	}
	f := c.Flags()
	chain.add(f)
	f.StringVar(&prom, "prometheus", "", "also write the status as Prometheus text to FILE")
	return c
}

// observeHint picks the hints of a status that could not be taken from
// the library's typed error: no cert installed yet, or one that cannot be
// read or is damaged (installing "first" is no answer to that).
func observeHint(err error, a *producer.Agent) error {
	switch {
	case errors.Is(err, producer.ErrNoCert):
		return cli.Hint(err, "install a bundle first: 'kesrotate-agent install BUNDLE'")
	case errors.Is(err, producer.ErrCertUnreadable) && errors.Is(err, fs.ErrPermission):
		return cli.Hint(err, fmt.Sprintf("run status as a user that may read %s (the agent's user, or the node's group)", a.Config.Cert))
	case errors.Is(err, producer.ErrCertUnreadable):
		return cli.Hint(err, fmt.Sprintf("the file at %s is damaged or is not an op cert: 'kesrotate-agent check' looks at the installed files; the active set's copy is in %s", a.Config.Cert, filepath.Join(a.Dir, producer.SetsDir)))
	}
	return err
}

// statusVerdict turns the library's verdict into the command's one error
// line: the node cannot make valid blocks with the installed cert, or does
// not forge with it, or a standby forges.
func statusVerdict(s *producer.Status) error {
	err := s.Verdict()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, producer.ErrCertInvalid):
		return cli.Hint(err, "rotate now: 'kesrotate-agent snapshot', then 'kesrotate rotate' on the cold machine")
	case errors.Is(err, producer.ErrCounterWrong):
		return cli.Hint(err, "rotate from a fresh snapshot: 'kesrotate rotate' issues the counter the chain accepts")
	case errors.Is(err, producer.ErrStandbyForges):
		return cli.Hint(err, "demote the producer that should not forge ('kesrotate-agent demote'), or stop this node")
	case errors.Is(err, producer.ErrKESAgentNoKey):
		return cli.Hint(err, "install a new key now: 'kesrotate-agent kes new', a snapshot, 'kesrotate rotate' on the cold machine, 'kesrotate-agent install'",
			"a kes-agent on another host with --bootstrap-address keeps the key through a restart (kes-agent's guide, Recommended Setups)")
	case errors.Is(err, producer.ErrKESAgentPeriod):
		return cli.Hint(err, "check the clock of kes-agent's host and the genesis file kes-agent runs with: it evolves the key for its own period")
	case errors.Is(err, producer.ErrKESAgentMismatch):
		return cli.Hint(err, "the node forges with what kes-agent serves and reads the cert file only at start: install the bundle of kes-agent's key, or rotate")
	case errors.Is(err, producer.ErrSignerStale), errors.Is(err, producer.ErrSignerNotRegistered), errors.Is(err, producer.ErrSignerDown):
		return cli.Hint(err, "'kesrotate-agent mithril restart' restarts it and waits for its registration; its log: journalctl -u UNIT",
			"the node's forging is not affected")
	case errors.Is(err, producer.ErrKESAgent):
		return cli.Hint(err, "start kes-agent, or fix the socket: 'kesrotate-agent config --kes-agent-socket PATH'; a kes-agent that restarted has lost its key")
	}
	return cli.Hint(err, "send the node SIGHUP ('kesrotate-agent install' of the same bundle re-signals and confirms), and read its log for why")
}

func printStatus(g *globals, s *producer.Status) {
	w := g.env.Stdout
	checks := s.Checks()
	// part prints the library's checks of one part, each with its mark.
	part := func(name string) {
		for _, c := range checks {
			if c.Part == name {
				fmt.Fprintf(w, "%s %s\n", marks[c.Level], c.Text)
			}
		}
	}
	id, _ := parsePool(s.PoolID)
	fmt.Fprintf(w, "pool %s on %s (chain from %s, tip slot %d)\n", id, s.Network, s.ChainSource, s.TipSlot)
	fmt.Fprintf(w, "  role                 %s\n", s.Role)
	if s.CertSource == producer.CertFromStaged {
		fmt.Fprintf(w, "  staged set           %s (a standby: the cert below is the one promote would install)\n", s.StagedSet)
	}
	fmt.Fprintf(w, "  current KES period   %d\n", s.CurrentPeriod)
	fmt.Fprintf(w, "  op cert              #%d, KES periods %d to %d\n", s.CertCounter, s.CertKESPeriod, s.CertEndPeriod-1)
	fmt.Fprintf(w, "  remaining            %d periods, expires %s\n", s.RemainingPeriods, s.Expiry.Format(time.RFC3339))
	fmt.Fprintf(w, "  on-chain counter     %s\n", orUnknown(s.OnChainCounter))
	part(producer.PartKESPeriod)
	part(producer.PartCounter)
	part(producer.PartForging)
	if s.ActiveSet != "" {
		fmt.Fprintf(w, "  active set           %s\n", s.ActiveSet)
	}
	if s.PreviousSet != "" {
		fmt.Fprintf(w, "  rollback would go to %s\n", s.PreviousSet)
	}
	switch {
	case s.PendingKESVKey != "" && s.KESAgent != nil:
		fmt.Fprintf(w, "  pending KES vkey     %s (staged in kes-agent, waiting for its cert)\n", s.PendingKESVKey)
	case s.PendingKESVKey != "":
		fmt.Fprintf(w, "  pending KES vkey     %s (made here, waiting for its cert)\n", s.PendingKESVKey)
	}
	if ks := s.KESAgent; ks != nil {
		fmt.Fprintf(w, "  kes-agent            %s\n", ks.Socket)
		part(producer.PartKESAgent)
		if ks.Info != nil && ks.Info.StagedHex != "" {
			fmt.Fprintf(w, "  kes-agent staged     %s (waiting for its cert)\n", ks.Info.StagedHex)
		}
	}
	if ms := s.Mithril; ms != nil {
		fmt.Fprintf(w, "  mithril signer       %s", ms.Unit)
		if ms.ActiveState != "" {
			fmt.Fprintf(w, " (%s, pid %d)", ms.ActiveState, ms.MainPID)
		}
		fmt.Fprintln(w)
		part(producer.PartMithril)
		if r := ms.LastRestart; r != nil && ms.Error == "" {
			fmt.Fprintf(w, "  last restart         %s for set %s (%s)\n", r.Restarted.Format(time.RFC3339), r.Set, map[bool]string{true: "registered", false: "not registered"}[r.Registered])
		}
		part(producer.PartMithrilRegistration)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func parsePool(hexID string) (string, error) {
	id, err := keys.ParsePoolID(hexID)
	if err != nil {
		return hexID, err
	}
	return id.Bech32(), nil
}
