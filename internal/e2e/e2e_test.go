// Package e2e runs both binaries together: the cold side, the agent and
// the files and QR frames that cross between them.
package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kesrotate/kesrotate/internal/cli/agent"
	"github.com/kesrotate/kesrotate/internal/cli/cold"
	"github.com/kesrotate/kesrotate/internal/hwdouble"
	"github.com/kesrotate/kesrotate/internal/kesagentdouble"
	"github.com/kesrotate/kesrotate/internal/mithrildouble"
	"github.com/kesrotate/kesrotate/internal/scripttest"
	"github.com/kesrotate/kesrotate/internal/systemddouble"
	"github.com/kesrotate/kesrotate/internal/testnode"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kesrotate":          func() { os.Exit(cold.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"kesrotate-agent":    func() { os.Exit(agent.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"kesrotate-testnode": func() { os.Exit(testnode.Main(os.Args[1:], os.Stdout, os.Stderr)) },
		"kes-agent":          func() { os.Exit(kesagentdouble.AgentMain(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) },
		"kes-agent-control":  func() { os.Exit(kesagentdouble.ControlMain(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) },
		"systemctl":          func() { os.Exit(systemddouble.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) },
		"mithril-signer":     func() { os.Exit(mithrildouble.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) },
		"cardano-hw-cli":     func() { os.Exit(hwdouble.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	p := scripttest.Params(t, "testdata")
	p.Cmds["jsonshape"] = scripttest.JSONShape(jsonOutputs()...)
	testscript.Run(t, p)
}

// TestNodeScripts runs every script that drives the agent against the test
// node once per modelled cardano-node version ($NODE_VERSION).
func TestNodeScripts(t *testing.T) {
	for _, v := range testnode.Versions {
		t.Run(v, func(t *testing.T) {
			p := scripttest.Params(t, "testdata/node")
			p.Cmds["jsonshape"] = scripttest.JSONShape(jsonOutputs()...)
			setup := p.Setup
			p.Setup = func(e *testscript.Env) error {
				e.Setenv("NODE_VERSION", v)
				return setup(e)
			}
			// [node:11.0]: the modelled version is 11.0.
			p.Condition = func(cond string) (bool, error) {
				if want, ok := strings.CutPrefix(cond, "node:"); ok {
					return want == v, nil
				}
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			testscript.Run(t, p)
		})
	}
}
