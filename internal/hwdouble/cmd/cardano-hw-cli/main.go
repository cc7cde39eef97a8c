// Command cardano-hw-cli is the test double of cardano-hw-cli with a
// software Ledger (package hwdouble), for rehearsals without a device.
// Never use it for a real pool: its keys come from a published mnemonic.
package main

import (
	"os"

	"github.com/kesrotate/kesrotate/internal/hwdouble"
)

func main() { os.Exit(hwdouble.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }
