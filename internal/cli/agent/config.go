package agent

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
)

// keyUserFlags name the node's other key users: kes-agent, which holds
// the KES key, and the Mithril signer, which reads it (init and config).
type keyUserFlags struct {
	kesAgentSocket, mithrilSigner, mithrilMetrics, mithrilEnvFile string
}

func (k *keyUserFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&k.kesAgentSocket, "kes-agent-socket", "", "kes-agent's control socket: the node takes its KES key from kes-agent (--shelley-kes-agent-socket) and no KES signing key is written here")
	f.StringVar(&k.mithrilSigner, "mithril-signer", "", "the Mithril signer's systemd unit: restarted after every confirmed install, and its registration confirmed")
	f.StringVar(&k.mithrilMetrics, "mithril-metrics", "", "the Mithril signer's metrics URL (ENABLE_METRICS_SERVER=true; http://127.0.0.1:9090/metrics), to confirm its registration")
	f.StringVar(&k.mithrilEnvFile, "mithril-env-file", "", "the Mithril signer's environment file: its KES_SECRET_KEY_PATH and OPERATIONAL_CERTIFICATE_PATH are kept on the node's paths")
}

// signalFlags say how to find the node to signal (init and config).
type signalFlags struct {
	pidFile, systemdUnit   string
	noSignal, processMatch bool
}

func (s *signalFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&s.pidFile, "pid-file", "", "signal the pid in this file")
	f.StringVar(&s.systemdUnit, "systemd-unit", "", "signal this systemd unit's MainPID")
	f.BoolVar(&s.processMatch, "match-process", false, "signal the process whose arguments name these three paths")
	f.BoolVar(&s.noSignal, "no-signal", false, "stage and install without signalling the node")
	c.MarkFlagsMutuallyExclusive("pid-file", "systemd-unit", "no-signal", "match-process")
}

// signal is the chosen mode, or nil when none of the flags was given.
func (s *signalFlags) signal() *producer.Signal {
	switch {
	case s.pidFile != "":
		return &producer.Signal{Mode: producer.SignalPIDFile, PIDFile: s.pidFile}
	case s.systemdUnit != "":
		return &producer.Signal{Mode: producer.SignalSystemd, SystemdUnit: s.systemdUnit}
	case s.processMatch:
		return &producer.Signal{Mode: producer.SignalProcess}
	case s.noSignal:
		return &producer.Signal{Mode: producer.SignalNone}
	}
	return nil
}

