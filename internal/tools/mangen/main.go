// Command mangen writes the man pages of kesrotate and kesrotate-agent from
// their cobra command trees: one page per command, named after the command
// path (kesrotate.1, kesrotate-pool-new.1, kesrotate-agent-install.1, …).
//
//	go run ./internal/tools/mangen -out docs/man
//
// The pages are deterministic: no date, no version and no "auto generated"
// footer, so that the same tree always gives the same bytes and the test in
// this folder can tell when docs/man is stale (make man regenerates it).
// Pages in the folder that no command produces any more are removed.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/cli/agent"
	"github.com/kesrotate/kesrotate/internal/cli/cold"
)

func main() {
	out := flag.String("out", "docs/man", "folder to write the man pages to")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "mangen: error: no arguments expected; usage: mangen [-out DIR]")
		os.Exit(2)
	}
	n, err := write(*out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mangen: error: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "mangen: wrote %d pages to %s\n", n, *out)
}

// roots returns the two command trees as the binaries build them, with the
// agent's default completion command and both --version flags added
// (cobra adds them only when a command runs) so that the pages show them.
func roots() []*cobra.Command {
	env := cli.NewEnv("kesrotate", strings.NewReader(""), io.Discard, io.Discard)
	coldRoot := cold.NewRoot(env)
	aenv := cli.NewEnv("kesrotate-agent", strings.NewReader(""), io.Discard, io.Discard)
	agentRoot := agent.NewRoot(aenv)
	agentRoot.InitDefaultCompletionCmd()
	for _, r := range []*cobra.Command{coldRoot, agentRoot} {
		r.InitDefaultVersionFlag()
	}
	return []*cobra.Command{coldRoot, agentRoot}
}

// fixedDate only satisfies cobra's header; render drops it from the page.
var fixedDate = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// thLine is the title line md2man renders: .TH "TITLE" "1" "DATE" "SOURCE" "MANUAL".
var thLine = regexp.MustCompile(`(?m)^(\.TH "[^"]*" "[^"]*" )"[^"]*"`)

// render returns every page of both trees, keyed by file name.
func render() (map[string][]byte, error) {
	pages := make(map[string][]byte)
	for _, root := range roots() {
		var walk func(c *cobra.Command) error
		walk = func(c *cobra.Command) error {
			c.DisableAutoGenTag = true
			for _, sub := range c.Commands() {
				if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
					continue
				}
				if err := walk(sub); err != nil {
					return err
				}
			}
			name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
			if _, dup := pages[name]; dup {
				return fmt.Errorf("two commands would write %s", name)
			}
			d := fixedDate
			hdr := &doc.GenManHeader{Section: "1", Date: &d, Source: root.Name(), Manual: root.Name() + " manual"}
			var buf bytes.Buffer
			if err := doc.GenMan(c, hdr, &buf); err != nil {
				return fmt.Errorf("render %s: %w", name, err)
			}
			page := thLine.ReplaceAll(buf.Bytes(), []byte(`${1}""`))
			if bytes.Equal(page, buf.Bytes()) {
				return fmt.Errorf("render %s: no .TH title line to take the date out of", name)
			}
			pages[name] = page
			return nil
		}
		if err := walk(root); err != nil {
			return nil, err
		}
	}
	return pages, nil
}

// write renders the pages into dir, creating it if needed, and removes the
// *.1 files there that no command produces any more. It returns how many
// pages it wrote.
func write(dir string) (int, error) {
	pages, err := render()
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		return 0, err
	}
	for _, p := range old {
		if _, ok := pages[filepath.Base(p)]; !ok {
			if err := os.Remove(p); err != nil {
				return 0, err
			}
		}
	}
	for _, name := range sortedNames(pages) {
		if err := os.WriteFile(filepath.Join(dir, name), pages[name], 0o644); err != nil {
			return 0, err
		}
	}
	return len(pages), nil
}

// stale compares dir with freshly rendered pages and returns the names of
// the pages that differ, are missing or should not be there, sorted.
func stale(dir string) ([]string, error) {
	pages, err := render()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range sortedNames(pages) {
		got, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case errors.Is(err, os.ErrNotExist):
			out = append(out, name+" (missing)")
		case err != nil:
			return nil, err
		case !bytes.Equal(got, pages[name]):
			out = append(out, name+" (differs)")
		}
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		return nil, err
	}
	for _, p := range old {
		if _, ok := pages[filepath.Base(p)]; !ok {
			out = append(out, filepath.Base(p)+" (no such command)")
		}
	}
	sort.Strings(out)
	return out, nil
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
