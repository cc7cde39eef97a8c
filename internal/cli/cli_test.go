package cli

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func run(t *testing.T, err error) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := NewEnv("prog", strings.NewReader(""), &out, &errb)
	root := &cobra.Command{Use: "prog", RunE: func(*cobra.Command, []string) error { return err }}
	return Run(env, root, nil), errb.String()
}

// A permission refusal gets a hint wherever it came from, unless the
// command already gave one about permissions.
func TestRunPermissionHint(t *testing.T) {
	code, stderr := run(t, fmt.Errorf("--cert: %w", &fs.PathError{Op: "open", Path: "/opt/cardano/keys/node.cert", Err: fs.ErrPermission}))
	if code != ExitError || !strings.Contains(stderr, "prog: error: --cert: open /opt/cardano/keys/node.cert: permission denied\n") ||
		!strings.Contains(stderr, "prog: hint: permission denied: run as the user that owns") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	_, stderr = run(t, Hint(fmt.Errorf("x: %w", fs.ErrPermission), "set --group: the node's files need a permission for its user"))
	if strings.Count(stderr, "hint:") != 1 {
		t.Errorf("a second permission hint:\n%s", stderr)
	}
	_, stderr = run(t, fmt.Errorf("x: %w", fs.ErrNotExist))
	if strings.Contains(stderr, "permission") {
		t.Errorf("a permission hint for another error:\n%s", stderr)
	}
}
