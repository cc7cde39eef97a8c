package producer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A node in a container sees its own file system: an absolute symlink into
// the agent folder on the host dangles there, and on the next SIGHUP the
// node disables forging (a missing file). The agent checks, before it
// signals, that the node finds the new set's files at its credential
// paths, looking through /proc/PID/root the way the node's own lookups go:
// every symlink is resolved inside the node's root, never the agent's.

// ErrNodeCannotSee: in the node's own file-system view a credential path
// does not lead to the file the agent installed.
var ErrNodeCannotSee = errors.New("the node cannot see the installed credentials")

// ProcRoot is where the kernel's process table is mounted. Tests point
// Agent.ProcRoot elsewhere.
const ProcRoot = "/proc"

func (a *Agent) procRoot() string {
	if a.ProcRoot != "" {
		return a.ProcRoot
	}
	return ProcRoot
}

// The node's credential flags (cardano-node's command line).
var credentialFlags = [3]string{"--shelley-kes-key", "--shelley-vrf-key", "--shelley-operational-certificate"}

// nodeArgs returns the node's own paths for its credentials by flag, from
// its command line (in its view); a flag not given is missing.
func nodeArgs(procRoot string, pid int) (map[string]string, error) {
	out := map[string]string{}
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return out, err
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	for i, a := range args {
		for _, flag := range credentialFlags {
			switch {
			case a == flag && i+1 < len(args):
				out[flag] = args[i+1]
			case strings.HasPrefix(a, flag+"="):
				out[flag] = strings.TrimPrefix(a, flag+"=")
			}
		}
	}
	return out, nil
}

// resolveIn resolves path as a process whose root is root would: each
// symlink is read and followed inside root (an absolute target starts
// again at root, ".." stops at root). It returns the host path of what
// path names there.
func resolveIn(root, path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%s is not absolute", path)
	}
	rest := strings.Split(strings.TrimPrefix(filepath.Clean(path), "/"), "/")
	var done []string // resolved components below root
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		host := filepath.Join(append([]string{root}, append(done, c)...)...)
		fi, err := os.Lstat(host)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("too many levels of symbolic links at %s", path)
		}
		t, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(t) {
			done = nil
		}
		rest = append(strings.Split(strings.TrimPrefix(t, "/"), "/"), rest...)
	}
	return filepath.Join(append([]string{root}, done...)...), nil
}

// Sight is what the node sees at one of its credential paths.
type Sight struct {
	NodePath string // the path as the node names it
	Sees     bool   // it leads to the file the agent means
	Detail   string
}

// NodeSees checks, for the node process pid, that each of its credential
// paths leads in its own view to the file the agent's path leads to on
// this host (the active set's file). Paths the node's command line does
// not name are taken to be the configured ones. It reports an error
// (not a Sight) when the view cannot be inspected at all, for example
// when the node runs as another user.
func (a *Agent) NodeSees(pid int) ([]Sight, error) {
	root := filepath.Join(a.procRoot(), strconv.Itoa(pid), "root")
	if _, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("cannot look into the node's file system view: %w", err)
	}
	theirs, err := nodeArgs(a.procRoot(), pid)
	if err != nil {
		return nil, fmt.Errorf("cannot read the node's command line: %w", err)
	}
	var out []Sight
	for _, p := range a.nodePaths() {
		np := theirs[p.flag]
		if np == "" {
			np = p.path
		}
		s := Sight{NodePath: np}
		want, err := os.Stat(p.path)
		if err != nil {
			s.Detail = fmt.Sprintf("%s does not lead to a file on this host either: %v", p.path, err)
			out = append(out, s)
			continue
		}
		if !filepath.IsAbs(np) {
			s.Sees, s.Detail = true, "relative path: not checked"
			out = append(out, s)
			continue
		}
		host, err := resolveIn(root, np)
		if err != nil {
			s.Detail = fmt.Sprintf("in the node's view %s leads nowhere (%v)", np, unwrapPathError(err))
			out = append(out, s)
			continue
		}
		got, err := os.Stat(host)
		switch {
		case err != nil:
			s.Detail = fmt.Sprintf("in the node's view %s leads nowhere (%v)", np, unwrapPathError(err))
		case !os.SameFile(got, want):
			s.Detail = fmt.Sprintf("in the node's view %s is another file than %s", np, p.path)
		default:
			s.Sees = true
		}
		out = append(out, s)
	}
	return out, nil
}

// CheckNodeSees turns NodeSees into one error (ErrNodeCannotSee) naming
// every path the node cannot see. A view that cannot be inspected is not
// an error: the caller says so.
func (a *Agent) CheckNodeSees(pid int) (checked bool, err error) {
	sights, err := a.NodeSees(pid)
	if err != nil {
		return false, nil
	}
	var bad []string
	for _, s := range sights {
		if !s.Sees {
			bad = append(bad, s.Detail)
		}
	}
	if len(bad) > 0 {
		return true, fmt.Errorf("%w (pid %d): %s", ErrNodeCannotSee, pid, strings.Join(bad, "; "))
	}
	return true, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
