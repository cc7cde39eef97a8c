package cold

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/transfer"
)

type fleetRotateOptions struct {
	all        bool
	snapshots  []string
	out        string
	maxAge     time.Duration
	allowStale bool
	withVRF    bool
	vrfChosen  bool
	bundleVer  int
}

func newFleetCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "fleet",
		Short: "Ceremonies over many pools at once",
		Args:  cli.Args(cobra.NoArgs),
	}
	c.AddCommand(newFleetRotateCmd(g))
	return c
}

func newFleetRotateCmd(g *globals) *cobra.Command {
	o := &fleetRotateOptions{}
	c := &cobra.Command{
		Use:   "rotate (POOL…|--all) --snapshots DIR|FILE… [--out DIR]",
		Short: "Rotate many pools in one ceremony, each from its producer's snapshot",
		Long: `Issue the next op cert for every pool named (or, with --all, every pool
whose keys were not destroyed), one after the other, in one ceremony: one
lock, one passphrase prompt, one ceremony log opened once.

--snapshots takes snapshot files, or folders whose files are snapshots, in
any order: each is matched to its pool by the pool id it names and the
pinned producer of that pool whose key signed it. The bundle of each pool
is sealed to that producer and written to --out (default the vault's out/
folder); 'kesrotate qr frames BUNDLE' shows it as QR frames.

Each pool is checked exactly as 'kesrotate rotate' checks it. A pool that is
refused (no snapshot, a stale one, a counter the rules refuse) changes
nothing and does not stop the others. A pool whose cert was issued but
whose bundle or log entry then failed is "failed-after-issue": its cert is
journaled, and rotating it again re-issues the same counter. A progress
line per pool goes to stderr, with the warnings to act on before its bundle
is installed, and a table of every pool to stdout (--json: one object).

Exit codes: 0 every pool rotated, 1 at least one refused or failed after
its issue (the table says which and why), 2 usage.`,
		Args: cli.Args(func(c *cobra.Command, args []string) error {
			if o.all && len(args) > 0 {
				return cli.Usage(errors.New("give pool names or --all, not both"))
			}
			if !o.all && len(args) == 0 {
				return cli.Usage(errors.New("no pools given"), "name the pools to rotate, or give --all")
			}
			return nil
		}),
		RunE: func(c *cobra.Command, args []string) error {
			o.vrfChosen = c.Flags().Changed("with-vrf")
			return runFleetRotate(g, o, args)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.all, "all", false, "rotate every pool of the vault whose keys were not destroyed")
	f.StringArrayVar(&o.snapshots, "snapshots", nil, "snapshot files, or folders of them (repeat it)")
	f.BoolVar(&o.withVRF, "with-vrf", false, "add each pool's VRF signing key (default: only for producers that never received it)")
	f.IntVar(&o.bundleVer, "bundle-version", transfer.BundleVersion, fmt.Sprintf("%d, or %d for agents older than bundle version %d (larger bundles)", transfer.BundleVersion, transfer.BundleVersionLegacy, transfer.BundleVersion))
	f.StringVar(&o.out, "out", "", "folder for the bundles (default the vault's out/ folder)")
	cli.DurationVar(f, &o.maxAge, "max-age", transfer.DefaultMaxAge, "refuse a snapshot whose tip is older than this (another value is logged)")
	f.BoolVar(&o.allowStale, "allow-stale", false, "accept snapshots older than --max-age (journaled)")
	_ = c.MarkFlagRequired("snapshots")
	return c
}

// readSnapshots reads every file named, and the input files of every
// folder named (expandFolders), by name.
func readSnapshots(paths []string) ([]ceremony.FleetSnapshot, error) {
	files, err := expandFolders(paths, "--snapshots")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []ceremony.FleetSnapshot
	for _, f := range files {
		b, err := readInput(f, "--snapshots")
		if err != nil {
			return nil, err
		}
		out = append(out, ceremony.FleetSnapshot{Name: f, Data: b})
	}
	if len(out) == 0 {
		return nil, cli.Usage(errors.New("--snapshots: no snapshot files"), "give the files 'kesrotate-agent snapshot' wrote, or a folder of them")
	}
	return out, nil
}

func runFleetRotate(g *globals, o *fleetRotateOptions, pools []string) error {
	if err := checkBundleVersion(o.bundleVer); err != nil {
		return err
	}
	snaps, err := readSnapshots(o.snapshots)
	if err != nil {
		return err
	}
	v, err := g.openVault()
	if err != nil {
		return err
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	res, err := v.RotateFleet(ceremony.FleetRequest{
		Pools: pools, Snapshots: snaps, OutDir: o.out, WithVRF: o.withVRF, AutoVRF: !o.vrfChosen, BundleVersion: o.bundleVer, Now: now,
		Policy: transfer.SnapshotPolicy{MaxAge: o.maxAge, AllowStale: o.allowStale},
		Progress: func(out ceremony.FleetOutcome, done, total int) {
			switch out.State {
			case ceremony.FleetRefused:
				g.env.Info("[%d/%d] %s: refused: %s", done, total, out.Pool, textsafe.Escape(out.Err.Error()))
				return
			case ceremony.FleetFailedAfterIssue:
				g.env.Info("[%d/%d] %s: op cert #%d issued, then failed: %s", done, total, out.Pool, out.Issued.Counter, textsafe.Escape(out.Err.Error()))
				return
			}
			c := out.Result.Issue.Cert
			g.env.Info("[%d/%d] %s: op cert #%d, KES period %d, sealed for %s", done, total, out.Pool, c.Counter, c.KESPeriod, out.Producer)
			for _, w := range out.Warnings {
				g.env.Warn("pool %s: %s", out.Pool, w)
			}
		},
	})
	if err != nil {
		return rotateError(err)
	}
	for _, out := range res.Outcomes {
		if out.Result != nil {
			out.Result.Issue.KES.Wipe()
		}
	}
	for _, u := range res.Unused {
		g.env.Warn("snapshot not used: %s", u)
	}
	var used []string
	for _, out := range res.Outcomes {
		if out.Result != nil {
			used = append(used, out.Result.Issue.Entry.Overrides...)
		}
	}
	slices.Sort(used)
	overrideWarnings(g, slices.Compact(used), o.maxAge)
	if g.env.JSON {
		if err := g.env.PrintJSON(fleetJSON(v, res)); err != nil {
			return err
		}
	} else if err := printFleet(g.env.Stdout, v, res); err != nil {
		return err
	}
	return fleetError(res)
}

// fleetError is the error of a fleet ceremony in which some pools were
// refused or failed after their issue, with what to do about each.
func fleetError(res *ceremony.FleetResult) error {
	var refused, failed, all []string
	for _, out := range res.Outcomes {
		switch out.State {
		case ceremony.FleetRefused:
			refused = append(refused, out.Pool)
		case ceremony.FleetFailedAfterIssue:
			failed = append(failed, out.Pool)
		default:
			continue
		}
		all = append(all, out.Pool)
	}
	if len(all) == 0 {
		return nil
	}
	total := len(res.Outcomes)
	var msgs, hints []string
	if len(refused) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of %d pools refused: %s", len(refused), total, strings.Join(refused, ", ")))
	}
	if len(failed) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of %d pools failed after their cert was issued: %s", len(failed), total, strings.Join(failed, ", ")))
	}
	switch {
	case res.Rotated() == 0 && len(failed) == 0:
		hints = append(hints, "no pool was rotated; the table says why each was refused")
	case res.Rotated() == 0:
		hints = append(hints, "no pool was rotated; the table says what became of each")
	case len(failed) == 0:
		hints = append(hints, "the other pools were rotated; the table says why each of these was refused")
	default:
		hints = append(hints, "the other pools were rotated; the table says what became of each of these")
	}
	if len(failed) > 0 {
		hints = append(hints, "a pool that failed after its issue has its cert journaled: it is not a refusal; rotating it again, from a new snapshot, re-issues the same counter ('kesrotate ceremony seal' records a cert the log lacks)")
	}
	hints = append(hints, "fix that and run 'kesrotate fleet rotate "+strings.Join(all, " ")+" --snapshots …' for them")
	return cli.Hint(errors.New(strings.Join(msgs, "; ")), hints...)
}

func fleetJSON(v *ceremony.Vault, res *ceremony.FleetResult) fleetOutput {
	pools := []fleetPool{}
	for _, o := range res.Outcomes {
		p := fleetPool{Pool: o.Pool, Status: string(o.State), Producer: o.Producer, Snapshot: o.Snapshot, Warnings: nonNil(o.Warnings)}
		switch o.State {
		case ceremony.FleetRefused:
			p.Error = o.Err.Error()
		case ceremony.FleetFailedAfterIssue:
			counter, period := o.Issued.Counter, o.Issued.KESPeriod
			p.Counter, p.KESPeriod, p.CertHash, p.Error = &counter, &period, o.Issued.CertHash, o.Err.Error()
		default:
			c := o.Result.Issue.Cert
			counter, period := c.Counter, c.KESPeriod
			p.Counter, p.KESPeriod, p.CertHash = &counter, &period, c.Hash()
			p.Expiry = c.Expiry(v.Network).Format(time.RFC3339)
			p.Bundle, p.BundleSHA256, p.BundleBytes = o.Result.BundleFile, o.Result.BundleHash, len(o.Result.Bundle)
		}
		pools = append(pools, p)
	}
	return fleetOutput{Pools: pools, Rotated: res.Rotated(), Refused: res.Refused(), FailedAfterIssue: res.FailedAfterIssue(), UnusedSnapshots: nonNil(res.Unused)}
}

func printFleet(w io.Writer, v *ceremony.Vault, res *ceremony.FleetResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tRESULT\tCOUNTER\tKES PERIOD\tEXPIRES\tPRODUCER\tBUNDLE OR REASON")
	for _, o := range res.Outcomes {
		switch o.State {
		case ceremony.FleetRefused:
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%s\t%s\n", o.Pool, o.State, dash(o.Producer), textsafe.Escape(o.Err.Error()))
			continue
		case ceremony.FleetFailedAfterIssue:
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t-\t%s\t%s\n", o.Pool, o.State, o.Issued.Counter, o.Issued.KESPeriod, dash(o.Producer), textsafe.Escape(o.Err.Error()))
			continue
		}
		c := o.Result.Issue.Cert
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", o.Pool, o.State, c.Counter, c.KESPeriod,
			c.Expiry(v.Network).Format(time.RFC3339), o.Producer, o.Result.BundleFile)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "rotated %d of %d pools\n", res.Rotated(), len(res.Outcomes))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// overrideWarnings warns of the snapshot-policy overrides the library says
// an action used (its journal entry's or preparation's Override… names).
func overrideWarnings(g *globals, used []string, maxAge time.Duration) {
	for _, o := range used {
		switch o {
		case ceremony.OverrideAllowStale:
			g.env.Warn("--allow-stale: a snapshot older than %s may have been used", cli.FormatDuration(maxAge))
		case ceremony.OverrideIgnoreClock:
			g.env.Warn("--ignore-clock: the KES period was not checked against this machine's clock")
		}
	}
}
