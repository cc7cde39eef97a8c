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
		tipSlotSeen bool
	)
	fs.StringVar(&cfg.KESKeyPath, "shelley-kes-key", "", "KES signing key file")
	fs.StringVar(&cfg.VRFKeyPath, "shelley-vrf-key", "", "VRF signing key file")
	fs.StringVar(&cfg.CertPath, "shelley-operational-certificate", "", "operational certificate file")
	fs.StringVar(&cfg.SocketPath, "socket-path", "", "node-to-client unix socket")
	fs.StringVar(&cfg.MetricsAddr, "metrics", "", "Prometheus listen address, such as 127.0.0.1:12798 or 127.0.0.1:0")
	fs.BoolVar(&cfg.MetricsNoSuffix, "metrics-nosuffix", false, "metric names without the _int suffix")
	fs.BoolVar(&cfg.StartNonProducing, "start-as-non-producing-node", false, "start without forging if a credential file is missing")
	fs.BoolVar(&cfg.RejectReload, "reject-reload", false, "trace every SIGHUP reload as an error and keep the old set")
	fs.BoolVar(&cfg.NotEffective, "reload-not-effective", false, "ignore SIGHUP as a node before consensus is up does")
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

	var err error
	if *genesis != "" {
		data, rerr := os.ReadFile(*genesis)
		if rerr != nil {
			return usage(rerr.Error())
		}
		cfg.Network, err = opcert.ParseGenesis(data)
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
	cfg.Log = stdout

	// Signals are caught before the node is up so that an early SIGHUP is
	// not fatal.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	node, err := Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", name, err)
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
		if sig != syscall.SIGHUP {
			return 0
		}
		_, _ = node.Reload() // traced in the log
	}
	return 0
}
