package cold

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
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

// TestEveryCommandDeclaresItsJSON: every command a user can run prints
// one declared type with --json, and every declaration is of a command
// that exists.
func TestEveryCommandDeclaresItsJSON(t *testing.T) {
	env := cli.NewEnv("kesrotate", strings.NewReader(""), io.Discard, io.Discard)
	leaves := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		if !c.HasSubCommands() && c.Runnable() {
			leaves[c.CommandPath()] = true
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRoot(env))
	if len(leaves) < 20 {
		t.Fatalf("found %d commands, want them all: %v", len(leaves), leaves)
	}
	for cmd := range leaves {
		if _, ok := outputs[cmd]; !ok {
			t.Errorf("%q declares no --json output in outputs.go", cmd)
		}
	}
	for cmd := range outputs {
		if !leaves[cmd] {
			t.Errorf("outputs.go declares %q, which is not a command", cmd)
		}
	}
}
