package agent

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kesrotate/kesrotate/internal/scripttest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kesrotate-agent": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the agent's own command-line tests in testdata/*.txtar
// (without a node: the end-to-end scripts with the test node are in
// internal/e2e). $VECTORS is ../shared/testvectors.
func TestScripts(t *testing.T) {
	testscript.Run(t, scripttest.Params(t, "testdata"))
}
