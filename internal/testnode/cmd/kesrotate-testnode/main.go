// Command kesrotate-testnode runs the test node (package testnode) as a
// process, standing in for cardano-node in end-to-end tests and demos. Its
// flags mimic cardano-node's where they exist:
//
//	kesrotate-testnode --shelley-kes-key P --shelley-vrf-key P \
//	    --shelley-operational-certificate P [--socket-path P] \
//	    [--network mainnet|preprod|preview | --genesis shelley-genesis.json] \
//	    [--metrics 127.0.0.1:0 [--metrics-addr-file F] [--metrics-nosuffix]] \
//	    [--tip-slot S | --now RFC3339] [--onchain-counter POOLID=N ...] \
//	    [--start-as-non-producing-node] [--reject-reload] [--reload-not-effective] \
//	    [--pid-file F]
//
// Without --tip-slot or --now the tip follows the wall clock. SIGHUP
// re-reads the credentials with cardano-node's rules; SIGINT and SIGTERM
// stop it. Log lines go to stdout. The pid file is written last, once the
// socket and metrics endpoint are listening: its presence means ready.
// Exit codes: 0 stopped by a signal, 1 refused to start, 2 usage.
package main

import (
	"os"

	"github.com/kesrotate/kesrotate/internal/testnode"
)

func main() {
	os.Exit(testnode.Main(os.Args[1:], os.Stdout, os.Stderr))
}
