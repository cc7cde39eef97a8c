package agent

import (
	"os"
	"sort"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
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
	p := scripttest.Params(t, "testdata")
	p.Cmds["jsonshape"] = scripttest.JSONShape(outputs)
	testscript.Run(t, p)
}

// TestJSONOutputs: every declared --json output is documented, key by key,
// in docs/formats.md.
func TestJSONOutputs(t *testing.T) {
	scripttest.CheckOutputs(t, outputs, "../../../docs/formats.md")
}

// TestEveryCommandDeclaresJSON: each command that runs (not a group, not
// cobra's completion, not a hidden cardano-cli habit) declares the type it
// prints with --json, and nothing else is declared.
func TestEveryCommandDeclaresJSON(t *testing.T) {
	root := NewRoot(cli.NewEnv("kesrotate-agent", nil, nil, nil))
	root.InitDefaultCompletionCmd()
	var runnable []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Hidden || !c.Runnable() || c.HasSubCommands() || c.Name() == "help" {
			return
		}
		for p := c; p != nil; p = p.Parent() {
			if p.Name() == "completion" {
				return
			}
		}
		runnable = append(runnable, c.CommandPath())
	}
	walk(root)
	sort.Strings(runnable)
	if len(runnable) < 10 {
		t.Fatalf("found only %d commands: %v", len(runnable), runnable)
	}
	seen := map[string]bool{}
	for _, cmd := range runnable {
		seen[cmd] = true
		if _, ok := outputs[cmd]; !ok {
			t.Errorf("%q declares no --json output in outputs.go", cmd)
		}
	}
	for cmd := range outputs {
		if !seen[cmd] {
			t.Errorf("outputs.go declares %q, which is not a command", cmd)
		}
	}
}
