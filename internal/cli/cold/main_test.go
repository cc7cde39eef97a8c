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
	testscript.Run(t, scripttest.Params(t, "testdata"))
}
