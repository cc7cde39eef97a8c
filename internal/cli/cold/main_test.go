package cold

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kesrotate/kesrotate/internal/scripttest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kesrotate": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the end-to-end command-line tests in testdata/*.txtar.
// $VECTORS is ../shared/testvectors.
func TestScripts(t *testing.T) {
	p := scripttest.Params(t, "testdata")
	p.Cmds["jsonshape"] = scripttest.JSONShape(outputs)
	testscript.Run(t, p)
}

// TestJSONOutputs: every declared --json output is documented, key by key,
// in docs/formats.md.
func TestJSONOutputs(t *testing.T) {
	scripttest.CheckOutputs(t, outputs, "../../../docs/formats.md")
}
