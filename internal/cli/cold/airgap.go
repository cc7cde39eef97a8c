package cold

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/auditlog"
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

// airgapFindings runs the check; an unreadable state is itself a finding.
func (g *globals) airgapFindings() (*airgap.Report, []string) {
	rep, err := airgap.Check(g.airgapRoots())
	if err != nil {
		return nil, []string{fmt.Sprintf("the network state could not be read (%v)", err)}
	}
	return rep, rep.Findings()
}

// airgapGuard is the check that runs before the first secret key is read,
// decrypted or written: a warning, or a refusal in a --require-airgap
// vault unless --allow-network was given (then allowNetworkOverride has
// logged it already).
func (g *globals) airgapGuard(v *ceremony.Vault) func() error {
	return func() error {
		_, found := g.airgapFindings()
		if len(found) == 0 {
			return nil
		}
		if v.Meta.RequireAirgap && !g.keys.allowNetwork {
			return cli.Hint(fmt.Errorf("this machine is not air-gapped: %s", strings.Join(found, "; ")),
				"this vault requires an air gap: unplug the network, switch radios off (or boot without them) and check with 'kesrotate airgap check'",
				"--allow-network opens the secrets anyway and records that in the ceremony log")
		}
		if g.keys.allowNetwork || v.Meta.Networked {
			return nil // said so on the command line (and logged where the vault requires an air gap), or by the vault
		}
		first := found[0]
		if i := strings.Index(first, " ("); i > 0 {
			first = first[:i]
		}
		if len(found) > 1 {
			first += fmt.Sprintf(", and %d more", len(found)-1)
		}
		g.env.Warn("this machine is not air-gapped (%s); opening secret keys anyway ('kesrotate airgap check' lists what it found; --allow-network if this is intended)", first)
		return nil
	}
}

// allowNetworkOverride records --allow-network in the ceremony log when it
// matters (a --require-airgap vault on a machine that is not air-gapped),
// before the command does anything else with the log.
func (g *globals) allowNetworkOverride(v *ceremony.Vault) error {
	if !g.keys.allowNetwork || !v.Meta.RequireAirgap {
		return nil
	}
	_, found := g.airgapFindings()
	if len(found) == 0 {
		return nil
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	summary := strings.Join(found, "; ")
	if len(summary) > 200 {
		summary = summary[:200]
	}
	if _, _, err := v.Record(auditlog.Entry{Kind: auditlog.KindOverride, Time: now,
		Detail: map[string]string{ceremony.OverrideAllowNetwork: "true", "airgap": summary}}); err != nil {
		return cli.Hint(fmt.Errorf("recording --allow-network in the ceremony log: %w", err), "an override that cannot be logged is not used")
	}
	return nil
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
			rep, found := g.airgapFindings()
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
