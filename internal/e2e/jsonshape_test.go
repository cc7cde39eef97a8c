package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/cli/agent"
	"github.com/kesrotate/kesrotate/internal/cli/cold"
)

// jsonOutputs are the declared --json outputs of both binaries.
func jsonOutputs() []cli.Outputs {
	return []cli.Outputs{cold.JSONOutputs(), agent.JSONOutputs()}
}

// TestEveryJSONOutputIsExercised: each command's real --json output is
// checked against its declared shape by at least one script
// ("jsonshape 'kesrotate pool new'"), so a declared type the command no
// longer prints, or prints differently, fails somewhere.
func TestEveryJSONOutputIsExercised(t *testing.T) {
	var scripts []string
	for _, dir := range []string{"testdata", "testdata/node", "../cli/cold/testdata", "../cli/agent/testdata"} {
		m, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
		if err != nil {
			t.Fatal(err)
		}
		scripts = append(scripts, m...)
	}
	checked := map[string]bool{}
	re := regexp.MustCompile(`(?m)^\s*jsonshape '([^']+)'`)
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			checked[m[1]] = true
		}
	}
	var missing []string
	for _, outs := range jsonOutputs() {
		for cmd := range outs {
			if !checked[cmd] {
				missing = append(missing, cmd)
			}
		}
	}
	sort.Strings(missing)
	for _, cmd := range missing {
		t.Errorf("no script checks the --json output of %q (add \"jsonshape '%s'\" after a --json run)", cmd, cmd)
	}
}
