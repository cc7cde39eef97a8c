package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/producer"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

type initOptions struct {
	network, genesis, coldVKey string
	kesKey, vrfKey, cert       string
	sig                        signalFlags
	socket, metricsURL, group  string
	name, nodeLog, nodeConfig  string
	linkMode, role             string
	hwRecipient, hwIdentity    string
	keyUsers                   keyUserFlags
}

func newInitCmd(g *globals) *cobra.Command {
	o := &initOptions{}
	c := &cobra.Command{
		Use:   "init --network N --cold-vkey F (--kes-skey P | --kes-agent-socket S) --vrf-skey P --cert P [--pid-file F | --systemd-unit U | --no-signal]",
		Short: "Create the producer identity and record where the node reads its credentials",
		Long: `Create the producer's age identity (bundles are encrypted to it) and its
snapshot-signing key, and record the three paths cardano-node reads its
credentials from and how to signal it.

Start cardano-node with exactly these paths:
  --shelley-kes-key P --shelley-vrf-key P --shelley-operational-certificate P

With --kes-agent-socket the node takes its KES key from IOG's kes-agent
(cardano-node 10.7.1+): start it with --shelley-kes-agent-socket (kes-agent's
service socket) instead of --shelley-kes-key; the agent drives kes-agent
through its control socket with kes-agent-control, and no KES signing key
is ever written here.

With --mithril-signer UNIT the agent restarts the Mithril signer after every
confirmed install and waits for it to register again (--mithril-metrics, or
its journal).

A --socket that answers for another network is refused before anything is
created. Then init runs the checks of 'kesrotate-agent check' — socket,
metrics, log, the node's configuration (--node-config), signalling, and
whether the node can see the files the agent links — and prints the exact
configuration lines to add where confirmation would be blind. Settings can
be changed later with 'kesrotate-agent config'.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error { return runInit(g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.genesis, "genesis", "", "shelley genesis of a custom network")
	cli.NetworkFlags(c, &o.network, "mainnet, preprod or preview")
	f.StringVar(&o.coldVKey, "cold-vkey", "", "the pool's cold.vkey (from 'kesrotate pool export-public')")
	f.StringVar(&o.kesKey, "kes-skey", "", "path cardano-node reads the KES skey from (--shelley-kes-key)")
	f.StringVar(&o.vrfKey, "vrf-skey", "", "path cardano-node reads the VRF skey from (--shelley-vrf-key)")
	f.StringVar(&o.cert, "cert", "", "path cardano-node reads the op cert from (--shelley-operational-certificate)")
	o.sig.add(c)
	f.StringVar(&o.socket, "socket", "", "cardano-node's socket, for chain queries")
	f.StringVar(&o.metricsURL, "metrics-url", "", "cardano-node's Prometheus URL, to confirm reloads")
	f.StringVar(&o.nodeLog, "node-log", "", "cardano-node's log file, or journald[:UNIT] for the systemd journal, to confirm reloads")
	f.StringVar(&o.nodeConfig, "node-config", "", "cardano-node's configuration file, to check it logs what confirmation needs")
	f.StringVar(&o.role, "role", producer.RolePrimary, "primary, or standby: a standby stages every bundle and never makes its node forge until 'promote'")
	f.StringVar(&o.linkMode, "link-mode", producer.LinkRelative, "how the node's paths reach the active set: relative, absolute or copy (for a node in a container that cannot see this folder)")
	f.StringVar(&o.group, "group", "", "install credentials 0640 with this group (default 0600)")
	f.StringVar(&o.name, "name", "", "a name for this producer (default the host name)")
	f.StringVar(&o.hwRecipient, "hardware-recipient", "", "an age1tag1… recipient whose key is held in hardware, instead of an X25519 identity")
	f.StringVar(&o.hwIdentity, "hardware-identity-file", "", "the age plugin identity file (AGE-PLUGIN-…) for --hardware-recipient")
	c.MarkFlagsRequiredTogether("hardware-recipient", "hardware-identity-file")
	o.keyUsers.add(c)
	c.MarkFlagsMutuallyExclusive("kes-skey", "kes-agent-socket")
	return c
}

func runInit(g *globals, o *initOptions) error {
	dir, err := g.agentDir()
	if err != nil {
		return err
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	if o.network == "" && o.genesis == "" {
		return cli.Usage(errors.New("init needs a network"), "pass --network mainnet|preprod|preview or --genesis FILE")
	}
	if o.coldVKey == "" || (o.kesKey == "" && o.keyUsers.kesAgentSocket == "") || o.vrfKey == "" || o.cert == "" {
		return cli.Usage(errors.New("init needs --cold-vkey, --kes-skey (or --kes-agent-socket), --vrf-skey and --cert"),
			"the paths are the ones cardano-node is started with; with kes-agent give its control socket instead of --kes-skey")
	}
	sig := o.sig.signal()
	if sig == nil {
		return cli.Usage(errors.New("say how to signal cardano-node"), "pass --pid-file F, --systemd-unit U, --match-process or --no-signal")
	}
	opts := producer.InitOptions{Now: now, Rand: g.env.Rand, ProbeSocket: 10 * time.Second, Config: producer.Config{
		Name: o.name, Network: o.network, KESKey: o.kesKey, VRFKey: o.vrfKey, Cert: o.cert, Signal: *sig,
		Socket: o.socket, MetricsURL: o.metricsURL, NodeLog: o.nodeLog, NodeConfig: o.nodeConfig, Group: o.group, LinkMode: o.linkMode, Role: o.role,
		KESAgentSocket: o.keyUsers.kesAgentSocket, MithrilSigner: o.keyUsers.mithrilSigner,
		MithrilMetrics: o.keyUsers.mithrilMetrics, MithrilEnvFile: o.keyUsers.mithrilEnvFile,
	}}
	if opts.ColdVKey, err = cli.ReadInput(o.coldVKey, "--cold-vkey", "export it on the cold machine: 'kesrotate pool export-public NAME --out DIR'"); err != nil {
		return err
	}
	if o.hwRecipient != "" {
		b, err := cli.ReadInput(o.hwIdentity, "--hardware-identity-file", "give the identity file your age plugin wrote (age-plugin-yubikey --identity)")
		if err != nil {
			return err
		}
		opts.HardwareIdentityFile, opts.HardwareRecipient = b, o.hwRecipient
	}
	if o.genesis != "" {
		if opts.Genesis, err = cli.ReadInput(o.genesis, "--genesis", "--genesis takes the network's shelley-genesis.json"); err != nil {
			return err
		}
	}
	a, err := producer.Init(dir, opts)
	switch {
	case errors.Is(err, producer.ErrHardwareIdentity):
		return cli.Hint(err, "give the identity file your age plugin wrote for --hardware-recipient, holding that one identity (age-plugin-yubikey --identity --slot N)", "nothing was created")
	case errors.Is(err, producer.ErrAgentExists):
		return cli.Hint(err, "an agent folder is never re-initialised; use another --dir")
	case errors.Is(err, nodequery.ErrNetworkMismatch):
		return cli.Hint(err, "is --socket this pool's node, and --network the network it runs?", "nothing was created")
	case errors.Is(err, keys.ErrType), errors.Is(err, keys.ErrEnvelope), errors.Is(err, keys.ErrSize):
		return cli.Hint(fmt.Errorf("--cold-vkey: %w", err), "give the pool's cold.vkey (StakePoolVerificationKey_ed25519)")
	case err != nil:
		return cli.Hint(err, "nothing was created")
	}
	e, _, err := a.Enrollment()
	if err != nil {
		return err
	}
	r := a.Inspect(context.Background(), producer.InspectOptions{Now: now})
	if g.env.JSON {
		return g.env.PrintJSON(initOutput{AgentDir: dir, PoolID: a.Config.PoolID, Recipient: e.Recipient, Fingerprint: e.Fingerprint(), Check: *r})
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "producer %s set up for pool %s on %s\n", a.Config.Name, e.PoolID.Bech32(), a.Network.Name)
	fmt.Fprintf(w, "  fingerprint  %s\n", e.Fingerprint())
	fmt.Fprintf(w, "  recipient    %s\n", e.Recipient)
	if a.KESAgentMode() {
		fmt.Fprintf(w, "start cardano-node (10.7.1 or later) with:\n  --shelley-kes-agent-socket SERVICE_SOCKET \\\n  --shelley-vrf-key %s \\\n  --shelley-operational-certificate %s\n",
			a.Config.VRFKey, a.Config.Cert)
		fmt.Fprintf(w, "  where SERVICE_SOCKET is kes-agent's --service-address; the agent uses its control socket %s\n", a.Config.KESAgentSocket)
	} else {
		fmt.Fprintf(w, "start cardano-node with:\n  --shelley-kes-key %s \\\n  --shelley-vrf-key %s \\\n  --shelley-operational-certificate %s\n",
			a.Config.KESKey, a.Config.VRFKey, a.Config.Cert)
	}
	if a.Config.MithrilSigner != "" {
		fmt.Fprintf(w, "the Mithril signer (unit %s) must read these paths: KES_SECRET_KEY_PATH=%s OPERATIONAL_CERTIFICATE_PATH=%s\n",
			a.Config.MithrilSigner, a.Config.KESKey, a.Config.Cert)
	}
	fmt.Fprintf(w, "what install will rely on (run 'kesrotate-agent check' again any time):\n")
	printReport(w, r)
	fmt.Fprintf(w, "next: 'kesrotate-agent enrollment --out FILE' and carry it to the cold machine\n")
	return nil
}
