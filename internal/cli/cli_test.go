package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
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

// usageTree is a root with a group and a command that has a required
// flag, a flag group and an argument count; its RunE returns runErr.
func usageTree(runErr error) *cobra.Command {
	root := &cobra.Command{Use: "prog"}
	group := &cobra.Command{Use: "group"}
	cmd := &cobra.Command{Use: "do ARG", Args: cobra.ExactArgs(1),
		RunE: func(*cobra.Command, []string) error { return runErr }}
	cmd.Flags().String("out", "", "")
	cmd.Flags().Bool("a", false, "")
	cmd.Flags().Bool("b", false, "")
	_ = cmd.MarkFlagRequired("out")
	cmd.MarkFlagsMutuallyExclusive("a", "b")
	group.AddCommand(cmd)
	root.AddCommand(group)
	return root
}

// The exit code and hint come from where an error arose, not from its
// text: a command's own error that says "invalid argument" (EINVAL from an
// fsync) or "accepts " is exit 1 without a --help hint; cobra's usage
// errors are exit 2 with one.
func TestRunUsageByOrigin(t *testing.T) {
	tests := []struct {
		name   string
		runErr error
		args   []string
		want   int
	}{
		{"EINVAL from the command", fmt.Errorf("sync /vault: %w", syscall.EINVAL), []string{"group", "do", "x", "--out", "o"}, ExitError},
		{"text with accepts", errors.New("the chain accepts counter 5 only"), []string{"group", "do", "x", "--out", "o"}, ExitError},
		{"text with required flag", errors.New("required flag of the node not set"), []string{"group", "do", "x", "--out", "o"}, ExitError},
		{"unknown flag", nil, []string{"group", "do", "x", "--out", "o", "--nope"}, ExitUsage},
		{"bad flag value", nil, []string{"group", "do", "x", "--out", "o", "--a=maybe"}, ExitUsage},
		{"missing required flag", nil, []string{"group", "do", "x"}, ExitUsage},
		{"too many args", nil, []string{"group", "do", "x", "y", "--out", "o"}, ExitUsage},
		{"no args", nil, []string{"group", "do", "--out", "o"}, ExitUsage},
		{"unknown subcommand", nil, []string{"group", "dont"}, ExitUsage},
		{"unknown command", nil, []string{"nope"}, ExitUsage},
		{"flag group conflict", nil, []string{"group", "do", "x", "--out", "o", "--a", "--b"}, ExitUsage},
		{"ok", nil, []string{"group", "do", "x", "--out", "o"}, ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := NewEnv("prog", strings.NewReader(""), &out, &errb)
			got := Run(env, usageTree(tt.runErr), tt.args)
			if got != tt.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", got, tt.want, errb.String())
			}
			hinted := strings.Contains(errb.String(), "prog: hint: ") && strings.Contains(errb.String(), "--help")
			hinted = hinted || strings.Contains(errb.String(), "prog: hint: usage: ")
			if hinted != (tt.want == ExitUsage) {
				t.Errorf("exit %d with stderr:\n%s\nwant a usage hint only with exit 2", got, errb.String())
			}
		})
	}
}
