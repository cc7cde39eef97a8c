package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/internal/cli/agent"
)

// repoRoot is the module root, three folders above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// TestManPagesCurrent is the CI check that docs/man matches the command
// trees: whoever adds or changes a command or flag regenerates the pages.
func TestManPagesCurrent(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "docs", "man")
	if _, err := os.Stat(filepath.Join(dir, "kesrotate.1")); err != nil {
		t.Fatalf("docs/man/kesrotate.1: %v; run make man", err)
	}
	bad, err := stale(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("docs/man is stale, run make man:\n  %s", strings.Join(bad, "\n  "))
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	// A page of a command that does not exist must go; other files stay.
	for name, body := range map[string]string{"kesrotate-gone.1": "old", "README": "keep"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := write(dir)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kesrotate-gone.1")); !os.IsNotExist(err) {
		t.Errorf("kesrotate-gone.1: got stat error %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README")); err != nil {
		t.Errorf("README: got %v, want it kept", err)
	}
	got, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Errorf("got %d pages on disk, want %d", len(got), n)
	}
	for _, want := range []string{
		"kesrotate.1", "kesrotate-pool-new.1", "kesrotate-rotate.1",
		"kesrotate-agent.1", "kesrotate-agent-install.1", "kesrotate-agent-completion-bash.1",
	} {
		if !slices.Contains(got, filepath.Join(dir, want)) {
			t.Errorf("no page %s", want)
		}
	}
	// The cold binary has no completion command on purpose.
	if slices.Contains(got, filepath.Join(dir, "kesrotate-completion.1")) {
		t.Error("got kesrotate-completion.1, want no completion command in the cold binary")
	}
	if bad, err := stale(dir); err != nil || len(bad) != 0 {
		t.Errorf("stale right after write: got %v, %v, want none", bad, err)
	}
}

func TestStaleNamesFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := write(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kesrotate-rotate.1"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "kesrotate-agent-status.1")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kesrotate-gone.1"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := stale(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kesrotate-agent-status.1 (missing)",
		"kesrotate-gone.1 (no such command)",
		"kesrotate-rotate.1 (differs)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestDeterministic renders twice: no date, version or clock reaches a page.
func TestDeterministic(t *testing.T) {
	a, err := render()
	if err != nil {
		t.Fatal(err)
	}
	b, err := render()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("got %d then %d pages", len(a), len(b))
	}
	for name, page := range a {
		if !bytes.Equal(page, b[name]) {
			t.Errorf("%s differs between two renders", name)
		}
		th, _, _ := bytes.Cut(page[bytes.Index(page, []byte(".TH ")):], []byte("\n"))
		if !bytes.HasSuffix(th, []byte(`"1" "" "kesrotate" "kesrotate manual"`)) &&
			!bytes.HasSuffix(th, []byte(`"1" "" "kesrotate-agent" "kesrotate-agent manual"`)) {
			t.Errorf("%s: got title line %q, want an empty date and a fixed source and manual", name, th)
		}
		if bytes.Contains(page, []byte("Auto generated")) {
			t.Errorf("%s: got cobra's dated footer", name)
		}
	}
}

// TestAgentCompletion checks that the online binary prints the shell
// completion scripts docs/producer.md tells operators to install.
func TestAgentCompletion(t *testing.T) {
	for _, tc := range []struct {
		shell string
		want  string
	}{
		{"bash", "# bash completion V2 for kesrotate-agent"},
		{"zsh", "#compdef kesrotate-agent"},
		{"fish", "# fish completion for kesrotate-agent"},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := agent.Main([]string{"completion", tc.shell}, strings.NewReader(""), &stdout, &stderr)
			if code != 0 {
				t.Fatalf("kesrotate-agent completion %s: got exit %d, want 0; stderr %q", tc.shell, code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tc.want) {
				first, _, _ := strings.Cut(stdout.String(), "\n")
				t.Errorf("got first line %q, want %q", first, tc.want)
			}
			if !strings.Contains(stdout.String(), "__complete") {
				t.Error("got a script that never calls back '__complete', want cobra's dynamic completion")
			}
		})
	}
}
