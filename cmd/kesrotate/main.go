// Command kesrotate is the offline half of kesrotate: it runs on the cold
// machine and holds the pool cold keys. See docs/ and 'kesrotate --help'.
package main

import (
	"os"

	"github.com/kesrotate/kesrotate/internal/cli/cold"
)

func main() {
	os.Exit(cold.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
