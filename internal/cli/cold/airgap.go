package cold

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/airgap"
	"github.com/kesrotate/kesrotate/internal/cli"
)

// airgapRoots are /sys and /proc, or the fake trees tests name in
// KESROTATE_SYSFS_ROOT and KESROTATE_PROCFS_ROOT.
func (g *globals) airgapRoots() airgap.Roots {
	r := airgap.DefaultRoots()
	if s := g.env.Getenv("KESROTATE_SYSFS_ROOT"); s != "" {
		r.Sys = s
	}
	if s := g.env.Getenv("KESROTATE_PROCFS_ROOT"); s != "" {
		r.Proc = s
	}
	return r
}

// airgapCheck reads this machine's network state: what breaks the air
// gap, or an error when the state cannot be read (ceremony decides what
// that means: AirgapFindings). rep is the full report, when read.
func (g *globals) airgapCheck() (rep *airgap.Report, found []string, err error) {
	if rep, err = airgap.Check(g.airgapRoots()); err != nil {
		return nil, nil, err
	}
	return rep, rep.Findings(), nil
}

// airgapWarning is the warning ceremony asks for when secrets are opened
// on a machine that is not air-gapped.
func (g *globals) airgapWarning(found []string) {
	first := found[0]
	if i := strings.Index(first, " ("); i > 0 {
		first = first[:i]
	}
	if len(found) > 1 {
		first += fmt.Sprintf(", and %d more", len(found)-1)
	}
	g.env.Warn("this machine is not air-gapped (%s); opening secret keys anyway ('kesrotate airgap check' lists what it found; --allow-network if this is intended)", first)
}

// airgapHint adds the hints of a refusal to open secrets.
func airgapHint(err error) error {
	switch {
	case errors.Is(err, ceremony.ErrNotAirgapped):
		return cli.Hint(err,
			"this vault requires an air gap: unplug the network, switch radios off (or boot without them) and check with 'kesrotate airgap check'",
			"--allow-network opens the secrets anyway and records that in the ceremony log")
	case errors.Is(err, ceremony.ErrRefused):
		return cli.Hint(err, "an override that cannot be logged is not used: repair the log first ('kesrotate ceremony verify')")
	}
	return err
}

func newAirgapCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "airgap",
		Short: "Check that this machine has no way onto a network",
		Args:  cli.Args(cobra.NoArgs),
	}
	c.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "List network interfaces that are up, default routes and radios; exit 1 if any",
		Long: `Read /sys and /proc (no sockets, no other programs) and list what breaks
the air gap: a non-loopback interface that is up, a default route (IPv4 or
IPv6), a Wi-Fi, Bluetooth or other radio device (even when blocked).

Exit codes: 0 air-gapped, 1 something found (or the state is unreadable).`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			var rep *airgap.Report
			found := ceremony.AirgapFindings(func() (found []string, err error) {
				rep, found, err = g.airgapCheck()
				return found, err
			})
			if g.env.JSON {
				out := airgapOutput{Airgapped: len(found) == 0, Findings: nonNil(found),
					Interfaces: []airgap.Interface{}, DefaultRoutes: []airgap.Route{}, Radios: []airgap.Radio{}}
				if rep != nil {
					out.Interfaces, out.DefaultRoutes, out.Radios = nonNil(rep.Interfaces), nonNil(rep.DefaultRoutes), nonNil(rep.Radios)
				}
				if err := g.env.PrintJSON(out); err != nil {
					return err
				}
			} else {
				if rep != nil {
					for _, i := range rep.Interfaces {
						state := "down"
						if i.Up {
							state = "up"
						}
						kind := ""
						switch {
						case i.Loopback:
							kind = " (loopback)"
						case i.Wireless:
							kind = " (wireless)"
						}
						fmt.Fprintf(g.env.Stdout, "interface %-12s %s, operstate %s%s\n", i.Name, state, i.OperState, kind)
					}
				}
				for _, f := range found {
					fmt.Fprintf(g.env.Stdout, "FOUND  %s\n", f)
				}
				if len(found) == 0 {
					fmt.Fprintln(g.env.Stdout, "air-gapped: no interface up but loopback, no default route, no radio")
				}
			}
			if len(found) > 0 {
				if !g.env.JSON {
					return cli.Hint(errors.New("this machine is not air-gapped"), "unplug the network cable, remove or disable radios (rfkill, BIOS), then check again")
				}
				return &cli.Exit{Code: 1}
			}
			return nil
		},
	})
	return c
}
