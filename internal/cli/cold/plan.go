package cold

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kesrotate/kesrotate/plan"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Exit codes of plan, for cron and monitoring plugins (Nagios/Icinga
// convention: OK, WARNING, CRITICAL, UNKNOWN).
const (
	planExitOK       = 0
	planExitWarn     = 1
	planExitCritical = 2
	planExitUnknown  = 3
)

type planOptions struct {
	certs, statuses, schedules []string
	network, genesis           string
	warnLead, criticalLead     string
	quiet                      bool
	prometheus                 string
	rotateAt, rotationTakes    string
}

func newPlanCmd(g *globals) *cobra.Command {
	o := &planOptions{}
	c := &cobra.Command{
		Use:   "plan [--cert F]... [--status F]... [--vault DIR] [--network N | --genesis F]",
		Short: "When each pool's op cert expires and when to rotate it (for cron)",
		Long: `Plan the KES rotation of every pool given: op cert files (--cert), every
pool of the vault (the latest cert issued from its journal; --vault or
$KESROTATE_VAULT), or saved 'kesrotate-agent status --json' files (--status).
It needs no network and no secrets.

Per pool: the current KES period, the cert's start and expiry period, the
exact expiry instant (the start of period c0 + maxKESEvolutions, in UTC and
local time), the time left, the date to rotate by (--warn-lead before
expiry) and the next counter when the on-chain counter is known.

Exit codes:
  0  every cert is fine
  1  a cert is inside the warning lead (default 14d): rotate by the date shown
  2  a cert is inside the critical lead (default 3d), has expired, or is not
     yet valid: the pool is about to stop, or has stopped, minting blocks
  3  cannot evaluate: unreadable input, unknown network, bad flags

--quiet prints nothing unless the exit code is 1 or 2, so cron mails only
then. --prometheus FILE writes node_exporter textfile metrics atomically.
--leader-schedule takes cncli leaderlog JSON and suggests the largest gap
without assigned slots inside the rotation window.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownErr(cli.Usage(fmt.Errorf("plan takes no arguments, got %q", args[0]), "give cert files with --cert FILE"))
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error { return unknownErr(runPlan(g, o)) },
	}
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return unknownErr(cli.Usage(err, fmt.Sprintf("run '%s --help' for the flags", c.CommandPath())))
	})
	f := c.Flags()
	f.StringArrayVar(&o.certs, "cert", nil, "an op cert file (NodeOperationalCertificate), or a folder of them; repeat for more")
	f.StringArrayVar(&o.statuses, "status", nil, "a saved 'kesrotate-agent status --json', or a folder of them; repeat for more")
	f.StringVar(&o.genesis, "genesis", "", "shelley genesis of a custom network")
	cli.NetworkFlags(c, &o.network, "mainnet, preprod or preview (default: the vault's, else the status', else mainnet; a cert plainly of another network is refused)")
	f.StringVar(&o.warnLead, "warn-lead", "14d", "warn this long before expiry (e.g. 14d, 36h)")
	f.StringVar(&o.criticalLead, "critical-lead", "3d", "critical this long before expiry")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing unless action is due (exit 1 or 2)")
	f.StringVar(&o.prometheus, "prometheus", "", "write node_exporter textfile metrics to FILE (atomically)")
	f.StringArrayVar(&o.schedules, "leader-schedule", nil, "cncli leaderlog JSON of a pool; repeat for more epochs or pools")
	f.StringVar(&o.rotateAt, "rotate-at", "", "a planned rotation time (RFC 3339): warn if an assigned slot falls inside it")
	f.StringVar(&o.rotationTakes, "rotation-takes", "15m", "how long the planned rotation takes")
	return c
}

// unknownErr turns any failure of plan into exit 3 (cannot evaluate),
// keeping its message and hints; exit codes 1 and 2 mean warn and critical.
func unknownErr(err error) error {
	if err == nil {
		return nil
	}
	var ex *cli.Exit
	if errors.As(err, &ex) {
		return err
	}
	var ce *cli.Error
	if errors.As(err, &ce) {
		return &cli.Error{Err: ce.Err, Hints: ce.Hints, Code: planExitUnknown}
	}
	return &cli.Error{Err: err, Hints: []string{"nothing was evaluated; fix the input and run plan again"}, Code: planExitUnknown}
}

// parseLead reads a duration in the one syntax both binaries take.
func parseLead(flag, s string) (time.Duration, error) {
	d, err := cli.ParseDuration(s)
	if err != nil {
		return 0, cli.Usage(fmt.Errorf("%s: %w", flag, err))
	}
	return d, nil
}

type planInputs struct {
	vault    *ceremony.Vault // the vault read, or nil
	items    []plan.Item
	network  opcert.Network
	warnings []string
}

func runPlan(g *globals, o *planOptions) error {
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	leads := plan.Leads{}
	if leads.Warn, err = parseLead("--warn-lead", o.warnLead); err != nil {
		return err
	}
	if leads.Critical, err = parseLead("--critical-lead", o.criticalLead); err != nil {
		return err
	}
	if err := leads.Check(); err != nil {
		return cli.Usage(fmt.Errorf("--critical-lead, --warn-lead: %w", err), "the critical lead is the shorter one")
	}
	takes, err := parseLead("--rotation-takes", o.rotationTakes)
	if err != nil {
		return err
	}
	var rotateAt time.Time
	if o.rotateAt != "" {
		if rotateAt, err = time.Parse(time.RFC3339, o.rotateAt); err != nil {
			return cli.Usage(fmt.Errorf("--rotate-at %q is not an RFC 3339 time", o.rotateAt), "write it like 2026-11-21T09:30:00Z")
		}
	}

	if o.certs, err = expandFolders(o.certs, "--cert"); err != nil {
		return err
	}
	if o.statuses, err = expandFolders(o.statuses, "--status"); err != nil {
		return err
	}
	in, err := gatherPlanInputs(g, o, now)
	if err != nil {
		return err
	}
	schedules, err := readSchedules(o)
	if err != nil {
		return err
	}
	r, err := plan.Make(plan.Input{Network: in.network, Now: now, Leads: leads, Items: in.items,
		Schedules: schedules, RotateAt: rotateAt, RotationTakes: takes})
	var se *plan.ScheduleError
	switch {
	case errors.Is(err, plan.ErrNothing) && in.vault != nil:
		return cli.Hint(fmt.Errorf("vault %s holds no issued cert", in.vault.Dir), "issue one with 'kesrotate rotate', or plan a node.cert with --cert FILE")
	case errors.Is(err, plan.ErrNothing):
		return cli.Usage(errors.New("nothing to plan"), "give op certs with --cert FILE, agent status files with --status FILE, or a vault with --vault DIR")
	case errors.As(err, &se):
		return cli.Hint(fmt.Errorf("--leader-schedule %s is for pool %s, which is not being planned", o.schedules[se.Index], se.Pool.Bech32()),
			"give the schedule of a pool passed with --cert, --status or --vault")
	case err != nil:
		return cli.Hint(err, "check --now and the network")
	}
	warnings := append(in.warnings, r.Warnings...)

	if o.prometheus != "" {
		if err := safefile.Replace(o.prometheus, r.Prometheus(), 0o644); err != nil {
			return cli.Hint(fmt.Errorf("--prometheus: %w", err), "give a file in node_exporter's --collector.textfile.directory that this user can write")
		}
	}
	if o.quiet && r.ExitCode == planExitOK {
		return nil
	}
	if g.env.JSON {
		if err := g.env.PrintJSON(r); err != nil {
			return err
		}
	} else {
		printPlan(g.env.Stdout, in.network, now, r)
	}
	for _, w := range warnings {
		g.env.Warn("%s", w)
	}
	if r.ExitCode != planExitOK {
		return &cli.Exit{Code: r.ExitCode}
	}
	return nil
}

func gatherPlanInputs(g *globals, o *planOptions, now time.Time) (*planInputs, error) {
	in := &planInputs{}
	var vault *ceremony.Vault
	if g.vault != "" || (len(o.certs) == 0 && len(o.statuses) == 0) {
		v, err := g.openVault()
		if err != nil {
			// Nothing to plan only when no vault is named, or
			// $KESROTATE_VAULT names none: a vault refused as damaged
			// (unsigned, open to others) is that error, the tamper signal.
			_, unnamed := g.vaultDir()
			if (unnamed != nil || errors.Is(err, ceremony.ErrNoVault)) && len(o.certs) == 0 && len(o.statuses) == 0 && g.vault == "" {
				return nil, cli.Usage(errors.New("nothing to plan"), "give op certs with --cert FILE, agent status files with --status FILE, or a vault with --vault DIR")
			}
			return nil, err
		}
		vault, in.vault = v, v
	}
	named, err := namedNetwork(o.network, o.genesis)
	if err != nil {
		return nil, err
	}
	choice := plan.NetworkChoice{Named: named}
	if vault != nil {
		choice.Vault = &vault.Network
	} else if choice.Vault, err = g.vaultNetwork(); err != nil {
		return nil, err
	}

	// Agent status files.
	var statuses []plan.AgentStatus
	var ids []keys.PoolID
	for _, f := range o.statuses {
		b, err := readInput(f, "--status")
		if err != nil {
			return nil, err
		}
		s, id, err := plan.ParseAgentStatus(b)
		if err != nil {
			return nil, cli.Hint(fmt.Errorf("--status %s: %w", f, err), "give the output of 'kesrotate-agent status --json' (see docs/plan.md for its fields)")
		}
		statuses = append(statuses, s)
		ids = append(ids, id)
	}
	if len(statuses) > 0 {
		choice.Status = &statuses[0]
	}
	chosen, err := plan.ChooseNetwork(choice)
	if errors.Is(err, plan.ErrNetworkConflict) {
		return nil, cli.Hint(err, "drop --network to plan on the vault's network")
	}
	if err != nil {
		return nil, err
	}
	n := chosen.Network
	in.network = n

	if vault != nil {
		items, warnings, err := vault.PlanItems()
		if err != nil {
			return nil, cli.Hint(err, "a pool's files are damaged: 'kesrotate pool list' and 'kesrotate pool show NAME' on the cold machine show which")
		}
		in.items, in.warnings = append(in.items, items...), append(in.warnings, warnings...)
	}
	for _, f := range o.certs {
		b, err := readInput(f, "--cert")
		if err != nil {
			return nil, err
		}
		cert, err := opcert.Parse(b)
		if err != nil {
			return nil, cli.Hint(fmt.Errorf("--cert %s: %w", f, err), "give a cardano-cli NodeOperationalCertificate file (node.cert)")
		}
		item, err := plan.CertItem(f, cert)
		if err != nil {
			return nil, cli.Hint(fmt.Errorf("--cert %s: %w", f, err), "the node rejects every block made with this cert: issue a new one now")
		}
		if err := otherNetworkError("--cert", f, n, chosen.CheckCert(cert.KESPeriod, now, nil)); err != nil {
			return nil, err
		}
		in.items = append(in.items, item)
	}
	for i, s := range statuses {
		if err := s.CheckNetwork(n); err != nil {
			return nil, cli.Hint(fmt.Errorf("--status %s: %w", o.statuses[i], err), "give --network or --genesis of the producer's network")
		}
		in.items = append(in.items, plan.StatusItem(s, ids[i]))
	}
	return in, nil
}

// expandFolders replaces each folder among paths by the input files in it
// (safefile.Inputs): a folder of certs, of agents' status files, of
// snapshots. A folder with no file is a usage error.
func expandFolders(paths []string, flag string) ([]string, error) {
	out, err := safefile.Inputs(paths)
	if err != nil {
		return nil, cli.Usage(fmt.Errorf("%s %w", flag, err))
	}
	return out, nil
}

// readSchedules reads the --leader-schedule files.
func readSchedules(o *planOptions) ([]plan.LeaderLog, error) {
	var out []plan.LeaderLog
	for _, f := range o.schedules {
		b, err := readInput(f, "--leader-schedule")
		if err != nil {
			return nil, err
		}
		l, err := plan.ParseLeaderLog(b)
		if err != nil {
			return nil, cli.Hint(fmt.Errorf("--leader-schedule %s: %w", f, err), "give the JSON 'cncli leaderlog' prints")
		}
		out = append(out, l)
	}
	return out, nil
}

// clock is how a person reads a time: UTC to the second, rounded down so
// that a deadline shown is never later than the real one. JSON keeps the
// full precision.
func clock(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

func printPlan(w io.Writer, n opcert.Network, now time.Time, r *plan.Report) {
	for _, pr := range r.Pools {
		p := pr.Plan
		left := "left " + plan.FormatLeft(p.Left)
		if p.Left <= 0 {
			left = "EXPIRED " + plan.FormatLeft(-p.Left) + " ago"
		}
		fmt.Fprintf(w, "%-13s %s  cert #%d  expires %s  %s  rotate by %s\n",
			plan.StatusWord(p.Status), pr.Name, pr.Counter, clock(p.Expiry), left, clock(p.RotateBy))
		for _, c := range pr.Companions {
			if c.Problem != "" {
				fmt.Fprintf(w, "%-13s %s  %s: %s\n", plan.StatusWord(c.Status), pr.Name, c.Name, c.Problem)
			}
		}
	}
	for _, pr := range r.Pools {
		p := pr.Plan
		fmt.Fprintf(w, "\n%s (%s)\n", pr.Name, pr.Source)
		fmt.Fprintf(w, "  pool               %s\n", pr.PoolIDBech32)
		fmt.Fprintf(w, "  network            %s (magic %d)\n", n.Name, n.Magic)
		fmt.Fprintf(w, "  status             %s: %s\n", plan.StatusWord(p.Status), pr.Action())
		fmt.Fprintf(w, "  now                %s (KES period %d)\n", clock(now), p.CurrentPeriod)
		fmt.Fprintf(w, "  cert               #%d, start period %d (%s)\n", pr.Counter, p.StartPeriod, clock(p.Start))
		for _, h := range pr.Producers {
			note := ""
			if h.Stale {
				note = "  (not the newest: install the newest bundle there)"
			}
			fmt.Fprintf(w, "  held by %-10s #%d, start period %d%s\n", h.Producer, h.Counter, h.KESPeriod, note)
		}
		fmt.Fprintf(w, "  expiry period      %d (last valid period %d)\n", p.EndPeriod, p.EndPeriod-1)
		fmt.Fprintf(w, "  remaining periods  %d\n", max(p.RemainingPeriods, 0))
		fmt.Fprintf(w, "  expires            %s (local %s)\n", clock(p.Expiry), p.Expiry.Local().Format("2006-01-02 15:04:05 MST"))
		if p.Left > 0 {
			fmt.Fprintf(w, "  time left          %s\n", plan.FormatLeft(p.Left))
		} else {
			fmt.Fprintf(w, "  time left          none: expired %s ago\n", plan.FormatLeft(-p.Left))
		}
		fmt.Fprintf(w, "  rotate by          %s (%s before expiry; critical from %s)\n", clock(p.RotateBy), cli.FormatDuration(r.Leads().Warn), clock(p.CriticalFrom))
		for _, c := range pr.Companions {
			state := "ok"
			if c.Problem != "" {
				state = plan.StatusWord(c.Status) + ": " + c.Problem
			}
			fmt.Fprintf(w, "  %-18s %s\n", c.Name, state)
		}
		switch {
		case pr.NextCounter != nil:
			fmt.Fprintf(w, "  next counter       %d\n", *pr.NextCounter)
		case pr.NextCounterNote != "":
			fmt.Fprintf(w, "  next counter       %s\n", pr.NextCounterNote)
		}
		if s := pr.Schedule; s != nil {
			fmt.Fprintf(w, "  rotation window    %s .. %s\n", s.WindowFrom, s.WindowTo)
			fmt.Fprintf(w, "  assigned slots     %d inside the window (schedule known for %d epoch(s))\n", len(s.AssignedInWindow), len(s.Covered))
			if s.LargestGap != nil {
				fmt.Fprintf(w, "  largest free gap   %s .. %s (%s); suggested rotation %s\n", s.LargestGap.From, s.LargestGap.To,
					plan.FormatLeft(time.Duration(s.LargestGap.Seconds)*time.Second), s.Suggested)
			}
			for _, c := range s.Conflicts {
				fmt.Fprintf(w, "  CONFLICT           assigned slot at %s inside the planned rotation\n", c)
			}
		}
	}
}
