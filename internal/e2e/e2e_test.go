// Package e2e runs both binaries together: the cold side, the agent and
// the files and QR frames that cross between them.
package e2e

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kesrotate/kesrotate/internal/cli/agent"
	"github.com/kesrotate/kesrotate/internal/cli/cold"
	"github.com/kesrotate/kesrotate/internal/scripttest"
	"github.com/kesrotate/kesrotate/internal/testnode"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kesrotate":          func() { os.Exit(cold.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"kesrotate-agent":    func() { os.Exit(agent.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"kesrotate-testnode": func() { os.Exit(testnode.Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, scripttest.Params(t, "testdata"))
}

// TestNodeScripts runs every script that drives the agent against the test
// node once per modelled cardano-node version ($NODE_VERSION).
func TestNodeScripts(t *testing.T) {
	for _, v := range testnode.Versions {
		t.Run(v, func(t *testing.T) {
			p := scripttest.Params(t, "testdata/node")
			setup := p.Setup
			p.Setup = func(e *testscript.Env) error {
				e.Setenv("NODE_VERSION", v)
				return setup(e)
			}
			testscript.Run(t, p)
		})
	}
}
