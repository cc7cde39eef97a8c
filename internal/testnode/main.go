// The kesrotate-testnode command line.

package testnode

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

type counters map[keys.PoolID]uint64

func (c counters) String() string { return fmt.Sprint(map[keys.PoolID]uint64(c)) }

func (c counters) Set(s string) error {
	id, n, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want POOLID=N, got %q", s)
	}
	pool, err := keys.ParsePoolID(id)
	if err != nil {
		return err
	}
	v, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return fmt.Errorf("counter %q: %w", n, err)
	}
	c[pool] = v
	return nil
}

type traceOptions map[string]string

func (o traceOptions) String() string { return fmt.Sprint(map[string]string(o)) }

func (o traceOptions) Set(s string) error {
	ns, sev, ok := strings.Cut(s, "=")
	if !ok || ns == "" {
		return fmt.Errorf("want NAMESPACE=SEVERITY, got %q", s)
	}
	if _, err := ParseSeverity(sev); err != nil {
		return err
	}
	o[ns] = sev
	return nil
}

// Main runs the test node as the kesrotate-testnode command does, with
// cardano-node's flags (see the command's documentation), and returns the
// exit code: 0 stopped by a signal, 1 refused to start, 2 usage.
func Main(args []string, stdout, stderr io.Writer) int {
	const name = "kesrotate-testnode"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg         Config
		network     = fs.String("network", "mainnet", "mainnet, preprod or preview")
		genesis     = fs.String("genesis", "", "shelley genesis file (instead of --network)")
		tipSlot     = fs.Uint64("tip-slot", 0, "fixed chain tip slot")
		now         = fs.String("now", "", "fixed time (RFC 3339) whose slot is the chain tip")
		addrFile    = fs.String("metrics-addr-file", "", "write the bound metrics host:port here")
		pidFile     = fs.String("pid-file", "", "write the process id here once ready")
		onchain     = counters{}
		options     = traceOptions{}
		tipSlotSeen bool
	)
	fs.StringVar(&cfg.KESKeyPath, "shelley-kes-key", "", "KES signing key file (the three credential flags: all or none, none is a relay)")
	fs.StringVar(&cfg.KESAgentSocket, "shelley-kes-agent-socket", "", "a KES agent's service socket, instead of --shelley-kes-key (node 11.0 only: KES agents came with 10.7.1)")
	fs.StringVar(&cfg.VRFKeyPath, "shelley-vrf-key", "", "VRF signing key file")
	fs.StringVar(&cfg.CertPath, "shelley-operational-certificate", "", "operational certificate file")
	fs.StringVar(&cfg.TopologyFile, "topology", "", "P2P topology file, read at start and on SIGHUP")
	fs.StringVar(&cfg.SocketPath, "socket-path", "", "node-to-client unix socket")
	defaultVersion := DefaultVersion
	if v := os.Getenv("KESROTATE_TESTNODE_VERSION"); v != "" {
		defaultVersion = v // scripts that run a documented command line once per version
	}
	fs.StringVar(&cfg.NodeVersion, "node-version", defaultVersion, "modelled cardano-node release: "+strings.Join(Versions, ", ")+" (default $KESROTATE_TESTNODE_VERSION, else "+DefaultVersion+")")
	fs.StringVar(&cfg.MetricsAddr, "metrics", "", "Prometheus listen address, such as 127.0.0.1:12798 or 127.0.0.1:0")
	fs.BoolVar(&cfg.MetricsNoSuffix, "metrics-nosuffix", false, "new tracing: metric names without the _int suffix")
	fs.StringVar(&cfg.Tracing, "tracing", "", "tracing system, new or legacy (default: the version's shipped config: legacy on 10.5, new from 10.6)")
	fs.StringVar(&cfg.LogFormat, "log-format", "", "human or json (new tracing), legacy (legacy tracing)")
	fs.StringVar(&cfg.LogFile, "log-file", "", "append log lines to this file instead of stdout (SIGUSR1 rotates it)")
	fs.StringVar(&cfg.Severity, "severity", "", "root severity (default: the shipped config's, Notice for new tracing, Info for legacy)")
	fs.Var(options, "trace-option", "NAMESPACE=SEVERITY on top of the shipped config, such as Startup.BlockForgingUpdate=Info (repeatable)")
	fs.IntVar(&cfg.FillerPools, "filler-pools", 0, "other pools in the op-cert counters map (a mainnet ledger holds thousands)")
	fs.StringVar(&cfg.Era, "era", "", "the ledger's era (default Conway; Byron is a node syncing from genesis)")
	fs.DurationVar(&cfg.TipLag, "tip-lag", 0, "the tip trails the clock by this much, as on a node still syncing")
	fs.BoolVar(&cfg.Replaying, "replaying", false, "stay in the ledger replay: no socket, SIGHUP is not effective")
	fs.BoolVar(&cfg.StartNonProducing, "start-as-non-producing-node", false, "read the credentials but do not forge until a SIGHUP")
	fs.BoolVar(&cfg.AllowMissingCredentials, "allow-missing-credentials", false, "start with forging disabled when a credential file is missing (the real node refuses)")
	fs.BoolVar(&cfg.RejectReload, "reject-reload", false, "fail every SIGHUP reload as a node that cannot read the KES key file, keeping the old set")
	fs.BoolVar(&cfg.Replaying, "reload-not-effective", false, "same as --replaying (deprecated)")
	fs.StringVar(&cfg.Host, "host", "testnode", "host name in log lines")
	fs.Var(onchain, "onchain-counter", "POOLID=N: the chain's op cert counter for a pool (hex or bech32 id; repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fs.Visit(func(f *flag.Flag) { tipSlotSeen = tipSlotSeen || f.Name == "tip-slot" })
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "%s: error: %s\n", name, msg)
		return 2
	}
	if fs.NArg() > 0 {
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if tipSlotSeen && *now != "" {
		return usage("--tip-slot and --now exclude each other")
	}
	if cfg.TipLag != 0 && (tipSlotSeen || *now != "") {
		return usage("--tip-lag needs a tip that follows the clock (no --tip-slot or --now)")
	}

	var err error
	if *genesis != "" {
		data, rerr := os.ReadFile(*genesis)
		if rerr != nil {
			return usage(rerr.Error())
		}
		cfg.Network, err = opcert.ParseGenesis(data)
		cfg.GenesisJSON = data
	} else {
		cfg.Network, err = opcert.NetworkByName(*network)
	}
	if err != nil {
		return usage(err.Error())
	}
	switch {
	case tipSlotSeen:
		cfg.TipSlot = *tipSlot
	case *now != "":
		t, perr := time.Parse(time.RFC3339, *now)
		if perr != nil {
			return usage(fmt.Sprintf("--now: %v", perr))
		}
		if cfg.TipSlot, err = cfg.Network.SlotAt(t); err != nil {
			return usage(err.Error())
		}
	default:
		cfg.Clock = time.Now
	}
	cfg.OnChain = onchain
	cfg.TraceOptions = options
	cfg.Log = stdout
	cfg.Stderr = stderr

	// Signals are caught before the node is up so that an early SIGHUP is
	// not fatal.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	node, err := Start(context.Background(), cfg)
	if err != nil {
		if errors.Is(err, ErrConfig) {
			return usage(err.Error())
		}
		// The node's own message, as GHC prints an uncaught exception:
		// "<program>: <displayException>".
		fmt.Fprintf(stderr, "%s: %s\n", name, nodeMessage(err))
		return 1
	}
	defer func() { _ = node.Close() }()
	if *addrFile != "" {
		if err := safefile.Replace(*addrFile, []byte(node.MetricsAddr()+"\n"), 0o644); err != nil {
			fmt.Fprintf(stderr, "%s: error: %v\n", name, err)
			return 1
		}
	}
	if *pidFile != "" {
		if err := safefile.Replace(*pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			fmt.Fprintf(stderr, "%s: error: %v\n", name, err)
			return 1
		}
		defer func() { _ = os.Remove(*pidFile) }()
	}
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			_, _ = node.Reload() // traced in the log
		case syscall.SIGUSR1:
			if err := node.RotateLog(); err != nil {
				fmt.Fprintf(stderr, "%s: error: %v\n", name, err)
			}
		default:
			return 0
		}
	}
	return 0
}

// nodeMessage strips the test node's sentinel from a start error, leaving
// the text the node prints.
func nodeMessage(err error) string {
	var cerr *credError
	if errors.As(err, &cerr) {
		return cerr.pretty()
	}
	var terr *topologyError
	if errors.As(err, &terr) {
		return terr.show()
	}
	msg := err.Error()
	for _, s := range []error{ErrMissingCredential, ErrVRFPermissions} {
		msg = strings.TrimPrefix(msg, s.Error()+": ")
	}
	return msg
}
