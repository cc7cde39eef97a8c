// Command kesrotate-testnode runs the test node (package testnode) as a
// process, standing in for cardano-node in end-to-end tests and demos. It
// models cardano-node 10.5.3, 10.6.4 or 11.0.1 (--node-version 10.5, 10.6,
// 11.0; default 11.0). Its flags mimic cardano-node's where they exist:
//
//	kesrotate-testnode [--shelley-kes-key P --shelley-vrf-key P \
//	    --shelley-operational-certificate P] [--topology F] [--socket-path P] \
//	    [--node-version 10.5|10.6|11.0] \
//	    [--network mainnet|preprod|preview | --genesis shelley-genesis.json] \
//	    [--metrics 127.0.0.1:0 [--metrics-addr-file F] [--metrics-nosuffix]] \
//	    [--tracing new|legacy] [--log-format human|json|legacy] [--log-file F] \
//	    [--severity SEV] [--trace-option NAMESPACE=SEV ...] \
//	    [--tip-slot S | --now RFC3339 | --tip-lag DURATION] [--era NAME] \
//	    [--onchain-counter POOLID=N ...] [--filler-pools N] \
//	    [--start-as-non-producing-node] [--replaying] [--reject-reload] \
//	    [--allow-missing-credentials] [--host NAME] [--pid-file F]
//
// Without the three credential flags it is a relay: no block forging at
// all. --topology is the P2P topology file, read at start (a file the
// node refuses stops it) and on each SIGHUP. Without --tip-slot or --now
// the tip follows the wall clock, --tip-lag
// behind it. --tracing picks the tracing system (default: the release's
// shipped config, legacy on 10.5 and new from 10.6), which sets both the
// log line format and the metrics format; --severity and --trace-option
// filter the log as the node's config does, on top of the shipped
// options (root Notice for new tracing, Info for legacy).
//
// Signals: SIGHUP re-reads the credentials and then the topology with
// cardano-node's rules (a topology file refused on SIGHUP prints the
// node's error on stderr and keeps the old topology);
// SIGUSR1 rotates the --log-file behind its path (path.1, path.2, …), as
// logrotate would; SIGINT and SIGTERM stop it. Log lines go to stdout
// unless --log-file is given. The pid file is written last, once the
// socket and metrics endpoint are listening: its presence means ready
// (with --replaying there is no socket: the node stays in its ledger
// replay). Exit codes: 0 stopped by a signal, 1 refused to start (the
// node's own message on stderr), 2 usage.
package main

import (
	"os"

	"github.com/kesrotate/kesrotate/internal/testnode"
)

func main() {
	os.Exit(testnode.Main(os.Args[1:], os.Stdout, os.Stderr))
}
