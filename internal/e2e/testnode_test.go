package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/opcert"
)

// testnodeMain runs the test node as the scripts' kesrotate-testnode
// command: cardano-node's three credential flags, a fixed tip, metrics,
// a pid file written once ready, SIGHUP reloads, log lines on stdout.
// (internal/testnode/cmd/kesrotate-testnode is the full binary; its main
// package cannot be registered here.)
func testnodeMain() int {
	fs := flag.NewFlagSet("kesrotate-testnode", flag.ContinueOnError)
	var cfg testnode.Config
	network := fs.String("network", "mainnet", "mainnet, preprod or preview")
	tip := fs.Uint64("tip-slot", 0, "fixed chain tip slot")
	addrFile := fs.String("metrics-addr-file", "", "write the metrics host:port here")
	pidFile := fs.String("pid-file", "", "write the pid here once ready")
	fs.StringVar(&cfg.KESKeyPath, "shelley-kes-key", "", "")
	fs.StringVar(&cfg.VRFKeyPath, "shelley-vrf-key", "", "")
	fs.StringVar(&cfg.CertPath, "shelley-operational-certificate", "", "")
	fs.StringVar(&cfg.MetricsAddr, "metrics", "", "")
	fs.BoolVar(&cfg.StartNonProducing, "start-as-non-producing-node", false, "")
	fs.BoolVar(&cfg.RejectReload, "reject-reload", false, "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	var err error
	if cfg.Network, err = opcert.NetworkByName(*network); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg.TipSlot, cfg.Log = *tip, os.Stdout
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	node, err := testnode.Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kesrotate-testnode: error: %v\n", err)
		return 1
	}
	defer func() { _ = node.Close() }()
	if *addrFile != "" {
		if err := safefile.Replace(*addrFile, []byte(node.MetricsAddr()), 0o644); err != nil {
			return 1
		}
	}
	if *pidFile != "" {
		if err := safefile.Replace(*pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return 1
		}
	}
	for sig := range sigs {
		if sig != syscall.SIGHUP {
			return 0
		}
		_, _ = node.Reload()
	}
	return 0
}