func newConfigCmd(g *globals) *cobra.Command {
	var sig signalFlags
	var users keyUserFlags
	var auditKeyFile string
	str := map[string]*string{}
	c := &cobra.Command{
		Use:   "config [--socket P] [--metrics-url U] [--node-log F|journald[:UNIT]] [--node-config F] [--link-mode M] [--pid-file F | --systemd-unit U | --match-process | --no-signal] [--kes-agent-socket S] [--mithril-signer U] …",
		Short: "Show or change the agent's settings (no hand edits of agent.json)",
		Long: `Without flags, print the agent's settings. With flags, change those
settings: each change is checked as init checks it, recorded in
DIR/config-history.jsonl and saved atomically; a new --link-mode re-makes
the node's three paths at once with the same bytes. The pool, network and
producer identity never change here. Then run 'kesrotate-agent check'.

An empty value ("") clears an optional setting.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			var ch producer.Change
			for name, p := range map[string]**string{"socket": &ch.Socket, "metrics-url": &ch.MetricsURL, "node-log": &ch.NodeLog,
				"node-config": &ch.NodeConfig, "link-mode": &ch.LinkMode, "group": &ch.Group, "name": &ch.Name} {
				if c.Flags().Changed(name) {
					*p = str[name]
				}
			}
			for name, p := range map[string]struct {
				dst **string
				v   *string
			}{"kes-agent-socket": {&ch.KESAgentSocket, &users.kesAgentSocket}, "mithril-signer": {&ch.MithrilSigner, &users.mithrilSigner},
				"mithril-metrics": {&ch.MithrilMetrics, &users.mithrilMetrics}, "mithril-env-file": {&ch.MithrilEnvFile, &users.mithrilEnvFile}} {
				if c.Flags().Changed(name) {
					*p.dst = p.v
				}
			}
			ch.Signal = sig.signal()
			if c.Flags().Changed("audit-key") {
				text := ""
				if auditKeyFile != "" {
					b, err := cli.ReadInput(auditKeyFile, "--audit-key", "give the audit.pub of the vault ('kesrotate ceremony export' writes it)")
					if err != nil {
						return err
					}
					if text, err = producer.ReadAuditKey(b); err != nil {
						return cli.Hint(err, "give the audit.pub of the vault ('kesrotate ceremony export' writes it)", "nothing was changed")
					}
				}
				ch.AuditKey = &text
			}
			if ch == (producer.Change{}) {
				return printConfig(g, a)
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			changes, err := a.Reconfigure(ch, now)
			switch {
			case errors.Is(err, producer.ErrConfig):
				return cli.Hint(err, "'kesrotate-agent config --help' lists the flag of each setting", "nothing was changed")
			case errors.Is(err, producer.ErrLocked):
				return cli.Hint(err, "wait for the install or rollback to finish", "nothing was changed")
			case err != nil && changes == nil:
				return cli.Hint(err, "nothing was changed")
			case err != nil:
				return cli.Hint(err, "the settings were saved; run 'kesrotate-agent check'")
			}
			if g.env.JSON {
				return g.env.PrintJSON(configOutput{Config: a.Config, Changes: nonNil(changes)})
			}
			if len(changes) == 0 {
				fmt.Fprintln(g.env.Stdout, "nothing to change")
				return nil
			}
			for _, c := range changes {
				fmt.Fprintf(g.env.Stdout, "%s: %s → %s\n", c.Setting, orNone(c.From), orNone(c.To))
			}
			fmt.Fprintln(g.env.Stdout, "next: 'kesrotate-agent check' tells whether the node answers as install needs")
			return nil
		},
	}
	f := c.Flags()
	addString := func(fs *pflag.FlagSet, name, usage string) {
		v := new(string)
		str[name] = v
		fs.StringVar(v, name, "", usage)
	}
	addString(f, "socket", "cardano-node's socket, for chain queries")
	addString(f, "metrics-url", "cardano-node's Prometheus URL, to confirm reloads")
	addString(f, "node-log", "cardano-node's log file, or journald[:UNIT] for the systemd journal, to confirm reloads")
	addString(f, "node-config", "cardano-node's configuration file, for 'check'")
	addString(f, "link-mode", "how the node's paths reach the active set: relative, absolute or copy")
	addString(f, "group", "install credentials 0640 with this group (\"\" for 0600)")
	addString(f, "name", "this producer's name")
	f.StringVar(&auditKeyFile, "audit-key", "", "the vault's audit.pub: checkpoints that arrive in bundles must be signed by it")
	sig.add(c)
	users.add(c)
	return c
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func printConfig(g *globals, a *producer.Agent) error {
	c := a.Config
	if g.env.JSON {
		return g.env.PrintJSON(configOutput{Config: c, Changes: []producer.Changed{}})
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "producer %s for pool %s on %s\n", c.Name, c.PoolID, a.Network.Name)
	for _, kv := range [][2]string{
		{"kes key", c.KESKey}, {"vrf key", c.VRFKey}, {"cert", c.Cert}, {"link mode", a.LinkMode()},
		{"group", c.Group}, {"signal", c.Signal.String()}, {"socket", c.Socket}, {"metrics url", c.MetricsURL},
		{"node log", c.NodeLog}, {"node config", c.NodeConfig}, {"kes-agent", c.KESAgentSocket},
		{"mithril", c.MithrilSigner}, {"mithril url", c.MithrilMetrics}, {"mithril env", c.MithrilEnvFile},
	} {
		fmt.Fprintf(w, "  %-12s %s\n", kv[0], orNone(kv[1]))
	}
	return nil
}
