// Command kesrotate-agent is the online half of kesrotate: it runs on the
// block producer and installs the bundles the cold machine sends.
package main

import (
	"os"

	"github.com/kesrotate/kesrotate/internal/cli/agent"
)

func main() {
	os.Exit(agent.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
